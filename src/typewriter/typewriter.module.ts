import { Module } from '@nestjs/common';
import { SseModule } from '../sse/sse.module';
import { TypewriterController } from './typewriter.controller';
import { TypewriterService } from './typewriter.service';

@Module({
  imports: [SseModule],
  controllers: [TypewriterController],
  providers: [TypewriterService],
})
export class TypewriterModule {}
