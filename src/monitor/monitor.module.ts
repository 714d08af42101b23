import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { SseModule } from '../sse/sse.module';
import { MonitorController } from './monitor.controller';
import { MonitorService } from './monitor.service';

@Module({
  imports: [SseModule, AuthModule],
  controllers: [MonitorController],
  providers: [MonitorService],
})
export class MonitorModule {}
