import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ServerResponse, STATUS_CODES } from 'node:http';

/**
 * Most query parameters a request may carry. Express's parser (node:querystring) silently drops
 * every parameter past 1,000; Rivulet refuses a query past this limit instead (400), so nothing a
 * client names is ever lost without an answer saying so. No route needs more than a few dozen
 * (at most 32 topics, a resume point, a token, a pace).
 */
export const MAX_QUERY_PARAMS = 100;

/** Probes and scrapes: never capped, so they keep answering while one address floods the rest. */
const UNCAPPED_PATHS = /^\/(health(\/|$)|metrics$)/;

const RELEASE = Symbol('rivulet.requestSlot');

type WithSlot = Request & { [RELEASE]?: () => void };

/** Node's own API, so it also answers for stream routes served below Express (SseRouteListener). */
function sendError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    message,
  });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Counts the parameters of a raw query string (`a=1&&b` has two). */
export function countQueryParams(url: string): number {
  const start = url.indexOf('?');
  if (start === -1) return 0;
  let count = 0;
  let empty = true;
  for (let i = start + 1; i < url.length; i++) {
    const char = url.charCodeAt(i);
    if (char === 0x26 /* & */) {
      if (!empty) count++;
      empty = true;
    } else if (char === 0x23 /* # */) {
      break;
    } else {
      empty = false;
    }
  }
  return empty ? count : count + 1;
}

/** 400 for a query string with more than `max` parameters (instead of Express dropping the rest). */
export function queryParamLimit(max = MAX_QUERY_PARAMS): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const count = countQueryParams(req.url);
    if (count <= max) {
      next();
      return;
    }
    sendError(res, 400, `The query string has ${count} parameters; at most ${max} are accepted`);
  };
}

/**
 * Caps the requests in progress at once per client address (MAX_REQUESTS_PER_IP): a request counts
 * from its arrival until its answer is sent or its connection closes. A stream stops counting once it
 * is open (the connection limits take over: see releaseRequestSlot). Past the cap: 429 with
 * `Retry-After` and `Connection: close`, answered at once, without waiting for the body; so a client
 * that opens requests and never finishes their bodies holds at most `max` of them, each for at most
 * REQUEST_TIMEOUT_MS. Health probes and metrics scrapes are never capped.
 */
export function requestsPerAddressLimit(max: number, retryAfterSeconds: number): RequestHandler {
  const inProgress = new Map<string, number>();
  return (req: Request, res: Response, next: NextFunction) => {
    if (UNCAPPED_PATHS.test(req.path)) {
      next();
      return;
    }
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const count = inProgress.get(address) ?? 0;
    if (count >= max) {
      res.setHeader('Retry-After', String(retryAfterSeconds));
      res.setHeader('Connection', 'close');
      sendError(res, 429, 'Too many requests in progress from this address (MAX_REQUESTS_PER_IP)');
      return;
    }
    inProgress.set(address, count + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      const left = (inProgress.get(address) ?? 1) - 1;
      if (left > 0) inProgress.set(address, left);
      else inProgress.delete(address);
    };
    (req as WithSlot)[RELEASE] = release;
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}

/** A request that became an open stream no longer counts as a request in progress. */
export function releaseRequestSlot(req: Request): void {
  (req as WithSlot)[RELEASE]?.();
}
