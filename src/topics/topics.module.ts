import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventLogModule } from '../event-log/event-log.module';
import { SseModule } from '../sse/sse.module';
import { TopicsController } from './topics.controller';
import { TopicsService } from './topics.service';

@Module({
  imports: [SseModule, AuthModule, EventLogModule],
  controllers: [TopicsController],
  providers: [TopicsService],
  exports: [TopicsService],
})
export class TopicsModule {}
