import { Module } from '@nestjs/common';
import { EventLogModule } from '../event-log/event-log.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { SseModule } from '../sse/sse.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** GET /metrics; features that count their own events (the AI module) import it for MetricsService. */
@Module({
  imports: [SseModule, EventLogModule, LifecycleModule],
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
