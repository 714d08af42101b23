import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EVENT_LOG, EventLog } from './event-log';
import { InMemoryEventLog } from './in-memory-event-log';
import { MeteredEventLog } from './metered-event-log';

/** Picks the store once, from STORE; services only ever see the EventLog port. */
export function createEventLog(config: AppConfig['store']): EventLog {
  switch (config.kind) {
    case 'memory':
      return new InMemoryEventLog(config.retention);
    case 'redis':
      throw new Error('STORE=redis: the Redis Streams adapter is not available in this build');
  }
}

@Global()
@Module({
  providers: [
    {
      // The chosen adapter behind a counting decorator; /metrics reads its counters.
      provide: MeteredEventLog,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new MeteredEventLog(createEventLog(config.store)),
    },
    { provide: EVENT_LOG, useExisting: MeteredEventLog },
  ],
  exports: [EVENT_LOG, MeteredEventLog],
})
export class EventLogModule implements OnApplicationShutdown {
  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  async onApplicationShutdown(): Promise<void> {
    await this.log.close();
  }
}
