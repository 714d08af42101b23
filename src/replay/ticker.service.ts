import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EVENT_LOG, EventLog } from '../event-log/event-log';
import { LEADER_ELECTION, LeaderElection } from '../event-log/leader-election';

export const TICKER_TOPIC = 'ticker';

export interface TickerMessage {
  message: string;
}

/**
 * Publishes a message to the `ticker` topic every TICKER_INTERVAL_MS (0 turns it off). With several
 * instances on one store, only the leader ticks, so the topic gets one message per interval.
 */
@Injectable()
export class TickerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TickerService.name);
  private timer: NodeJS.Timeout | undefined;
  private count = 0;

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LEADER_ELECTION) private readonly leader: LeaderElection,
  ) {}

  onApplicationBootstrap(): void {
    const interval = this.config.streams.tickerIntervalMs;
    if (interval > 0) {
      this.timer = setInterval(() => {
        if (this.leader.isLeader()) void this.publish();
      }, interval);
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async publish(): Promise<void> {
    const n = ++this.count;
    try {
      await this.log.append<TickerMessage>({
        topic: TICKER_TOPIC,
        type: 'message',
        data: { message: `Server message #${n}` },
      });
    } catch (error) {
      this.logger.warn(`ticker message #${n} not published: ${String(error)}`);
    }
  }
}
