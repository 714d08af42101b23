import http from 'node:http';
import https from 'node:https';
import { SignJWT } from 'jose';

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/** A plain request that reads the whole (non-stream) body: 4xx, 204, DELETE answers. */
export function request(
  url: string,
  method: 'GET' | 'POST' | 'DELETE',
  options: {
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    /** For an https:// URL: the only certificate authority trusted (e.g. a self-signed certificate). */
    ca?: string;
  } = {},
): Promise<JsonResponse> {
  const body =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method,
        agent: false,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        headers: {
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A POST with a JSON body (an object is stringified, a string is sent as is). */
export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  tls: { ca?: string } = {},
): Promise<JsonResponse> {
  return typeof body === 'string'
    ? request(url, 'POST', { rawBody: body, headers, ...tls })
    : request(url, 'POST', { body, headers, ...tls });
}

/** Resolves once `condition` holds, checking every few ms; rejects after `timeoutMs`. */
export function waitUntil(
  condition: () => boolean,
  what = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = setInterval(() => {
      if (condition()) {
        clearInterval(check);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(check);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 5);
  });
}

export interface TokenClaims {
  sub?: string;
  subscribe?: string[];
  publish?: string[];
  /** `rivulet.admin: true`. */
  admin?: boolean;
  /** Display-name claim. */
  name?: string;
  /** `iat` in seconds since the epoch (default: now). */
  issuedAt?: number;
  /** `nbf` in seconds since the epoch. */
  notBefore?: number;
  /** Durable stream path patterns (claim rivulet.streams). */
  streams?: { read?: string[]; write?: string[] };
}

/** An HS256 access token as Rivulet expects it (expiresIn: a jose time span, negative = already expired). */
export function mintToken(secret: string, claims: TokenClaims, expiresIn = '5m'): Promise<string> {
  const payload: Record<string, unknown> = {};
  if (claims.subscribe || claims.publish || claims.admin !== undefined || claims.streams) {
    payload.rivulet = {
      subscribe: claims.subscribe ?? [],
      publish: claims.publish ?? [],
      ...(claims.admin !== undefined ? { admin: claims.admin } : {}),
    };
    if (claims.streams) {
      (payload.rivulet as Record<string, unknown>).streams = {
        read: claims.streams.read ?? [],
        write: claims.streams.write ?? [],
      };
    }
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
