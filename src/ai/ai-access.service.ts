import { ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { AccessService } from '../auth/access.service';
import type { Principal } from '../auth/principal';
import { AI_TOPIC_PREFIX, aiTopic } from './ai-events';
import { GenerationService } from './generation.service';

/**
 * What starting a generation is checked against: publish to `ai:*`. A generation's id is the
 * server's choice, so only a publish pattern covering every `ai:` topic (`ai:*`, `*`) may start one;
 * a grant of a single generation (`ai:<id>`) may not.
 */
export const AI_START_SCOPE = `${AI_TOPIC_PREFIX}*`;

/**
 * Whose share of AI_MAX_GENERATIONS_PER_USER a start takes: the user (`sub`), or the client's
 * address in open mode (and for a token without `sub`).
 */
export function generationQuotaKey(ip: string | undefined, owner: string | undefined): string {
  return owner !== undefined ? `user:${owner}` : `address:${ip ?? 'unknown'}`;
}

/**
 * Access to AI generations (docs/protocol.md §4), on top of AccessService's topic scopes. A generation is
 * topic `ai:<id>`, and its owner (the `sub` that started it) needs no further scope for it:
 *
 * - start: publish to `ai:*`;
 * - read or resume: owner, an admin token (`rivulet.admin`), or subscribe to `ai:<id>`;
 * - cancel: owner or an admin token only. Publish scopes do not reach it: `ai:*`, which every
 *   user who may start a generation holds, would otherwise let each cancel everybody's.
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
  authorizeStart(caller: Principal | undefined): string | undefined {
    this.access.check(caller, 'publish', [AI_START_SCOPE]);
    return caller?.sub;
  }

  /**
   * The seed reconnect (`?message=` + Last-Event-ID), checked before any lookup: in open mode
   * anyone; with auth on, a valid token (401 otherwise, whatever the message). Returns the owner
   * whose own generations the lookup may consider (its `sub`).
   */
  authorizeSeedLookup(principal: Principal | undefined): { owner: string | undefined } {
    if (this.access.openMode) return { owner: undefined };
    if (!principal) {
      throw new UnauthorizedException('An access token is required to resume an AI answer');
    }
    return { owner: principal.sub };
  }

  /** Whether the caller may read a generation (owner, or subscribe scope on it), without throwing. */
  async mayRead(caller: Principal | undefined, generationId: string): Promise<boolean> {
    try {
      await this.authorizeRead(caller, generationId);
      return true;
    } catch (error) {
      if (error instanceof UnauthorizedException || error instanceof ForbiddenException)
        return false;
      throw error;
    }
  }

  async authorizeRead(principal: Principal | undefined, generationId: string): Promise<void> {
    if (this.access.openMode) return;
    if (await this.isOwnerOrAdmin(principal, generationId)) return;
    this.access.check(principal, 'subscribe', [aiTopic(generationId)]);
  }

  async authorizeCancel(principal: Principal | undefined, generationId: string): Promise<void> {
    if (this.access.openMode) return;
    if (!principal)
      throw new UnauthorizedException('An access token is required to cancel a generation');
    if (await this.isOwnerOrAdmin(principal, generationId)) return;
    throw new ForbiddenException(
      'Only the owner of a generation (or an admin token) may cancel it',
    );
  }

  private async isOwnerOrAdmin(
    principal: Principal | undefined,
    generationId: string,
  ): Promise<boolean> {
    if (!principal) return false;
    if (principal.admin) return true;
    const sub = principal.sub;
    return sub !== undefined && sub === (await this.generations.ownerOf(generationId));
  }
}
