import { Observable } from 'rxjs';

/**
 * What a stream emits. `data` is a string (sent as is, one `data:` line per line) or any JSON value.
 * Only events of the log carry an `id`; control messages carry none, so they never move a client's
 * Last-Event-ID.
 */
export interface SseMessage {
  data?: unknown;
  /** The `event:` field; omitted means "message". */
  type?: string;
  id?: string;
  retry?: number;
  comment?: string;
}

const BATCH = Symbol('sse.batch');
const OPEN = Symbol('sse.open');

/**
 * Messages written back to back with backpressure (a replay): the connection writes them as fast as
 * the client reads, waiting for `drain`, and queues live messages that arrive meanwhile behind them.
 */
export interface SseBatch {
  readonly [BATCH]: readonly SseMessage[];
}

/** Marks the moment a stream is established: the engine sends headers, `retry:` and a comment. */
export interface SseOpen {
  readonly [OPEN]: true;
}

export type SseEmission = SseMessage | SseBatch | SseOpen;

export const SSE_OPEN: SseOpen = Object.freeze({ [OPEN]: true as const });

export function sseBatch(messages: readonly SseMessage[]): SseBatch {
  return { [BATCH]: messages };
}

export function isSseBatch(value: SseEmission): value is SseBatch {
  return BATCH in value;
}

export function batchMessages(batch: SseBatch): readonly SseMessage[] {
  return batch[BATCH];
}

export function isSseOpen(value: SseEmission): value is SseOpen {
  return OPEN in value;
}

/**
 * What a stream writes to: SseResponseWriter implements it. `live` takes one message of a fan-out
 * (the same object for every subscriber of an event, so its frame is built once).
 */
export interface SseSink {
  next(value: SseEmission): void;
  live(message: SseMessage): void;
  error(error: unknown): void;
  complete(): void;
}

const CONNECT = Symbol('sse.connect');

/**
 * An Observable that can also feed a writer directly, with no RxJS subscriber between the event
 * source and the connection (the per-delivery path of a fan-out). Subscribing to it still works.
 */
export type DirectSseSource = Observable<SseEmission> & {
  readonly [CONNECT]: (sink: SseSink) => () => void;
};

export function directSseSource(connect: (sink: SseSink) => () => void): DirectSseSource {
  const observable = new Observable<SseEmission>((subscriber) =>
    connect({
      next: (value) => subscriber.next(value),
      live: (message) => subscriber.next(message),
      error: (error) => subscriber.error(error),
      complete: () => subscriber.complete(),
    }),
  );
  return Object.assign(observable, { [CONNECT]: connect });
}

/** Connects `sink` to `source` (directly when it is a DirectSseSource); returns the release. */
export function connectSink(source: Observable<SseEmission>, sink: SseSink): () => void {
  if (CONNECT in source) return (source as DirectSseSource)[CONNECT](sink);
  const subscription = source.subscribe(sink);
  return () => subscription.unsubscribe();
}
