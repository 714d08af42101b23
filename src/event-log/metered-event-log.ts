import {
  AppendConflictError,
  type AppendInput,
  type AppendOptions,
  type EventLog,
  type LiveListener,
  type LogEvent,
  type ReadResult,
  type Unsubscribe,
} from './event-log';

/**
 * An EventLog decorator that counts what goes through the port, whatever the adapter: plain integers
 * bumped on each call, read by /metrics when it is scraped (no metrics library on the hot path).
 */
export class MeteredEventLog implements EventLog {
  /** Events appended (published) successfully. */
  appended = 0;
  /** Appends the store rejected (store unreachable, ...). */
  appendFailures = 0;

  constructor(private readonly inner: EventLog) {}

  async append<T>(input: AppendInput<T>, options?: AppendOptions): Promise<LogEvent<T>> {
    try {
      const event = await this.inner.append(input, options);
      this.appended++;
      return event;
    } catch (error) {
      // A lost compare-and-append race is the caller's retry, not a store failure.
      if (!(error instanceof AppendConflictError)) this.appendFailures++;
      throw error;
    }
  }

  deleteTopic(topic: string, ifLastId?: string): Promise<boolean> {
    return this.inner.deleteTopic(topic, ifLastId);
  }

  readAfter(topics: readonly string[], afterId: string | undefined): Promise<ReadResult> {
    return this.inner.readAfter(topics, afterId);
  }

  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe {
    return this.inner.subscribe(topics, listener);
  }

  expire(topics: readonly string[], afterMs: number): Promise<void> {
    return this.inner.expire(topics, afterMs);
  }

  persist(topics: readonly string[]): Promise<void> {
    return this.inner.persist(topics);
  }

  lastId(): Promise<string | undefined> {
    return this.inner.lastId();
  }

  subscriberCount(): number {
    return this.inner.subscriberCount();
  }

  whenLive(): Promise<void> {
    return this.inner.whenLive();
  }

  isHealthy(): Promise<boolean> {
    return this.inner.isHealthy();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
