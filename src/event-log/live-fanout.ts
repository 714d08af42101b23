import type { LiveListener, LogEvent, Unsubscribe } from './event-log';

/**
 * The in-process half of live delivery, shared by every adapter: listeners by topic, and one pass
 * over a topic's listeners per event. An adapter calls dispatch() once per event it learns of (the
 * in-memory log on append, the Redis log from its single reader).
 */
export class LiveFanout {
  private readonly listeners = new Map<string, Set<LiveListener>>();
  private subscriptions = 0;

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

  /** Hands `event` to its topic's listeners (a Set: one that leaves meanwhile is skipped). */
  dispatch(event: LogEvent): void {
    const listeners = this.listeners.get(event.topic);
    if (listeners) for (const listener of listeners) listener(event);
  }

  clear(): void {
    this.listeners.clear();
    this.subscriptions = 0;
  }
}
