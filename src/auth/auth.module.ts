import { Global, Module } from '@nestjs/common';
import { AccessService } from './access.service';
import { CallerGuard } from './caller.guard';
import { TopicAccessGuard } from './topic-access.guard';

/** Access control for every feature: token verification and topic scopes (see AccessService). */
@Global()
@Module({
  providers: [AccessService, CallerGuard, TopicAccessGuard],
  exports: [AccessService, CallerGuard, TopicAccessGuard],
})
export class AuthModule {}
