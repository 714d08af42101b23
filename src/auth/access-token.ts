import { UnauthorizedException } from '@nestjs/common';
import { parseCookie } from 'cookie';
import type { IncomingHttpHeaders } from 'node:http';

export const ACCESS_TOKEN_COOKIE = 'access_token';
export const ACCESS_TOKEN_QUERY = 'access_token';

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i;

export interface TokenSource {
  headers: IncomingHttpHeaders;
  query: unknown;
}

/**
 * The access token of a request, from (in this order) `Authorization: Bearer <token>`, the
 * `access_token` query parameter (EventSource cannot set headers) or the `access_token` cookie.
 * Undefined when none is given; a malformed header or a repeated parameter is a 401.
 */
export function extractAccessToken(req: TokenSource): string | undefined {
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
    if (fromCookie) return fromCookie;
  }
  return undefined;
}
