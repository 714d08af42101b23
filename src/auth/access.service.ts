import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { displayNameProblem } from '../common/display-name';
import { BROADCAST_TOPIC, isUserId, USER_ID_RULE, userTopic } from '../common/topic-names';
import { cookieAcceptedFor, extractAccessToken, TokenSource } from './access-token';
import { isStreamPattern } from '../config/stream-pattern';
import { AccessAction, Principal, StreamAccess } from './principal';
import { isTopicPattern, matchesAny } from './topic-pattern';

const patterns = z
  .array(z.string().refine(isTopicPattern, 'is not a topic pattern'))
  .max(256)
  .default([]);

const streamPatterns = z
  .array(z.string().refine(isStreamPattern, 'is not a stream path pattern'))
  .max(256)
  .default([]);

const displayName = z.string().trim().min(1).max(64);

const claimsSchema = z.object({
  sub: z.string().refine(isUserId, `must be ${USER_ID_RULE}`).optional(),
  name: z.unknown().optional(),
  preferred_username: z.unknown().optional(),
  rivulet: z
    .object({
      subscribe: patterns,
      publish: patterns,
      admin: z.boolean().default(false),
      streams: z.object({ read: streamPatterns, write: streamPatterns }).optional(),
    })
    .optional(),
});

/** The token's display name, if it has one that can be shown (`name`, else `preferred_username`). */
function displayNameOf(claims: {
  name?: unknown;
  preferred_username?: unknown;
}): string | undefined {
  for (const raw of [claims.name, claims.preferred_username]) {
    const parsed = displayName.safeParse(raw);
    if (parsed.success && displayNameProblem(parsed.data) === undefined) return parsed.data;
  }
  return undefined;
}

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
  /** AUTH_CLOCK_SKEW_MS in seconds, the unit of JWT times. */
  private readonly skewSeconds: number;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const secret = config.auth.jwtSecret;
    this.key = secret === undefined ? undefined : new TextEncoder().encode(secret);
    this.skewSeconds = config.auth.clockSkewMs / 1000;
  }

  get openMode(): boolean {
    return this.key === undefined;
  }

  /** The verified principal of a request; undefined in open mode or when no token is given. */
  async identify(req: TokenSource): Promise<Principal | undefined> {
    if (!this.key) return undefined;
    const token = extractAccessToken(req, (r) => cookieAcceptedFor(r, this.config.cors.origins));
    return token === undefined ? undefined : this.verify(token);
  }

  /**
   * Checks that `principal` (the caller, see CallerGuard) may `action` every topic. No-op in open
   * mode; 401 when a token is needed and none was given, 403 without the scope.
   */
  check(principal: Principal | undefined, action: AccessAction, topics: readonly string[]): void {
    if (this.openMode) return;
    for (const topic of topics) {
      if (action === 'subscribe') this.checkSubscribe(principal, topic);
      else this.checkPublish(principal, topic);
    }
  }

  /**
   * Verifies signature and times. `exp`, `nbf` and `iat` get the same clock-skew allowance
   * (AUTH_CLOCK_SKEW_MS): a token issued further in the future than that is refused, as one that
   * expired longer ago than that.
   */
  async verify(token: string): Promise<Principal> {
    let payload: { iat?: unknown };
    try {
      ({ payload } = await jwtVerify(token, this.key!, {
        algorithms: ['HS256'],
        clockTolerance: this.skewSeconds,
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired)
        throw new UnauthorizedException('The access token has expired');
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf')
        throw new UnauthorizedException('The access token is not valid yet (nbf)');
      throw new UnauthorizedException('The access token is invalid');
    }
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + this.skewSeconds) {
      throw new UnauthorizedException(
        'The access token was issued in the future (iat); check the issuer clock',
      );
    }
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) {
      const problem = claims.error.issues[0];
      throw new UnauthorizedException(
        `The access token's claims are malformed (${problem?.path.join('.') ?? ''}: ${problem?.message ?? ''})`,
      );
    }
    const name = displayNameOf(claims.data);
    return {
      sub: claims.data.sub,
      ...(name === undefined ? {} : { name }),
      admin: claims.data.rivulet?.admin ?? false,
      subscribe: claims.data.rivulet?.subscribe ?? [],
      publish: claims.data.rivulet?.publish ?? [],
      streams: claims.data.rivulet?.streams ?? { read: [], write: [] },
    };
  }

  /**
   * Durable streams (/v1/stream/<path>): reading a path matched by PUBLIC_STREAMS needs no token;
   * otherwise the token's `rivulet.streams.read` (GET, HEAD) or `.write` (PUT, POST, DELETE)
   * patterns must match the path. Writing implies nothing about reading, and the reverse. No-op in
   * open mode; 401 without a valid token, 403 without the scope.
   */
  async authorizeStream(
    req: TokenSource,
    access: StreamAccess,
    path: string,
  ): Promise<Principal | undefined> {
    if (this.openMode) return undefined;
    if (access === 'read' && matchesAny(this.config.durable.publicStreams, path)) return undefined;
    const principal = await this.identify(req);
    if (!principal)
      throw new UnauthorizedException(`An access token is required to ${access} stream ${path}`);
    const allowed = access === 'read' ? principal.streams?.read : principal.streams?.write;
    if (!matchesAny(allowed ?? [], path)) {
      throw new ForbiddenException(`The access token does not allow to ${access} stream ${path}`);
    }
    return principal;
  }

  private checkSubscribe(principal: Principal | undefined, topic: string): void {
    if (topic.startsWith('user:')) {
      if (!principal)
        throw new UnauthorizedException(`An access token is required to subscribe to ${topic}`);
      if (principal.sub === undefined || topic !== userTopic(principal.sub)) {
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
