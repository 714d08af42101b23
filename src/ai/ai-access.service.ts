import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { AccessService } from '../auth/access.service';
import type { AccessAction } from '../auth/principal';
import { AI_TOPIC_PREFIX, aiTopic } from './ai-events';
import { GenerationService } from './generation.service';

/**
 * What starting a generation is checked against: publish to `ai:*`. A generation's id is the
 * server's choice, so only a publish pattern covering every `ai:` topic (`ai:*`, `*`) may start one;
 * a grant of a single generation (`ai:<id>`) may not.
 */
export const AI_START_SCOPE = `${AI_TOPIC_PREFIX}*`;

/**
 * Access to AI generations (docs/protocol.md §4), on top of AccessService's topic scopes. A generation is
 * topic `ai:<id>`, and its owner (the `sub` that started it) needs no further scope for it:
 *
 * - start: publish to `ai:*`;
 * - read or resume: owner, or subscribe to `ai:<id>`;
 * - cancel: owner, or publish to `ai:<id>`.
 *
 * Open mode (no AUTH_JWT_SECRET) allows everything. Every check runs before the stream starts, so
 * 401 / 403 are real HTTP statuses.
 */
@Injectable()
export class AiAccessService {
  constructor(
    private readonly access: AccessService,
    private readonly generations: GenerationService,
  ) {}

  /** Checks the caller may start a generation; returns the owner to record (its `sub`). */
  async authorizeStart(req: Request): Promise<string | undefined> {
    const principal = await this.access.authorize(req, 'publish', [AI_START_SCOPE]);
    return principal?.sub;
  }

  authorizeRead(req: Request, generationId: string): Promise<void> {
    return this.authorizeOwnerOr(req, generationId, 'subscribe');
  }

  authorizeCancel(req: Request, generationId: string): Promise<void> {
    return this.authorizeOwnerOr(req, generationId, 'publish');
  }

  private async authorizeOwnerOr(
    req: Request,
    generationId: string,
    action: AccessAction,
  ): Promise<void> {
    if (this.access.openMode) return;
    const principal = await this.access.identify(req);
    const sub = principal?.sub;
    if (sub !== undefined && sub === (await this.generations.ownerOf(generationId))) return;
    this.access.check(principal, action, [aiTopic(generationId)]);
  }
}
