import { Observable } from 'rxjs';
import { EventLog, isAfter, LogEvent, Unsubscribe } from './event-log';

export type ResetReason = 'history_truncated' | 'unknown_id';

export type ReplayItem = {
  kind: 'replay';
  events: LogEvent[];
  reset: ResetReason | undefined;
  resumed: boolean;
};

/** What a resumable subscription yields: first the catch-up (possibly empty), then live events. */
export type LogStreamItem = ReplayItem | { kind: 'live'; event: LogEvent };

/** Who receives a followed log: the catch-up once, then each live event; or the read's failure. */
export interface LogFollower {
  replay(item: ReplayItem): void;
  live(event: LogEvent): void;
  error(error: unknown): void;
}

/**
 * Subscribes to `topics` and resumes after `afterId` with no gap and no duplicate: live events are
 * listened to first and held back while the history is read, then those not already replayed follow.
 * Calls `replay` exactly once, then `live` per event, with no Observable in between (this runs once
 * per delivered event per subscriber). The returned function releases the live subscription.
 */
export function followLog(
  log: EventLog,
  topics: readonly string[],
  afterId: string | undefined,
  follower: LogFollower,
  options: { replayAll?: boolean } = {},
): Unsubscribe {
  let held: LogEvent[] | undefined = [];
  let lastSent = afterId;
  let released = false;
  const unsubscribe = log.subscribe(topics, (event) => {
    if (held) {
      held.push(event);
      return;
    }
    if (isAfter(event.id, lastSent)) {
      lastSent = event.id;
      follower.live(event);
    }
  });
  const resumed = afterId !== undefined;
  // Without a resume point, a plain subscriber gets live events only, unless replayAll asks for history.
  const read = resumed || options.replayAll ? log.readAfter(topics, afterId) : undefined;
  const replay = read ?? Promise.resolve({ events: [], truncated: false, unknown: false });
  replay.then(
    ({ events, truncated, unknown }) => {
      if (released) return;
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
      follower.replay({ kind: 'replay', events, reset, resumed });
      const pending = held ?? [];
      held = undefined;
      for (const event of pending) {
        if (released) return;
        if (isAfter(event.id, lastSent)) {
          lastSent = event.id;
          follower.live(event);
        }
      }
    },
    (error: unknown) => {
      if (!released) follower.error(error);
    },
  );
  return () => {
    released = true;
    held = undefined;
    unsubscribe();
  };
}

/** followLog as an Observable of items: one `replay` item, then `live` items. */
export function streamFromLog(
  log: EventLog,
  topics: readonly string[],
  afterId: string | undefined,
  options: { replayAll?: boolean } = {},
): Observable<LogStreamItem> {
  return new Observable<LogStreamItem>((subscriber) =>
    followLog(
      log,
      topics,
      afterId,
      {
        replay: (item) => subscriber.next(item),
        live: (event) => subscriber.next({ kind: 'live', event }),
        error: (error) => subscriber.error(error),
      },
      options,
    ),
  );
}
