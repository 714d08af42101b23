import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AccessService } from './access.service';
import type { AccessAction } from './principal';

const TOPIC_ACCESS = 'rivulet:topic-access';

interface TopicAccessRule {
  action: AccessAction;
  topics: readonly string[];
}

/** Checks access to fixed topics before the handler runs (401/403 as JSON, before any stream starts). */
@Injectable()
export class TopicAccessGuard implements CanActivate {
  constructor(
    private readonly access: AccessService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.get<TopicAccessRule | undefined>(
      TOPIC_ACCESS,
      context.getHandler(),
    );
    if (!rule) return true;
    await this.access.authorize(
      context.switchToHttp().getRequest<Request>(),
      rule.action,
      rule.topics,
    );
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
    UseGuards(TopicAccessGuard),
  );
}
