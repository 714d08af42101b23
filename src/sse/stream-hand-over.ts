import type { Observable } from 'rxjs';
import type { SseEmission } from './sse-message';

/** Route metadata of an @SseEndpoint: the stream's kind (counts, metrics) and its extra headers. */
export const SSE_KIND = 'rivulet:sse-kind';
export const SSE_HEADERS = 'rivulet:sse-headers';

const STREAM = Symbol('rivulet.stream');

/** A handler's stream, handed to SseInterceptor as one value (see handsOverStream). */
export interface StreamHandOver {
  readonly [STREAM]: Observable<SseEmission>;
}

export function isStreamHandOver(value: unknown): value is StreamHandOver {
  return typeof value === 'object' && value !== null && STREAM in value;
}

export function streamOf(handOver: StreamHandOver): Observable<SseEmission> {
  return handOver[STREAM];
}

/** The hand-over of a handler's Observable (see SseEndpoint). */
export function handOverOf(stream: Observable<unknown>): StreamHandOver {
  return { [STREAM]: stream as Observable<SseEmission> };
}
