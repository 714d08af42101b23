import { Inject, Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { EVENT_LOG, EventLog } from '../event-log/event-log';

/** How long a store check may take before the store counts as unreachable. */
export const STORE_CHECK_TIMEOUT_MS = 2000;

/** Readiness of the event log store (EventLog.isHealthy()), with a timeout; logs up/down transitions once. */
@Injectable()
export class EventLogHealthIndicator {
  private readonly logger = new Logger(EventLogHealthIndicator.name);
  private lastUp = true;

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async isHealthy(key: string): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check(key);
    const healthy = await this.probe();
    if (healthy !== this.lastUp) {
      this.lastUp = healthy;
      if (healthy) this.logger.log('event log store reachable again');
      else this.logger.warn('event log store unreachable: readiness is false');
    }
    return healthy ? indicator.up() : indicator.down({ message: 'event log store unreachable' });
  }

  private async probe(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), STORE_CHECK_TIMEOUT_MS);
    });
    try {
      return await Promise.race([this.log.isHealthy().catch(() => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
