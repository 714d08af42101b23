import { Observable } from 'rxjs';
import { SSE_OPEN, sseBatch, SseEmission, SseMessage } from './sse-message';
import type { EventLog, LogEvent } from '../event-log/event-log';
import { LogStreamItem, streamFromLog } from '../event-log/event-stream';

export type ReplayItem = Extract<LogStreamItem, { kind: 'replay' }>;

/**
 * Wraps `build` so that each log event gets its message once: every connection an event is fanned
 * out to writes the same message object, whose frame the serializer caches (frameOf).
 */
export function messagePerEvent(
  build: (event: LogEvent) => SseMessage,
): (event: LogEvent) => SseMessage {
  const messages = new WeakMap<LogEvent, SseMessage>();
  return (event) => {
    let message = messages.get(event);
    if (!message) {
      message = build(event);
      messages.set(event, message);
    }
    return message;
  };
}

/**
 * A replayable log subscription as a stream's emissions: SSE_OPEN at once, then the catch-up as one
 * batch (a `{"type":"reset","reason"}` control message first when the resume point was truncated or
 * unknown, docs/protocol.md §2), then each live event. `toMessage` must return the same message object for
 * the same event (see messagePerEvent) so a fan-out serializes each event once. A stream with its
 * own catch-up protocol (the seed's /events) passes `catchUp` to build that part itself.
 */
export function logStreamEmissions(
  log: EventLog,
  topics: readonly string[],
  lastEventId: string | undefined,
  toMessage: (event: LogEvent) => SseMessage,
  catchUp: (item: ReplayItem) => SseEmission = (item) => replayBatch(item, toMessage),
): Observable<SseEmission> {
  // Hand-written rather than concat(of(SSE_OPEN), items.pipe(map(...))): this runs once per
  // delivered event per subscriber, so it stays one function call deep.
  return new Observable<SseEmission>((subscriber) => {
    subscriber.next(SSE_OPEN);
    return streamFromLog(log, topics, lastEventId).subscribe({
      next: (item) => subscriber.next(item.kind === 'live' ? toMessage(item.event) : catchUp(item)),
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  });
}

function replayBatch(item: ReplayItem, toMessage: (event: LogEvent) => SseMessage): SseEmission {
  const messages: SseMessage[] = [];
  if (item.reset) messages.push({ data: { type: 'reset', reason: item.reset } });
  for (const event of item.events) messages.push(toMessage(event));
  return messages.length > 0 ? sseBatch(messages) : SSE_OPEN;
}
