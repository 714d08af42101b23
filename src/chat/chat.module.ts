import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventLogModule } from '../event-log/event-log.module';
import { SseModule } from '../sse/sse.module';
import { ChatController } from './chat.controller';
import { ChatService } from './chat.service';

@Module({
  imports: [SseModule, AuthModule, EventLogModule],
  controllers: [ChatController],
  providers: [ChatService],
})
export class ChatModule {}
