import { Logger } from '@nestjs/common';
import type { LiveListener, LogEvent, Unsubscribe } from './event-log';

const logger = new Logger('LiveFanout');

/**
 * The in-process half of live delivery, shared by every adapter: listeners by topic, and one pass
 * over a topic's listeners per event. An adapter calls dispatch() once per event it learns of (the
 * in-memory log on append, the Redis log from its single reader).
 */
export class LiveFanout {
  private readonly listeners = new Map<string, Set<LiveListener>>();
  private subscriptions = 0;

  constructor(
    private readonly onError: (error: unknown, event: LogEvent) => void = (error, event) =>
      logger.error(
        `a live listener of ${event.topic} failed on event ${event.id}: ${String(error)}`,
      ),
  ) {}

  get count(): number {
    return this.subscriptions;
  }

  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe {
    const unique = [...new Set(topics)];
    for (const topic of unique) {
      let set = this.listeners.get(topic);
      if (!set) this.listeners.set(topic, (set = new Set()));
      set.add(listener);
    }
    this.subscriptions++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.subscriptions--;
      for (const topic of unique) {
        const set = this.listeners.get(topic);
        set?.delete(listener);
        if (set?.size === 0) this.listeners.delete(topic);
      }
    };
  }

  /** Whether anyone listens to `topic` (the memory store keeps an emptied topic only then). */
  has(topic: string): boolean {
    return this.listeners.has(topic);
  }

  /**
   * Hands `event` to its topic's listeners (a Set: one that leaves meanwhile is skipped). A listener
   * that throws is reported to `onError` and the others still get the event: one broken subscriber
   * never reaches the publisher, the Redis reader or the process.
   */
  dispatch(event: LogEvent): void {
    const listeners = this.listeners.get(event.topic);
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error, event);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
    this.subscriptions = 0;
  }
}
