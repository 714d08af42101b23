import { Module } from '@nestjs/common';
import { AiModule } from '../ai.module';
import { SdkChatController } from './sdk-chat.controller';
import { SdkChatService } from './sdk-chat.service';

/** The AI SDK's chat protocol on top of AiModule's generations (see SdkChatService). */
@Module({
  imports: [AiModule],
  controllers: [SdkChatController],
  providers: [SdkChatService],
})
export class SdkChatModule {}
