import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventLogModule } from '../event-log/event-log.module';
import { SseModule } from '../sse/sse.module';
import { NotificationsController } from './notifications.controller';
import { NotificationsService } from './notifications.service';

@Module({
  imports: [SseModule, AuthModule, EventLogModule],
  controllers: [NotificationsController],
  providers: [NotificationsService],
  exports: [NotificationsService],
})
export class NotificationsModule {}
