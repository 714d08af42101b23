import { Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EVENT_LOG, EventLog } from './event-log';
import { InMemoryEventLog } from './in-memory-event-log';
import { LEADER_ELECTION, LeaderElection, SingleInstanceLeader } from './leader-election';
import { MeteredEventLog } from './metered-event-log';
import { RedisLeaderElection } from './redis-leader-election';
import { RedisStreamsEventLog } from './redis-streams-event-log';

/** Key prefix of everything Rivulet keeps in Redis. */
export const REDIS_KEY_PREFIX = 'rivulet';

/** How long start-up waits for the store's live delivery before serving anyway (not ready). */
const LIVE_WAIT_MS = 3000;

/** Picks the store once, from STORE; services only ever see the EventLog port. */
export function createEventLog(config: AppConfig['store']): EventLog {
  switch (config.kind) {
    case 'memory':
      return new InMemoryEventLog(config.retention, config.maxBytes);
    case 'redis':
      return new RedisStreamsEventLog({
        url: config.redisUrl,
        retention: config.retention,
        prefix: REDIS_KEY_PREFIX,
      });
  }
}

/** Who runs singleton jobs (the ticker): chosen with the store, like the log itself. */
export function createLeaderElection(config: AppConfig['store']): LeaderElection {
  switch (config.kind) {
    case 'memory':
      return new SingleInstanceLeader();
    case 'redis':
      return new RedisLeaderElection({
        url: config.redisUrl,
        key: `${REDIS_KEY_PREFIX}:leader:ticker`,
      });
  }
}

@Module({
  providers: [
    {
      // The chosen adapter behind a counting decorator; /metrics reads its counters.
      provide: MeteredEventLog,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new MeteredEventLog(createEventLog(config.store)),
    },
    { provide: EVENT_LOG, useExisting: MeteredEventLog },
    {
      provide: LEADER_ELECTION,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createLeaderElection(config.store),
    },
  ],
  exports: [EVENT_LOG, MeteredEventLog, LEADER_ELECTION],
})
export class EventLogModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(LEADER_ELECTION) private readonly leader: LeaderElection,
  ) {}

  /** Serve only once live delivery runs, or after LIVE_WAIT_MS with the store away (readiness says so). */
  async onModuleInit(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, LIVE_WAIT_MS)));
    await Promise.race([this.log.whenLive(), timeout]);
    clearTimeout(timer);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.leader.close();
    await this.log.close();
  }
}
