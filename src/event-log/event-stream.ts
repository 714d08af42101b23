import { Observable } from 'rxjs';
import { EventLog, isAfter, LogEvent } from './event-log';

export type ResetReason = 'history_truncated' | 'unknown_id';

/** What a resumable subscription yields: first the catch-up (possibly empty), then live events. */
export type LogStreamItem =
  | { kind: 'replay'; events: LogEvent[]; reset: ResetReason | undefined; resumed: boolean }
  | { kind: 'live'; event: LogEvent };

/**
 * Subscribes to `topics` and resumes after `afterId` with no gap and no duplicate: live events are
 * listened to first and held back while the history is read, then those not already replayed follow.
 * Emits exactly one `replay` item, then `live` items. Unsubscribing releases the live subscription.
 */
export function streamFromLog(
  log: EventLog,
  topics: readonly string[],
  afterId: string | undefined,
  options: { replayAll?: boolean } = {},
): Observable<LogStreamItem> {
  return new Observable<LogStreamItem>((subscriber) => {
    let held: LogEvent[] | undefined = [];
    let lastSent = afterId;
    const unsubscribe = log.subscribe(topics, (event) => {
      if (held) {
        held.push(event);
        return;
      }
      if (isAfter(event.id, lastSent)) {
        lastSent = event.id;
        subscriber.next({ kind: 'live', event });
      }
    });
    const resumed = afterId !== undefined;
    // Without a resume point, a plain subscriber gets live events only, unless replayAll asks for history.
    const read = resumed || options.replayAll ? log.readAfter(topics, afterId) : undefined;
    const replay = read ?? Promise.resolve({ events: [], truncated: false, unknown: false });
    replay.then(
      ({ events, truncated, unknown }) => {
        if (subscriber.closed) return;
        if (unknown) {
          // A forged or foreign id: nothing to replay; live from here on, and the held events count as live.
          lastSent = undefined;
        }
        const reset: ResetReason | undefined = unknown
          ? 'unknown_id'
          : truncated
            ? 'history_truncated'
            : undefined;
        const last = events[events.length - 1];
        if (last) lastSent = last.id;
        subscriber.next({ kind: 'replay', events, reset, resumed });
        const pending = held ?? [];
        held = undefined;
        for (const event of pending) {
          if (isAfter(event.id, lastSent)) {
            lastSent = event.id;
            subscriber.next({ kind: 'live', event });
          }
        }
      },
      (error: unknown) => subscriber.error(error),
    );
    return unsubscribe;
  });
}
