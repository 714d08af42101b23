import http from 'node:http';
import https from 'node:https';

/**
 * The one request helper of the tests: a request over node:http whose whole answer is read (4xx,
 * 204, DELETE answers, finished streams). A stream that stays open is read with StreamReader
 * (sse-client.ts) instead.
 */

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  body: string;
  /** The body's bytes (a compressed answer, exact sizes). */
  bytes: Buffer;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  json: any;
}

export interface RequestOptions {
  /** Sent as JSON (Content-Type and Content-Length set). */
  body?: unknown;
  /** Sent as is, with Content-Type application/json unless `headers` names another one. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  /** The client's side of the connection (another loopback address plays another client). */
  localAddress?: string;
  /** Default: a connection of its own (no agent). */
  agent?: http.Agent;
  /** For an https:// URL: the only certificate authority trusted (e.g. a self-signed certificate). */
  ca?: string;
  /** For an https:// URL: the name sent by SNI and checked against the certificate. */
  servername?: string;
}

export function request(
  url: string,
  method: string,
  options: RequestOptions = {},
): Promise<JsonResponse> {
  const body =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method,
        agent: options.agent ?? false,
        localAddress: options.localAddress,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.servername === undefined ? {} : { servername: options.servername }),
        headers: {
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          const text = bytes.toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, bytes, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A GET whose whole answer is read; an https:// URL is verified against `tls.ca` alone when given. */
export function get(
  url: string,
  headers: Record<string, string> = {},
  tls: { ca?: string } = {},
): Promise<JsonResponse> {
  return request(url, 'GET', { headers, ...tls });
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

/** Answers a publisher may retry: the proxy found no replica (502, 504) or the app is unavailable (503). */
const RETRYABLE = new Set([502, 503, 504]);

export interface PostRetryOptions {
  /** Attempts before giving up (bounded). */
  attempts?: number;
  /** Pause between attempts: pacing of the retries, not a wait for an event. */
  pauseMs?: number;
  headers?: Record<string, string>;
  /** For an https:// URL: the only certificate authority trusted. */
  ca?: string;
}

/**
 * POSTs `body` until it is accepted, as a careful publisher does while a replica is killed or Redis
 * restarts: a 502/503/504 or a transport error is retried, any other answer is returned as is.
 * `retries` counts the attempts that failed. A retried publish whose first attempt had reached the
 * log can appear there twice (at-least-once); the caller compares clients against the log.
 */
export async function postUntilAccepted(
  url: string,
  body: unknown,
  options: PostRetryOptions = {},
): Promise<JsonResponse & { retries: number }> {
  const attempts = options.attempts ?? 400;
  const pauseMs = options.pauseMs ?? 25;
  let last = 'no attempt';
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await post(url, body, options.headers, { ca: options.ca });
      if (!RETRYABLE.has(response.status)) return { ...response, retries: attempt };
      last = `${response.status} ${response.body}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(`POST ${url} not accepted after ${attempts} attempts; last: ${last}`);
}
