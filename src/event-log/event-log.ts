import { InvalidInputError } from '../common/invalid-input.error';
import { TemporarilyUnavailableError } from '../common/unavailable.error';

/**
 * An event of the log. `id` is assigned by the store: a decimal sequence number, global to the
 * store, that starts from the clock (see epochSeed), so ids handed out before a restart or a wipe
 * are recognised as such.
 */
export interface LogEvent<T = unknown> {
  readonly id: string;
  readonly topic: string;
  readonly type: string;
  readonly data: T;
  /** Milliseconds since the epoch, set when the event was appended. */
  readonly timestamp: number;
}

export interface AppendInput<T = unknown> {
  topic: string;
  type: string;
  data: T;
}

/** How an append is made (see EventLog.append). */
export interface AppendOptions {
  /**
   * Compare-and-append: the event is appended only if the newest retained event of the topic has
   * this id (`null`: only if the topic holds no event); otherwise the append fails with
   * AppendConflictError and nothing is written. Lets a feature serialize read-validate-write steps on
   * one topic across instances (Durable Streams' producers and sequence checks).
   */
  ifLastId?: string | null;
  /** Keep every event of this topic regardless of STORE_RETENTION, until deleteTopic (durable streams). */
  keepAll?: boolean;
  /**
   * Live subscribers get the event without its data (`data: undefined`); readAfter returns it whole.
   * For subscribers that re-read the topic anyway: a large payload is not copied to every instance's
   * live feed (on Redis, the fan-out stream is capped by count, not by bytes).
   */
  announceOnly?: boolean;
}

/** An append with `ifLastId` found another newest event on the topic: re-read and try again. */
export class AppendConflictError extends Error {
  override readonly name = 'AppendConflictError';
}

export interface ReadResult {
  /** Events with an id greater than the one asked for, on the topics asked for, in id order. */
  events: LogEvent[];
  /** Some events after the id were dropped by retention: the client missed events for good. */
  truncated: boolean;
  /** The id is newer than anything this store has handed out (forged, or from another store). */
  unknown: boolean;
}

export type LiveListener = (event: LogEvent) => void;
export type Unsubscribe = () => void;

/**
 * The event log port. Everything replayable is an event here, addressed by topic. Ids are strictly
 * increasing across all topics of a store, so one Last-Event-ID resumes any set of topics.
 *
 * Adapters: InMemoryEventLog (STORE=memory, the embedded default) and RedisStreamsEventLog
 * (STORE=redis). Both pass the contract suite in event-log.contract.ts.
 */
export interface EventLog {
  append<T>(input: AppendInput<T>, options?: AppendOptions): Promise<LogEvent<T>>;
  /**
   * Drops every event of `topic`. A later readAfter from an id handed out before reports `truncated`
   * (those events are gone for good); the topic can be appended to again (`ifLastId: null` holds).
   * With `ifLastId`, only if the topic's newest event still has that id. Resolves whether it deleted.
   */
  deleteTopic(topic: string, ifLastId?: string): Promise<boolean>;
  /** Retained events after `afterId` (all retained events when undefined) on `topics`, merged in id order. */
  readAfter(topics: readonly string[], afterId: string | undefined): Promise<ReadResult>;
  /** Live events on `topics` from now on, in id order; delivered to listeners in process. */
  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe;
  /** The newest id handed out, if any. */
  lastId(): Promise<string | undefined>;
  /**
   * Forgets `topics` `afterMs` from now: their events and their drop marks go, and a read of them
   * finds nothing (a finished AI answer after AI_RETENTION_MS). On Redis, a key expiry.
   */
  expire(topics: readonly string[], afterMs: number): Promise<void>;
  /**
   * Cancels a pending expire() of `topics`: they are kept until the next expire() (an AI SDK chat
   * that starts a new answer while the last one's deadline runs). On Redis, PERSIST.
   */
  persist(topics: readonly string[]): Promise<void>;
  /** Live subscriptions currently held (for leak checks and metrics). */
  subscriberCount(): number;
  /**
   * Resolves once live delivery is established: a subscription made from then on sees every later
   * append, from any instance. Start-up waits for it (for a bounded time, so a store that is down
   * does not stop the process from starting and reporting not-ready).
   */
  whenLive(): Promise<void>;
  /** Whether the store can be used now (readiness). */
  isHealthy(): Promise<boolean>;
  close(): Promise<void>;
}

export const EVENT_LOG = Symbol('EVENT_LOG');

/**
 * An event whose data cannot be stored (a value JSON cannot write: nested deeper than the stack
 * allows, a cycle, a BigInt). The HTTP layer answers 400 (see HttpExceptionFilter); request bodies
 * never get here, since they are refused past MAX_JSON_DEPTH while being parsed.
 */
export class UnserializableEventError extends InvalidInputError {
  override readonly name = 'UnserializableEventError';
}

/**
 * The store cannot be reached right now (Redis down, timed out). Thrown by append/readAfter instead of
 * waiting forever; the HTTP layer answers 503 so the client retries (see HttpExceptionFilter).
 */
export class StoreUnavailableError extends TemporarilyUnavailableError {
  override readonly name = 'StoreUnavailableError';

  constructor(message: string) {
    super(message, 'The event store is unavailable; retry shortly');
  }
}

/**
 * Where a store's sequence starts when it has nothing (memory at start-up, Redis empty): the
 * clock in microseconds-of-milliseconds (ms × 1000). A store that starts again later starts above
 * every id it handed out before, as long as it appended fewer than 1000 events per millisecond on
 * average, so an id from before is at or below the new start: readAfter reports it `truncated`
 * (the client gets a reset and every event of the new epoch) instead of skipping the new events
 * whose ids happen to be above it. 16 digits until the year 2255, below 2^53.
 */
export function epochSeed(nowMs: number = Date.now()): number {
  return Math.floor(nowMs) * 1000;
}

/** Ids are decimal sequence numbers; compare them as numbers, not strings. */
export function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

export function isAfter(id: string, reference: string | undefined): boolean {
  return reference === undefined || compareIds(id, reference) > 0;
}

/** Events of several topics, each already in id order, as one list in id order. */
export function mergeById(parts: readonly LogEvent[][]): LogEvent[] {
  if (parts.length === 1) return parts[0]!;
  return parts.flat().sort((a, b) => compareIds(a.id, b.id));
}
