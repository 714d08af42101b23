import { Observable } from 'rxjs';
import type { EventLog, LogEvent } from '../event-log/event-log';
import { followLog, LogFollower, ReplayItem } from '../event-log/event-stream';
import {
  directSseSource,
  SSE_OPEN,
  sseBatch,
  SseEmission,
  SseMessage,
  SseSink,
} from './sse-message';

export type { ReplayItem };

/**
 * Wraps `build` so that each log event gets its message once: every connection an event is fanned
 * out to writes the same message object, whose frame the serializer caches (frameOf). A fan-out
 * asks for the same event once per subscriber in a row, so the last event is checked first.
 */
export function messagePerEvent(
  build: (event: LogEvent) => SseMessage,
): (event: LogEvent) => SseMessage {
  const messages = new WeakMap<LogEvent, SseMessage>();
  let lastEvent: LogEvent | undefined;
  let lastMessage: SseMessage | undefined;
  return (event) => {
    if (event === lastEvent) return lastMessage!;
    let message = messages.get(event);
    if (!message) {
      message = build(event);
      messages.set(event, message);
    }
    lastEvent = event;
    lastMessage = message;
    return message;
  };
}

/** Hands a followed log to a stream's sink: the catch-up as one emission, live events as they come. */
class SinkFollower implements LogFollower {
  constructor(
    private readonly sink: SseSink,
    private readonly toMessage: (event: LogEvent) => SseMessage,
    private readonly catchUp: ((item: ReplayItem) => SseEmission) | undefined,
  ) {}

  replay(item: ReplayItem): void {
    this.sink.next(this.catchUp ? this.catchUp(item) : replayBatch(item, this.toMessage));
  }

  live(event: LogEvent): void {
    this.sink.live(this.toMessage(event));
  }

  error(error: unknown): void {
    this.sink.error(error);
  }
}

/**
 * A replayable log subscription as a stream's emissions: SSE_OPEN at once, then the catch-up as one
 * batch (a `{"type":"reset","reason"}` control message first when the resume point was truncated or
 * unknown, docs/protocol.md §2), then each live event. `toMessage` must return the same message object for
 * the same event (see messagePerEvent) so a fan-out serializes each event once. A stream with its
 * own catch-up protocol (the seed's /events) passes `catchUp` to build that part itself.
 *
 * The result is an Observable that Rivulet's writer connects to directly: a live event goes from
 * the log's fan-out to the connection through two plain calls, with no RxJS subscriber in between.
 */
export function logStreamEmissions(
  log: EventLog,
  topics: readonly string[],
  lastEventId: string | undefined,
  toMessage: (event: LogEvent) => SseMessage,
  catchUp?: (item: ReplayItem) => SseEmission,
): Observable<SseEmission> {
  return directSseSource((sink) => {
    sink.next(SSE_OPEN);
    return followLog(log, topics, lastEventId, new SinkFollower(sink, toMessage, catchUp));
  });
}

function replayBatch(item: ReplayItem, toMessage: (event: LogEvent) => SseMessage): SseEmission {
  const messages: SseMessage[] = [];
  if (item.reset) messages.push({ data: { type: 'reset', reason: item.reset } });
  for (const event of item.events) messages.push(toMessage(event));
  return messages.length > 0 ? sseBatch(messages) : SSE_OPEN;
}
