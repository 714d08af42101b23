import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AccessService } from './access.service';
import type { TokenSource } from './access-token';
import { CallerGuard, principalOf } from './caller.guard';
import type { AccessAction } from './principal';

const TOPIC_ACCESS = 'rivulet:topic-access';

interface TopicAccessRule {
  action: AccessAction;
  topics: readonly string[];
}

/**
 * Checks access to fixed topics before the handler runs (401/403 as JSON, before any stream starts),
 * for the caller CallerGuard resolved.
 */
@Injectable()
export class TopicAccessGuard implements CanActivate {
  constructor(
    private readonly access: AccessService,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const rule = this.reflector.get<TopicAccessRule | undefined>(
      TOPIC_ACCESS,
      context.getHandler(),
    );
    if (!rule) return true;
    const caller = principalOf(context.switchToHttp().getRequest<TokenSource>());
    this.access.check(caller, rule.action, rule.topics);
    return true;
  }
}

/**
 * Declares the topics a route reads or writes whose names do not depend on the request, e.g.
 * `@RequireTopicAccess('subscribe', 'ticker')` on GET /events.
 */
export function RequireTopicAccess(action: AccessAction, ...topics: string[]): MethodDecorator {
  return applyDecorators(
    SetMetadata(TOPIC_ACCESS, { action, topics }),
    UseGuards(CallerGuard, TopicAccessGuard),
  );
}
