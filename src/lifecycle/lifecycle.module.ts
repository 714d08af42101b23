import { Global, Module } from '@nestjs/common';
import { DrainService } from './drain.service';

/** Graceful shutdown: the draining flag (readiness, stream admission) and the drain of open streams. */
@Global()
@Module({
  providers: [DrainService],
  exports: [DrainService],
})
export class LifecycleModule {}
