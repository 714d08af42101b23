import { Controller, Get, Header, UseFilters } from '@nestjs/common';
import { ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { DrainHealthIndicator } from './drain.health';
import { EventLogHealthIndicator } from './event-log.health';
import { HealthCheckFailedFilter } from './health-check-failed.filter';

/**
 * Probes for orchestrators and load balancers. Liveness says the process is up and serving HTTP
 * (restart it if not); readiness says it should get new traffic: not while draining for shutdown,
 * not while the event log store is unreachable.
 */
@ApiTags('health')
@Controller('health')
@UseFilters(HealthCheckFailedFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly drain: DrainHealthIndicator,
    private readonly eventLog: EventLogHealthIndicator,
  ) {}

  @Get('live')
  @ApiProduces('application/json')
  @ApiResponse({ status: 200, description: 'the process is up and serving HTTP' })
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiProduces('application/json')
  @ApiResponse({ status: 200, description: 'send this instance traffic' })
  @ApiResponse({
    status: 503,
    description: 'draining for shutdown, or the event store is unreachable (terminus body)',
  })
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.drain.isAccepting('shutdown'),
      () => this.eventLog.isHealthy('event_log'),
    ]);
  }
}
