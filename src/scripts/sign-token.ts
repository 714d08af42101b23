import { SignJWT } from 'jose';

/** What an access token grants; each field becomes the claim the app reads (src/auth/access.service.ts). */
export interface TokenClaims {
  sub?: string;
  /** Topic patterns: `rivulet.subscribe`. */
  subscribe?: string[];
  /** Topic patterns: `rivulet.publish`. */
  publish?: string[];
  /** `rivulet.admin`. */
  admin?: boolean;
  /** Durable stream path patterns: `rivulet.streams`. */
  streams?: { read?: string[]; write?: string[] };
  /** Display-name claim `name`. */
  name?: string;
  /** `iat` in seconds since the epoch (default: now). */
  issuedAt?: number;
  /** `nbf` in seconds since the epoch. */
  notBefore?: number;
}

/**
 * An HS256 access token as Rivulet verifies it. `expiresIn` is a jose time span ('1h', '5m'; a
 * negative one, '-1m', is already expired). The one minter: mint-token.ts and the tests use it.
 */
export function signToken(secret: string, claims: TokenClaims, expiresIn = '1h'): Promise<string> {
  const payload: Record<string, unknown> = {};
  if (claims.subscribe || claims.publish || claims.admin !== undefined || claims.streams) {
    payload.rivulet = {
      subscribe: claims.subscribe ?? [],
      publish: claims.publish ?? [],
      ...(claims.admin !== undefined ? { admin: claims.admin } : {}),
      ...(claims.streams
        ? { streams: { read: claims.streams.read ?? [], write: claims.streams.write ?? [] } }
        : {}),
    };
  }
  if (claims.name !== undefined) payload.name = claims.name;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(expiresIn);
  if (claims.notBefore !== undefined) jwt.setNotBefore(claims.notBefore);
  if (claims.sub) jwt.setSubject(claims.sub);
  return jwt.sign(new TextEncoder().encode(secret));
}
