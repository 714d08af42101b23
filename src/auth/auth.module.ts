import { Module } from '@nestjs/common';
import { AccessService } from './access.service';
import { TopicAccessGuard } from './topic-access.guard';

/** Access control: token verification and topic scopes (see AccessService), imported by each feature that checks them. */
@Module({
  providers: [AccessService, TopicAccessGuard],
  exports: [AccessService, TopicAccessGuard],
})
export class AuthModule {}
