import {
  AppendConflictError,
  AppendInput,
  AppendOptions,
  compareIds,
  EventLog,
  LiveListener,
  LogEvent,
  mergeById,
  ReadResult,
  Unsubscribe,
} from './event-log';
import { LiveFanout } from './live-fanout';

interface TopicLog {
  events: LogEvent[];
  /** Index of the oldest retained event in `events` (trimmed lazily to keep appends O(1)). */
  start: number;
  /** The newest id this topic dropped to retention, if any. */
  droppedUpTo: string | undefined;
}

/**
 * The embedded event log: per-topic arrays capped at `retention` events, one global sequence for ids,
 * and in-process fan-out to live listeners. Lost on restart; use Redis for several instances.
 */
export class InMemoryEventLog implements EventLog {
  private sequence = 0;
  private readonly topics = new Map<string, TopicLog>();
  private readonly fanout = new LiveFanout();

  constructor(private readonly retention: number) {}

  append<T>(input: AppendInput<T>, options: AppendOptions = {}): Promise<LogEvent<T>> {
    if (options.ifLastId !== undefined) {
      const log = this.topics.get(input.topic);
      const newest =
        log && log.events.length > log.start ? log.events[log.events.length - 1]!.id : null;
      if (newest !== options.ifLastId) {
        return Promise.reject(
          new AppendConflictError(
            `topic ${input.topic} has moved on (newest id ${newest ?? 'none'})`,
          ),
        );
      }
    }
    const event: LogEvent<T> = {
      id: String(++this.sequence),
      topic: input.topic,
      type: input.type,
      data: input.data,
      timestamp: Date.now(),
    };
    this.retain(event, options.keepAll === true);
    this.fanout.dispatch(options.announceOnly ? { ...event, data: undefined } : event);
    return Promise.resolve(event);
  }

  deleteTopic(topic: string, ifLastId?: string): Promise<boolean> {
    const log = this.topics.get(topic);
    const newest =
      log && log.events.length > log.start ? log.events[log.events.length - 1]! : undefined;
    if (ifLastId !== undefined && newest?.id !== ifLastId) return Promise.resolve(false);
    if (log && newest) {
      // Only the mark stays: a reader from before the deletion learns that it missed events.
      log.droppedUpTo = newest.id;
      log.events = [];
      log.start = 0;
    }
    return Promise.resolve(true);
  }

  readAfter(topics: readonly string[], afterId: string | undefined): Promise<ReadResult> {
    const unknown = afterId !== undefined && Number(afterId) > this.sequence;
    if (unknown) return Promise.resolve({ events: [], truncated: false, unknown });
    let truncated = false;
    const parts: LogEvent[][] = [];
    for (const topic of new Set(topics)) {
      const log = this.topics.get(topic);
      if (!log) continue;
      if (
        log.droppedUpTo !== undefined &&
        (afterId === undefined || compareIds(log.droppedUpTo, afterId) > 0)
      ) {
        truncated = afterId !== undefined;
      }
      parts.push(this.retainedAfter(log, afterId));
    }
    const events = mergeById(parts);
    return Promise.resolve({ events, truncated, unknown: false });
  }

  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe {
    return this.fanout.subscribe(topics, listener);
  }

  lastId(): Promise<string | undefined> {
    return Promise.resolve(this.sequence > 0 ? String(this.sequence) : undefined);
  }

  subscriberCount(): number {
    return this.fanout.count;
  }

  whenLive(): Promise<void> {
    return Promise.resolve();
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.fanout.clear();
    return Promise.resolve();
  }

  private retain(event: LogEvent, keepAll: boolean): void {
    let log = this.topics.get(event.topic);
    if (!log)
      this.topics.set(event.topic, (log = { events: [], start: 0, droppedUpTo: undefined }));
    log.events.push(event);
    const retained = log.events.length - log.start;
    if (!keepAll && retained > this.retention) {
      log.droppedUpTo = log.events[log.start]!.id;
      log.start++;
      // Compact once the dropped prefix is as long as what is kept: amortized O(1) per append.
      if (log.start >= this.retention) {
        log.events = log.events.slice(log.start);
        log.start = 0;
      }
    }
  }

  private retainedAfter(log: TopicLog, afterId: string | undefined): LogEvent[] {
    const { events, start } = log;
    if (afterId === undefined) return events.slice(start);
    // Binary search for the first event with an id greater than afterId.
    let lo = start;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(events[mid]!.id, afterId) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return events.slice(lo);
  }
}
