import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { DrainService } from '../lifecycle/drain.service';

/** Down once this instance has started to shut down, so the load balancer stops sending it streams. */
@Injectable()
export class DrainHealthIndicator {
  constructor(
    private readonly drain: DrainService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  isAccepting(key: string): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    return this.drain.draining
      ? indicator.down({ message: 'draining: the instance is shutting down' })
      : indicator.up();
  }
}
