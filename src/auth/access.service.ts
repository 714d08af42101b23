import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { BROADCAST_TOPIC } from '../common/topic-names';
import { extractAccessToken, TokenSource } from './access-token';
import { AccessAction, Principal } from './principal';
import { isTopicPattern, matchesAny } from './topic-pattern';

const patterns = z
  .array(z.string().refine(isTopicPattern, 'is not a topic pattern'))
  .max(256)
  .default([]);

const claimsSchema = z.object({
  sub: z.string().min(1).max(256).optional(),
  rivulet: z.object({ subscribe: patterns, publish: patterns }).optional(),
});

/**
 * Access control (docs/protocol.md §4). With AUTH_JWT_SECRET unset, open mode: every request may subscribe and
 * publish, and tokens are ignored. With it set, an HS256 JWT (header, `access_token` query parameter
 * or cookie) is verified and its scopes checked:
 *
 * - subscribe: public topics (PUBLIC_TOPICS) need no token; `user:<id>` only for the token whose `sub`
 *   is `<id>`, whatever its scopes; `broadcast` for any valid token; anything else must match one of
 *   the token's `rivulet.subscribe` patterns.
 * - publish: a token whose `rivulet.publish` patterns cover every topic written to.
 *
 * No token where one is needed, or a bad, forged or expired one: 401. A valid token without the
 * scope: 403. Checked before a stream starts, so both are real HTTP statuses.
 */
@Injectable()
export class AccessService {
  private readonly key: Uint8Array | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const secret = config.auth.jwtSecret;
    this.key = secret === undefined ? undefined : new TextEncoder().encode(secret);
  }

  get openMode(): boolean {
    return this.key === undefined;
  }

  /** The verified principal of a request; undefined in open mode or when no token is given. */
  async identify(req: TokenSource): Promise<Principal | undefined> {
    if (!this.key) return undefined;
    const token = extractAccessToken(req);
    return token === undefined ? undefined : this.verify(token);
  }

  /** Checks that the request may `action` every topic; returns its principal (undefined in open mode). */
  async authorize(
    req: TokenSource,
    action: AccessAction,
    topics: readonly string[],
  ): Promise<Principal | undefined> {
    if (this.openMode) return undefined;
    const principal = await this.identify(req);
    this.check(principal, action, topics);
    return principal;
  }

  /** The scope check alone (no-op in open mode); throws 401 or 403. */
  check(principal: Principal | undefined, action: AccessAction, topics: readonly string[]): void {
    if (this.openMode) return;
    for (const topic of topics) {
      if (action === 'subscribe') this.checkSubscribe(principal, topic);
      else this.checkPublish(principal, topic);
    }
  }

  async verify(token: string): Promise<Principal> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key!, { algorithms: ['HS256'] }));
    } catch (error) {
      if (error instanceof errors.JWTExpired)
        throw new UnauthorizedException('The access token has expired');
      throw new UnauthorizedException('The access token is invalid');
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const problem = claims.error.issues[0];
      throw new UnauthorizedException(
        `The access token's claims are malformed (${problem?.path.join('.') ?? ''}: ${problem?.message ?? ''})`,
      );
    }
    return {
      sub: claims.data.sub,
      subscribe: claims.data.rivulet?.subscribe ?? [],
      publish: claims.data.rivulet?.publish ?? [],
    };
  }

  private checkSubscribe(principal: Principal | undefined, topic: string): void {
    if (topic.startsWith('user:')) {
      if (!principal)
        throw new UnauthorizedException(`An access token is required to subscribe to ${topic}`);
      if (topic !== `user:${principal.sub ?? ''}`) {
        throw new ForbiddenException(`${topic} belongs to another user`);
      }
      return;
    }
    if (matchesAny(this.config.auth.publicTopics, topic)) return;
    if (!principal)
      throw new UnauthorizedException(`An access token is required to subscribe to ${topic}`);
    if (topic === BROADCAST_TOPIC || matchesAny(principal.subscribe, topic)) return;
    throw new ForbiddenException(`The access token does not allow subscribing to ${topic}`);
  }

  private checkPublish(principal: Principal | undefined, topic: string): void {
    if (!principal)
      throw new UnauthorizedException(`An access token is required to publish to ${topic}`);
    if (!matchesAny(principal.publish, topic)) {
      throw new ForbiddenException(`The access token does not allow publishing to ${topic}`);
    }
  }
}
