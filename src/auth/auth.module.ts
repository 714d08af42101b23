import { Module } from '@nestjs/common';
import { AccessService } from './access.service';
import { CallerGuard } from './caller.guard';
import { TopicAccessGuard } from './topic-access.guard';

/**
 * Access control: token verification and topic scopes (see AccessService) and the guards; each
 * feature that checks access imports it.
 */
@Module({
  providers: [AccessService, CallerGuard, TopicAccessGuard],
  exports: [AccessService, CallerGuard, TopicAccessGuard],
})
export class AuthModule {}
