import { BadRequestException, createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * Event ids Rivulet hands out are decimal sequence numbers (typewriter ids are character indexes),
 * so anything else a client sends back is malformed or forged.
 */
const EVENT_ID = /^(0|[1-9]\d{0,15})$/;

/**
 * The resume point of a request: the `Last-Event-ID` header (what EventSource sends) or the
 * `lastEventId` query parameter (for clients that cannot set headers). The header wins.
 * Returns undefined for a fresh connection; throws 400 for a malformed id.
 */
export function parseLastEventId(
  header: string | string[] | undefined,
  query: unknown,
): string | undefined {
  if (query !== undefined && typeof query !== 'string') {
    throw new BadRequestException('lastEventId must be given once');
  }
  const raw = Array.isArray(header) ? header[0] : header;
  const value = raw !== undefined && raw !== '' ? raw : query;
  if (value === undefined || value === '') return undefined;
  if (!EVENT_ID.test(value)) {
    throw new BadRequestException(
      'Last-Event-ID must be an event id sent by this server (a decimal number)',
    );
  }
  return value;
}

export function lastEventIdOf(request: Request): string | undefined {
  const query = request.query as Record<string, unknown>;
  return parseLastEventId(request.headers['last-event-id'], query.lastEventId);
}

/** Handler parameter: the validated resume point, or undefined. A malformed id is a 400. */
export const LastEventId = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  lastEventIdOf(ctx.switchToHttp().getRequest<Request>()),
);
