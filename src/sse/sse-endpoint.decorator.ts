import { applyDecorators, Get, Post, Res, SetMetadata, UseInterceptors } from '@nestjs/common';
import { SseInterceptor } from './sse.interceptor';

export const SSE_KIND = 'rivulet:sse-kind';

export interface SseEndpointOptions {
  /** GET (default, what EventSource sends) or POST (fetch clients that send a body, e.g. an AI prompt). */
  method?: 'GET' | 'POST';
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
export function SseEndpoint(path: string, kind: string, options: SseEndpointOptions = {}): MethodDecorator {
  const ownsResponse: MethodDecorator = (target, key, descriptor) => {
    const handler = descriptor.value as unknown as (...args: unknown[]) => unknown;
    Res()(target, key, handler.length);
  };
  return applyDecorators(
    options.method === 'POST' ? Post(path) : Get(path),
    ownsResponse,
    SetMetadata(SSE_KIND, kind),
    UseInterceptors(SseInterceptor),
  );
}
