import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { EventLogModule } from '../event-log/event-log.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { DrainHealthIndicator } from './drain.health';
import { EventLogHealthIndicator } from './event-log.health';
import { HealthController } from './health.controller';

@Module({
  // Failed checks are logged by EventLogHealthIndicator on transitions, not by terminus on every probe.
  imports: [TerminusModule.forRoot({ logger: false }), EventLogModule, LifecycleModule],
  controllers: [HealthController],
  providers: [DrainHealthIndicator, EventLogHealthIndicator],
})
export class HealthModule {}
