import { Module } from '@nestjs/common';
import { ReplayController } from './replay.controller';
import { ReplayService } from './replay.service';
import { TickerService } from './ticker.service';

@Module({
  controllers: [ReplayController],
  providers: [ReplayService, TickerService],
  exports: [TickerService],
})
export class ReplayModule {}
