import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventLogModule } from '../event-log/event-log.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { SseModule } from '../sse/sse.module';
import { DurableStreamsController } from './durable-streams.controller';
import { DurableStreamsService } from './durable-streams.service';

/** The Durable Streams protocol under /v1/stream/* (docs/durable-streams.md), on the event log. */
@Module({
  imports: [SseModule, AuthModule, EventLogModule, LifecycleModule],
  controllers: [DurableStreamsController],
  providers: [DurableStreamsService],
  exports: [DurableStreamsService],
})
export class DurableStreamsModule {}
