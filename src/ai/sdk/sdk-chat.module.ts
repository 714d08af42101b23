import { Module } from '@nestjs/common';
import { AuthModule } from '../../auth/auth.module';
import { EventLogModule } from '../../event-log/event-log.module';
import { SseModule } from '../../sse/sse.module';
import { AiModule } from '../ai.module';
import { SdkChatController } from './sdk-chat.controller';
import { SdkChatService } from './sdk-chat.service';

/** The AI SDK's chat protocol on top of AiModule's generations (see SdkChatService). */
@Module({
  imports: [AiModule, SseModule, AuthModule, EventLogModule],
  controllers: [SdkChatController],
  providers: [SdkChatService],
})
export class SdkChatModule {}
