import { Inject, Injectable, Logger } from '@nestjs/common';
import { defer, finalize, Observable } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { READER_PRESENCE, ReaderPresence } from './reader-presence';

/**
 * The detach grace of running generations, and the presence of their readers. A generation runs
 * on while anybody anywhere reads it, or did within AI_DETACH_GRACE_MS: its timer asks
 * ReaderPresence (shared by every instance on Redis) when it fires, and sets itself again for the
 * grace that is left. Readers on this instance report themselves with `attended`.
 */
@Injectable()
export class DetachGrace {
  private readonly logger = new Logger(DetachGrace.name);
  /** Grace timers of the generations running here, by generation id. */
  private readonly timers = new Map<string, NodeJS.Timeout | undefined>();

  constructor(
    @Inject(READER_PRESENCE) private readonly presence: ReaderPresence,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Starts the grace of a generation that runs here (nobody may ever read it: the grace covers that
   * too). `onAbandoned` is called once nobody has read it anywhere for AI_DETACH_GRACE_MS, unless
   * `end` came first.
   */
  start(generationId: string, onAbandoned: () => void): void {
    this.arm(generationId, this.config.ai.detachGraceMs, onAbandoned);
  }

  /** The generation ended: its timer stops and presence forgets it. */
  end(generationId: string): void {
    clearTimeout(this.timers.get(generationId));
    this.timers.delete(generationId);
    this.presence.forget(generationId);
  }

  /** `items` read by a reader of a running generation: counted as a reader while subscribed. */
  attended<T>(generationId: string, items: Observable<T>): Observable<T> {
    return defer(() => {
      this.presence.enter(generationId);
      return items.pipe(finalize(() => this.presence.leave(generationId)));
    });
  }

  private arm(generationId: string, ms: number, onAbandoned: () => void): void {
    clearTimeout(this.timers.get(generationId));
    const timer = setTimeout(() => {
      this.timers.set(generationId, undefined);
      void this.check(generationId, onAbandoned);
    }, ms);
    timer.unref();
    this.timers.set(generationId, timer);
  }

  private async check(generationId: string, onAbandoned: () => void): Promise<void> {
    let left: number;
    try {
      left = await this.presence.graceLeftMs(generationId);
    } catch (error) {
      // The store cannot answer: keep the generation (its own writes fail, and stop it, if it stays away).
      this.logger.warn(`generation ${generationId}: readers unknown: ${String(error)}`);
      left = this.config.ai.detachGraceMs;
    }
    if (!this.timers.has(generationId)) return; // ended meanwhile
    if (left > 0) this.arm(generationId, left, onAbandoned);
    else onAbandoned();
  }
}
