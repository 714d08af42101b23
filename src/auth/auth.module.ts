import { Module } from '@nestjs/common';
import { AccessService } from './access.service';
import { CallerGuard } from './caller.guard';
import { TopicAccessGuard } from './topic-access.guard';

/** Access control: token verification and topic scopes (see AccessService), imported by each feature that checks them. */
@Module({
  providers: [AccessService, CallerGuard, TopicAccessGuard],
  exports: [AccessService, CallerGuard, TopicAccessGuard],
})
export class AuthModule {}
