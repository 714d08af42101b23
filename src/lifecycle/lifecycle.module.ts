import { Module } from '@nestjs/common';
import { SseModule } from '../sse/sse.module';
import { DrainService } from './drain.service';

/** Graceful shutdown: the draining flag (readiness, stream admission) and the drain of open streams. */
@Module({
  imports: [SseModule],
  providers: [DrainService],
  exports: [DrainService],
})
export class LifecycleModule {}
