import { Global, Module } from '@nestjs/common';
import { AccessService } from './access.service';
import { TopicAccessGuard } from './topic-access.guard';

/** Access control for every feature: token verification and topic scopes (see AccessService). */
@Global()
@Module({
  providers: [AccessService, TopicAccessGuard],
  exports: [AccessService, TopicAccessGuard],
})
export class AuthModule {}
