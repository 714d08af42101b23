import { applyDecorators, Get, Post, Res, SetMetadata, UseInterceptors } from '@nestjs/common';
import { ApiHeader, ApiProduces, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { isObservable } from 'rxjs';
import type { z } from 'zod';
import { ApiErrors } from '../common/api-docs';
import { handOverOf, SSE_HEADERS, SSE_KIND } from './stream-hand-over';
import { SseInterceptor } from './sse.interceptor';

export interface SseEndpointOptions {
  /**
   * What each event's `data:` holds, one member per event type (see streamEvents): the API
   * document's `text/event-stream` schema for this route, checked in the suite against what the
   * stream really sends.
   */
  events: z.ZodType;
  /** GET (default, what EventSource sends) or POST (fetch clients that send a body, e.g. an AI prompt). */
  method?: 'GET' | 'POST';
  /**
   * Extra response headers of the stream (a protocol marker such as the AI SDK's
   * `x-vercel-ai-ui-message-stream`), sent with the stream's own headers once it opens: an error
   * answered before that (400, 404, 204) does not carry them.
   */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Declares an event-stream route. The handler keeps the shape of a Nest @Sse() handler (it returns
 * an Observable of messages, validation throws HttpExceptions), and Rivulet's SseInterceptor writes
 * the stream: one serializer, `retry:` and a comment on open, the shared heartbeat, a bounded
 * buffer, a real status for errors before the stream starts and 204 for a stream with nothing left.
 *
 * Why not Nest's own @Sse() writer: it numbers every message that has no id (1, 2, 3... per
 * connection), which would corrupt a client's Last-Event-ID, sends no comment on open, and runs a
 * Transform stream plus a promise per message per connection, where a fan-out should serialize an
 * event once and write the same frame to every socket. So the route is a GET whose response the
 * interceptor owns (the response is bound as an extra, unused handler argument, which is how Nest
 * learns that the route answers by itself), and `kind` names the stream in counts and metrics.
 * `{ method: 'POST' }` makes it a POST route with the same stream semantics (for fetch clients).
 */
export function SseEndpoint(
  path: string,
  kind: string,
  options: SseEndpointOptions,
): MethodDecorator {
  const ownsResponse: MethodDecorator = (target, key, descriptor) => {
    const handler = descriptor.value as unknown as (...args: unknown[]) => unknown;
    Res()(target, key, handler.length);
    descriptor.value = handsOverStream(handler) as typeof descriptor.value;
  };
  return applyDecorators(
    ownsResponse,
    options.method === 'POST' ? Post(path) : Get(path),
    SetMetadata(SSE_KIND, kind),
    SetMetadata(SSE_HEADERS, options.headers ?? {}),
    UseInterceptors(SseInterceptor),
    documented(options),
  );
}

/** The stream's entry in the API document: its events, how to resume, who may read it, refusals. */
function documented(options: SseEndpointOptions): MethodDecorator {
  return applyDecorators(
    ApiProduces('text/event-stream'),
    ApiResponse({
      status: 200,
      description:
        'An event stream: `retry:` and a comment first, then events (the schema is each `data:`), `: ping` when quiet',
      standardSchema: options.events,
    }),
    ApiResponse({
      status: 204,
      description: 'Nothing is left to send after that Last-Event-ID (EventSource stops)',
    }),
    ApiHeader({
      name: 'Last-Event-ID',
      required: false,
      description: 'Resume after this id: exactly the events after it, in order',
    }),
    ApiQuery({
      name: 'lastEventId',
      required: false,
      type: String,
      description: 'The same as the Last-Event-ID header, for clients that cannot set headers',
    }),
    ApiQuery({
      name: 'access_token',
      required: false,
      type: String,
      description:
        'A JWT when AUTH_JWT_SECRET is set (EventSource cannot send Authorization: Bearer)',
    }),
    ApiErrors(400, 401, 403, 429, 503),
  );
}

/**
 * Wraps a handler so that the Observable it returns reaches SseInterceptor as a single value: Nest's
 * interceptor pipeline (defer, mergeAll, its own taps) then runs once per request, not once per
 * message, and every message goes from the handler's Observable straight to the connection. The
 * handler's own metadata (guards, and anything a decorator below this one set) moves to the wrapper.
 */
function handsOverStream(
  handler: (...args: unknown[]) => unknown,
): (...args: unknown[]) => unknown {
  const handOver = (result: unknown): unknown =>
    isObservable(result) ? handOverOf(result) : result;
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    const result = handler.apply(this, args);
    return result instanceof Promise ? result.then(handOver) : handOver(result);
  };
  for (const key of Reflect.getOwnMetadataKeys(handler)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, handler), wrapper);
  }
  Object.defineProperty(wrapper, 'name', { value: handler.name });
  return wrapper;
}
