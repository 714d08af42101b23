import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EVENT_LOG, EventLog } from './event-log';
import { InMemoryEventLog } from './in-memory-event-log';

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
      provide: EVENT_LOG,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => createEventLog(config.store),
    },
  ],
  exports: [EVENT_LOG],
})
export class EventLogModule implements OnApplicationShutdown {
  constructor(@Inject(EVENT_LOG) private readonly log: EventLog) {}

  async onApplicationShutdown(): Promise<void> {
    await this.log.close();
  }
}
