import { Controller, Get, Header, UseFilters } from '@nestjs/common';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { DrainHealthIndicator } from './drain.health';
import { EventLogHealthIndicator } from './event-log.health';
import { HealthCheckFailedFilter } from './health-check-failed.filter';

/**
 * Probes for orchestrators and load balancers. Liveness says the process is up and serving HTTP
 * (restart it if not); readiness says it should get new traffic: not while draining for shutdown,
 * not while the event log store is unreachable.
 */
@Controller('health')
@UseFilters(HealthCheckFailedFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly drain: DrainHealthIndicator,
    private readonly eventLog: EventLogHealthIndicator,
  ) {}

  @Get('live')
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.drain.isAccepting('shutdown'),
      () => this.eventLog.isHealthy('event_log'),
    ]);
  }
}
