import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LevelWithSilent, Logger } from 'pino';
import { clientAddress, ProxyTrust } from '../common/client-address';

/** Probe and scrape routes: logged at debug, so a probe every few seconds does not flood the logs. */
const QUIET_PATHS = /^\/(health(\/|$)|metrics$)/;

/**
 * Query parameters that carry credentials; their values never reach the logs, whatever the spelling
 * the query parser reads as that name (`access%5Ftoken`, `access_token[]`, `access_token[0]`).
 */
const SECRET_PARAM_NAMES: ReadonlySet<string> = new Set(['access_token', 'token']);

export function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

export function redactUrl(url: string | undefined): string {
  const raw = url ?? '/';
  const start = raw.indexOf('?');
  if (start === -1) return raw;
  const end = raw.indexOf('#', start) === -1 ? raw.length : raw.indexOf('#', start);
  const params = raw.slice(start + 1, end).split('&');
  const redacted = params.map((param) => {
    const eq = param.indexOf('=');
    if (eq === -1) return param;
    return SECRET_PARAM_NAMES.has(paramName(param.slice(0, eq)))
      ? `${param.slice(0, eq)}=[redacted]`
      : param;
  });
  return `${raw.slice(0, start + 1)}${redacted.join('&')}${raw.slice(end)}`;
}

/** A query key as the query parser names it: decoded, without a `[…]` suffix, lower case. */
function paramName(key: string): string {
  let name = key.replace(/\+/g, ' ');
  try {
    name = decodeURIComponent(name);
  } catch {
    // A malformed escape stays as it is (the parser keeps it too).
  }
  const bracket = name.indexOf('[');
  return (bracket > 0 ? name.slice(0, bracket) : name).toLowerCase();
}

/** pino-http's stand-in error for a response with a 5xx status (no exception behind it). */
const STATUS_ONLY_ERROR = /^failed with status code \d+$/;

function isStatusOnly(error: Error | undefined): boolean {
  return error === undefined || STATUS_ONLY_ERROR.test(error.message);
}

/**
 * The level of the one line pino-http writes per request, when it ends (for a stream: when the
 * stream ends). Probes and scrapes at debug (a readiness 503 while draining is expected), a
 * transport error or a 5xx other than 503 at error, 503 (draining, MAX_CONNECTIONS) and client
 * errors at warn, the rest at info.
 */
export function requestLogLevel(
  req: IncomingMessage,
  res: ServerResponse,
  error?: Error,
): LevelWithSilent {
  const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url;
  const quiet = QUIET_PATHS.test(pathOf(original));
  if (!isStatusOnly(error)) return 'error';
  if (quiet) return 'debug';
  if (res.statusCode >= 500 && res.statusCode !== 503) return 'error';
  if (res.statusCode >= 400) return 'warn';
  return 'info';
}

/** A 5xx answered on purpose carries no stack trace in its line; a real error keeps its `err`. */
export function requestErrorObject(
  _req: IncomingMessage,
  _res: ServerResponse,
  error: Error,
  value: Record<string, unknown>,
): Record<string, unknown> {
  if (!isStatusOnly(error)) return value;
  const rest = { ...value };
  delete rest.err;
  return rest;
}

export function requestErrorMessage(
  _req: IncomingMessage,
  _res: ServerResponse,
  error: Error,
): string {
  return isStatusOnly(error) ? 'request completed' : 'request errored';
}

/** The request as logged: no headers (tokens, cookies), credentials removed from the query. */
export interface LoggedRequest {
  id: unknown;
  method: string;
  url: string;
  remoteAddress: string | undefined;
  userAgent: string | undefined;
  lastEventId: string | undefined;
}

interface SerializedRequest {
  id: unknown;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string;
  raw: IncomingMessage & { originalUrl?: string };
}

/** The request serializer for one TRUST_PROXY setting: the logged address is clientAddress's. */
export function requestSerializer(trust: ProxyTrust): (req: SerializedRequest) => LoggedRequest {
  return (req) => serializeRequest(req, trust);
}

export function serializeRequest(req: SerializedRequest, trust: ProxyTrust): LoggedRequest {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return {
    id: req.id,
    method: req.method,
    url: redactUrl(req.raw.originalUrl ?? req.url),
    remoteAddress: req.raw.socket ? clientAddress(req.raw, trust) : req.remoteAddress,
    userAgent: header('user-agent'),
    lastEventId: header('last-event-id'),
  };
}

export function serializeResponse(res: { statusCode: number }): { statusCode: number } {
  return { statusCode: res.statusCode };
}

/** The logger of request lines: pino-http's own (its `req`/`res` serializers are the ones above). */
export type RequestLogger = Pick<Logger, 'isLevelEnabled' | LevelWithSilent>;

/**
 * The line pino-http writes when a request ends, for a request it did not see (the stream routes
 * SseRouteListener serves): same level, message and fields, written through pino-http's logger so
 * the same serializers shape `req` and `res`. One line per request, no child logger per connection.
 */
export function logRequestEnd(
  logger: RequestLogger,
  req: IncomingMessage,
  res: ServerResponse,
  startedAt: number,
): void {
  const level = requestLogLevel(req, res);
  if (level === 'silent' || !logger.isLevelEnabled(level)) return;
  const responseTime = Date.now() - startedAt;
  if (res.statusCode >= 500) {
    const error = new Error(`failed with status code ${res.statusCode}`);
    logger[level](
      requestErrorObject(req, res, error, { req, res, err: error, responseTime }),
      requestErrorMessage(req, res, error),
    );
    return;
  }
  const message =
    !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted';
  logger[level]({ req, res, responseTime }, message);
}
