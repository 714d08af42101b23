import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** What a client (or nginx) may pass as a request id: short, no spaces, nothing to inject into logs. */
const VALID_REQUEST_ID = /^[A-Za-z0-9-]{1,64}$/;

/** The incoming X-Request-Id when it is well formed, else a fresh UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const incoming = Array.isArray(header) ? header[0] : header;
  return incoming !== undefined && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** requestIdFor, echoed in the response (pino-http's genReqId for every Express route). */
export function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdFor(req);
  if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
