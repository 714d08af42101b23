import { Module } from '@nestjs/common';
import { DurableStreamsController } from './durable-streams.controller';
import { DurableStreamsService } from './durable-streams.service';

/** The Durable Streams protocol under /v1/stream/* (docs/durable-streams.md), on the event log. */
@Module({
  controllers: [DurableStreamsController],
  providers: [DurableStreamsService],
  exports: [DurableStreamsService],
})
export class DurableStreamsModule {}
