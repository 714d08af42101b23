/**
 * Who is reading a generation, across instances: the instance running a generation asks it, when its
 * grace timer fires, whether anybody anywhere still reads (or read within AI_DETACH_GRACE_MS). Every
 * instance reports its own readers with enter/leave. Chosen with the store in AiModule: in-memory =
 * this process is alone (local counts), Redis = a sorted set of instances per generation.
 */
export interface ReaderPresence {
  /** A reader of generation `generationId` started on this instance. */
  enter(generationId: string): void;
  /** That reader stopped. */
  leave(generationId: string): void;
  /**
   * How many ms are left before the generation has had no reader anywhere for the grace period:
   * 0 = abandon it now. Rejects when the shared store cannot answer.
   */
  graceLeftMs(generationId: string): Promise<number>;
  /** The generation ended: drop what this instance keeps about it. */
  forget(generationId: string): void;
  close(): Promise<void>;
}

export const READER_PRESENCE = Symbol('READER_PRESENCE');

interface LocalReaders {
  count: number;
  /** Date.now() when the count last fell to 0. */
  lastLeftAt: number;
  /** Drops the entry once its grace has passed with nobody back. */
  sweep: NodeJS.Timeout | undefined;
}

/** One process: readers are counted here, and the last one's departure starts the grace period. */
export class InMemoryReaderPresence implements ReaderPresence {
  private readonly readers = new Map<string, LocalReaders>();

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  enter(generationId: string): void {
    const entry = this.readers.get(generationId);
    if (entry) {
      entry.count++;
      clearTimeout(entry.sweep);
      entry.sweep = undefined;
    } else {
      this.readers.set(generationId, { count: 1, lastLeftAt: 0, sweep: undefined });
    }
  }

  leave(generationId: string): void {
    const entry = this.readers.get(generationId);
    if (!entry || entry.count === 0) return;
    entry.count--;
    if (entry.count > 0) return;
    entry.lastLeftAt = this.now();
    entry.sweep = setTimeout(() => {
      if (this.readers.get(generationId) === entry && entry.count === 0)
        this.readers.delete(generationId);
    }, this.graceMs);
    entry.sweep.unref();
  }

  graceLeftMs(generationId: string): Promise<number> {
    return Promise.resolve(graceLeft(this.readers.get(generationId), this.graceMs, this.now()));
  }

  forget(generationId: string): void {
    clearTimeout(this.readers.get(generationId)?.sweep);
    this.readers.delete(generationId);
  }

  close(): Promise<void> {
    for (const entry of this.readers.values()) clearTimeout(entry.sweep);
    this.readers.clear();
    return Promise.resolve();
  }

  /** Readers of a generation on this instance (for tests and diagnostics). */
  localReaders(generationId: string): number {
    return this.readers.get(generationId)?.count ?? 0;
  }
}

function graceLeft(entry: LocalReaders | undefined, graceMs: number, now: number): number {
  if (!entry) return 0;
  if (entry.count > 0) return graceMs;
  return Math.max(0, entry.lastLeftAt + graceMs - now);
}
