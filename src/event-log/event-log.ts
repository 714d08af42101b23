import { TemporarilyUnavailableError } from '../common/unavailable.error';

/** An event of the log. `id` is assigned by the store: a decimal sequence number, global to the store. */
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
  append<T>(input: AppendInput<T>): Promise<LogEvent<T>>;
  /** Retained events after `afterId` (all retained events when undefined) on `topics`, merged in id order. */
  readAfter(topics: readonly string[], afterId: string | undefined): Promise<ReadResult>;
  /** Live events on `topics` from now on, in id order; delivered to listeners in process. */
  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe;
  /** The newest id handed out, if any. */
  lastId(): Promise<string | undefined>;
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
 * The store cannot be reached right now (Redis down, timed out). Thrown by append/readAfter instead of
 * waiting forever; the HTTP layer answers 503 so the client retries (see HttpExceptionFilter).
 */
export class StoreUnavailableError extends TemporarilyUnavailableError {
  override readonly name = 'StoreUnavailableError';

  constructor(message: string) {
    super(message, 'The event store is unavailable; retry shortly');
  }
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
