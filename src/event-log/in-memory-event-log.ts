import {
  AppendConflictError,
  AppendInput,
  AppendOptions,
  compareIds,
  epochSeed,
  EventLog,
  LiveListener,
  LogEvent,
  mergeById,
  ReadResult,
  Unsubscribe,
} from './event-log';
import { estimateEventBytes } from './event-size';
import { LiveFanout } from './live-fanout';

interface TopicLog {
  events: LogEvent[];
  /** Index of the oldest retained event in `events` (trimmed lazily to keep appends O(1)). */
  start: number;
  /** The newest id this topic dropped (retention, budget), if any. */
  droppedUpTo: string | undefined;
}

/** A retained event's place in the store-wide age order, and what it counts against the budget. */
interface Held {
  /** Undefined once the event is gone (dropped by its topic's retention, evicted, expired). */
  event: LogEvent | undefined;
  readonly bytes: number;
}

/** Enough for a ceiling nobody reaches by accident; the real default comes from STORE_MAX_BYTES. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * The embedded event log: per-topic arrays capped at `retention` events, one global sequence for ids,
 * and in-process fan-out to live listeners. Lost on restart; use Redis for several instances.
 *
 * Bounded in total (STORE_MAX_BYTES, CONTRACT §2): every retained event counts its estimated size
 * (estimateEventBytes); past `maxBytes` the oldest events go first, whatever their topic, and their
 * topic remembers it dropped them, so a client resuming before them gets `history_truncated`. A topic
 * left with no event and no subscriber is forgotten; `expire` forgets a topic after a delay (finished
 * AI answers). So neither events nor topics can grow the process past the budget.
 *
 * The sequence starts from the clock (epochSeed), so an id from before a restart is known as one.
 */
export class InMemoryEventLog implements EventLog {
  /** The sequence this store started from: ids at or below it are from before its start. */
  private readonly base: number;
  private sequence: number;
  private readonly topics = new Map<string, TopicLog>();
  private readonly fanout = new LiveFanout();
  /** Retained events, oldest first, across topics (holes are events already gone). */
  private order: Held[] = [];
  private orderHead = 0;
  private holes = 0;
  private readonly held = new Map<LogEvent, Held>();
  private bytes = 0;
  /**
   * The newest id dropped from a topic that was then forgotten. A topic created later starts with
   * it as its drop mark: nothing tells whether it existed before, so a resume from before that id
   * is told about a possible gap rather than skip one silently.
   */
  private forgottenUpTo: string | undefined;
  /** Topics to forget, by deadline (ms since the epoch), soonest first; one timer for all. */
  private expiries: Array<{ topic: string; at: number }> = [];
  private readonly expiryOf = new Map<string, number>();
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly retention: number,
    private readonly maxBytes: number = UNBOUNDED,
    base: number = epochSeed(),
  ) {
    this.base = base;
    this.sequence = base;
  }

  /** Estimated bytes of the events retained now (never above maxBytes but for one oversized event). */
  get retainedBytes(): number {
    return this.bytes;
  }

  /** Topics kept now (with events, or emptied while someone listens). */
  get topicCount(): number {
    return this.topics.size;
  }

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
      for (let i = log.start; i < log.events.length; i++) this.release(log.events[i]!);
      log.events = [];
      log.start = 0;
      this.compactOrder();
      this.forgetIfUnused(topic);
    }
    return Promise.resolve(true);
  }

  readAfter(topics: readonly string[], afterId: string | undefined): Promise<ReadResult> {
    const unknown = afterId !== undefined && Number(afterId) > this.sequence;
    if (unknown) return Promise.resolve({ events: [], truncated: false, unknown });
    // An id from before this store started: whatever followed it then is gone.
    let truncated = afterId !== undefined && Number(afterId) <= this.base;
    const parts: LogEvent[][] = [];
    for (const topic of new Set(topics)) {
      const log = this.topics.get(topic);
      const droppedUpTo = log ? log.droppedUpTo : this.forgottenUpTo;
      if (
        afterId !== undefined &&
        droppedUpTo !== undefined &&
        compareIds(droppedUpTo, afterId) > 0
      ) {
        truncated = true;
      }
      if (log) parts.push(this.retainedAfter(log, afterId));
    }
    const events = mergeById(parts);
    return Promise.resolve({ events, truncated, unknown: false });
  }

  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe {
    const unsubscribe = this.fanout.subscribe(topics, listener);
    return () => {
      unsubscribe();
      // The last listener of a topic emptied meanwhile (budget) takes the topic with it.
      for (const topic of topics) this.forgetIfUnused(topic);
    };
  }

  lastId(): Promise<string | undefined> {
    return Promise.resolve(this.sequence > this.base ? String(this.sequence) : undefined);
  }

  subscriberCount(): number {
    return this.fanout.count;
  }

  expire(topics: readonly string[], afterMs: number): Promise<void> {
    const at = Date.now() + afterMs;
    for (const topic of new Set(topics)) {
      this.expiryOf.set(topic, at);
      // Deadlines are kept sorted; with one delay for everything (AI_RETENTION_MS) this is a push.
      let i = this.expiries.length;
      while (i > 0 && this.expiries[i - 1]!.at > at) i--;
      this.expiries.splice(i, 0, { topic, at });
    }
    this.armExpiryTimer();
    return Promise.resolve();
  }

  persist(topics: readonly string[]): Promise<void> {
    // The deadline's entry stays in `expiries`; expireDue skips it (no longer the topic's deadline).
    for (const topic of topics) this.expiryOf.delete(topic);
    return Promise.resolve();
  }

  whenLive(): Promise<void> {
    return Promise.resolve();
  }

  isHealthy(): Promise<boolean> {
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    this.fanout.clear();
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    return Promise.resolve();
  }

  private retain(event: LogEvent, keepAll: boolean): void {
    let log = this.topics.get(event.topic);
    if (!log) {
      log = { events: [], start: 0, droppedUpTo: this.forgottenUpTo };
      this.topics.set(event.topic, log);
    }
    log.events.push(event);
    const entry: Held = { event, bytes: estimateEventBytes(event) };
    this.held.set(event, entry);
    this.order.push(entry);
    this.bytes += entry.bytes;
    if (!keepAll && log.events.length - log.start > this.retention) this.dropOldest(log);
    // Oldest first across topics, but never the event just appended (one oversized event stays).
    while (this.bytes > this.maxBytes && this.held.size > 1) this.evictOldest();
    this.compactOrder();
  }

  /** Drops a topic's oldest retained event (its retention, or the budget reaching it). */
  private dropOldest(log: TopicLog): void {
    const event = log.events[log.start]!;
    log.droppedUpTo = event.id;
    log.start++;
    this.release(event);
    // Compact once the dropped prefix is as long as what is kept: amortized O(1) per append.
    if (log.start >= Math.max(1, log.events.length - log.start)) {
      log.events = log.events.slice(log.start);
      log.start = 0;
    }
  }

  /** Evicts the oldest retained event of the whole store (STORE_MAX_BYTES). */
  private evictOldest(): void {
    while (this.orderHead < this.order.length) {
      const entry = this.order[this.orderHead++]!;
      if (entry.event === undefined) {
        this.holes--;
        continue;
      }
      const topic = entry.event.topic;
      // Both orders are by id, so the store's oldest event is its topic's oldest.
      this.dropOldest(this.topics.get(topic)!);
      // Its entry is behind the head already: not a hole left to skip.
      this.holes--;
      this.forgetIfUnused(topic);
      return;
    }
  }

  private release(event: LogEvent): void {
    const entry = this.held.get(event);
    if (!entry) return;
    this.held.delete(event);
    this.bytes -= entry.bytes;
    entry.event = undefined;
    this.holes++;
  }

  /** Keeps the age order's length proportional to what is retained (holes and the consumed head). */
  private compactOrder(): void {
    const length = this.order.length - this.orderHead;
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
    if (this.holes > 1024 && this.holes * 2 > length) {
      this.order = this.order.slice(this.orderHead).filter((entry) => entry.event !== undefined);
      this.orderHead = 0;
      this.holes = 0;
    }
  }

  /** A topic with no event left and nobody listening is forgotten (its drop mark goes store-wide). */
  private forgetIfUnused(topic: string): void {
    const log = this.topics.get(topic);
    if (!log || log.start < log.events.length || this.fanout.has(topic)) return;
    this.topics.delete(topic);
    if (
      log.droppedUpTo !== undefined &&
      (this.forgottenUpTo === undefined || compareIds(log.droppedUpTo, this.forgottenUpTo) > 0)
    ) {
      this.forgottenUpTo = log.droppedUpTo;
    }
  }

  /** An expired topic goes with everything it retained. */
  private forgetTopic(topic: string): void {
    const log = this.topics.get(topic);
    if (!log) return;
    for (let i = log.start; i < log.events.length; i++) this.release(log.events[i]!);
    this.topics.delete(topic);
    this.compactOrder();
  }

  private armExpiryTimer(): void {
    clearTimeout(this.expiryTimer);
    const next = this.expiries[0];
    if (!next) {
      this.expiryTimer = undefined;
      return;
    }
    this.expiryTimer = setTimeout(() => this.expireDue(), Math.max(0, next.at - Date.now()));
    this.expiryTimer.unref();
  }

  private expireDue(): void {
    const now = Date.now();
    while (this.expiries.length > 0 && this.expiries[0]!.at <= now) {
      const { topic, at } = this.expiries.shift()!;
      // A later expire() of the same topic replaced this deadline.
      if (this.expiryOf.get(topic) !== at) continue;
      this.expiryOf.delete(topic);
      this.forgetTopic(topic);
    }
    this.armExpiryTimer();
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
