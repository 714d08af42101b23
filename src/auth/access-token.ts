import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { parseCookie } from 'cookie';
import type { IncomingHttpHeaders } from 'node:http';

export const ACCESS_TOKEN_COOKIE = 'access_token';
export const ACCESS_TOKEN_QUERY = 'access_token';

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i;

export interface TokenSource {
  headers: IncomingHttpHeaders;
  query: unknown;
  method?: string;
}

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request may use the access_token cookie: a browser attaches it to requests that other
 * sites make, and a POST with a CORS-safelisted Content-Type (a durable stream append as
 * `text/plain`) needs no preflight, so a write authenticated by the cookie alone must come from this
 * site or an origin CORS_ORIGINS lists. Reads (GET, HEAD) are not affected: their answers go only
 * where CORS lets them. `Sec-Fetch-Site` says where a browser request comes from; without it, the
 * `Origin` a browser sends on every cross-origin write is compared with the request's host.
 */
export function cookieAcceptedFor(req: TokenSource, allowedOrigins: readonly string[]): boolean {
  if (req.method === undefined || SAFE_METHODS.has(req.method.toUpperCase())) return true;
  const origin = req.headers.origin;
  if (origin !== undefined && allowedOrigins.includes(origin)) return true;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host === req.headers.host || host === req.headers['x-forwarded-host'];
}

/**
 * The access token of a request, from (in this order) `Authorization: Bearer <token>`, the
 * `access_token` query parameter (EventSource cannot set headers) or the `access_token` cookie.
 * Undefined when none is given; a malformed header or a repeated parameter is a 401, a cookie on a
 * cross-site write (cookieAccepted, see cookieAcceptedFor) a 403.
 */
export function extractAccessToken(
  req: TokenSource,
  cookieAccepted: (req: TokenSource) => boolean = () => true,
): string | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined && authorization !== '') {
    const match = BEARER.exec(authorization);
    if (!match) throw new UnauthorizedException("Authorization header must be 'Bearer <token>'");
    return match[1];
  }
  const query = (req.query ?? {}) as Record<string, unknown>;
  const fromQuery = query[ACCESS_TOKEN_QUERY];
  if (fromQuery !== undefined) {
    if (typeof fromQuery !== 'string')
      throw new UnauthorizedException('access_token must be given once');
    if (fromQuery !== '') return fromQuery;
  }
  const cookieHeader = req.headers.cookie;
  if (cookieHeader) {
    const fromCookie = parseCookie(cookieHeader)[ACCESS_TOKEN_COOKIE];
    if (fromCookie) {
      if (!cookieAccepted(req)) {
        throw new ForbiddenException(
          'A write from another site cannot be authorized by the access_token cookie: send Authorization: Bearer <token>',
        );
      }
      return fromCookie;
    }
  }
  return undefined;
}
