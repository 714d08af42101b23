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
