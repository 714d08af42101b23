import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventLogModule } from '../event-log/event-log.module';
import { SseModule } from '../sse/sse.module';
import { ReplayController } from './replay.controller';
import { ReplayService } from './replay.service';
import { TickerService } from './ticker.service';

@Module({
  imports: [SseModule, AuthModule, EventLogModule],
  controllers: [ReplayController],
  providers: [ReplayService, TickerService],
  exports: [TickerService],
})
export class ReplayModule {}
