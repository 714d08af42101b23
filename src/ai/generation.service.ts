import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EVENT_LOG, EventLog, Unsubscribe } from '../event-log/event-log';
import { SseEmission } from '../sse/sse-message';
import { AiErrorReason, AiEvent, AiSeedEntry, aiOwnerTopic, aiTopic, seedTopic } from './ai-events';
import { AiAbortReason, AiGenerationOutcome, AiMetrics } from './ai-metrics';
import { AI_PROVIDER, AiProvider, ChatMessage } from './ai-provider';
import { DetachGrace } from './detach-grace';
import type { Pace } from './dto/ai-chat.dto';
import { Admission, GenerationAdmission } from './generation-admission';
import { CancelOutcome, GenerationCancels } from './generation-cancels';
import { GenerationReader, promptKey } from './generation-reader';
import { GenerationRun } from './generation-run';

export type { CancelOutcome } from './generation-cancels';

/** A generation running on this instance (or ended, until its terminal event is written). */
interface Generation {
  readonly id: string;
  /** JWT `sub` of whoever started it (undefined in open mode or for a token without `sub`). */
  readonly owner: string | undefined;
  /** The seed topic indexing it (seed URL generations only): expires with it. */
  readonly seedTopic: string | undefined;
  /** Further topics that expire with it (StartOptions.expireWith). */
  readonly expireWith: readonly string[];
  readonly admission: Admission;
  readonly run: GenerationRun;
  /** Stops watching its topic for a terminal event written elsewhere (GenerationCancels). */
  unwatch: Unsubscribe;
}

export interface StartOptions {
  /** promptKey of the seed's `?message=`, so its reconnect finds the generation. */
  promptKey?: string;
  /** JWT `sub` of the caller: recorded, so the owner may read and cancel it without extra scopes. */
  owner?: string;
  /**
   * Whose share of AI_MAX_GENERATIONS_PER_USER this generation takes: the user (`sub`), or the
   * client address in open mode. Omitted: the owner, else one shared anonymous share.
   */
  quotaKey?: string;
  /**
   * Topics of the caller's that expire with this generation, AI_RETENTION_MS after it ends (an AI
   * SDK chat's topic of turns).
   */
  expireWith?: readonly string[];
}

/**
 * AI generations. A generation calls the model once and writes what it answers to the event log,
 * topic `ai:<generationId>`: `start`, one `chunk` per delta, then `done` or `error`. It runs on
 * its own, apart from any connection: clients only read the topic (replay, then live), so a
 * dropped connection resumes with Last-Event-ID, on any instance sharing the store, and never calls
 * the model again.
 *
 * This service is the life of the generations on this instance, from admission to expiry; each
 * part has its own file:
 * - GenerationAdmission: the per-user and per-instance limits;
 * - GenerationRun: the run loop and its serialized writes;
 * - GenerationCancels: cancels from and to other instances (the terminal event is the cancel);
 * - DetachGrace: the grace and presence timers (abort once nobody anywhere has read it for
 *   AI_DETACH_GRACE_MS);
 * - GenerationReader: the read side (pacing projection, seed lookup, owner record).
 */
@Injectable()
export class GenerationService implements OnModuleDestroy {
  private readonly logger = new Logger(GenerationService.name);
  /** Generations running on this instance, and ended ones until their terminal event is written. */
  private readonly generations = new Map<string, Generation>();
  /** Aborted on shutdown: terminal events still waiting for the store get one last try, no more. */
  private readonly shutdown = new AbortController();

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(AI_PROVIDER) private readonly provider: AiProvider,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: AiMetrics,
    private readonly admission: GenerationAdmission,
    private readonly cancels: GenerationCancels,
    private readonly grace: DetachGrace,
    private readonly reader: GenerationReader,
  ) {}

  /** Generations running on this instance. */
  get runningCount(): number {
    return this.admission.runningCount;
  }

  /** The seed URL's key for one asker's message (see GenerationReader's promptKey). */
  static promptKey(message: string, owner: string | undefined): string {
    return promptKey(message, owner);
  }

  /**
   * Starts a generation (the model is called once, now) and returns its id once its `start` event
   * is in the log. Past AI_MAX_GENERATIONS_PER_USER running here for the same user (or address):
   * 429; past AI_MAX_GENERATIONS running on this instance: 503 (GenerationAdmission).
   */
  async start(messages: readonly ChatMessage[], options: StartOptions = {}): Promise<string> {
    const { owner } = options;
    const quotaKey = options.quotaKey ?? (owner !== undefined ? `user:${owner}` : 'anonymous');
    const admission = this.admission.admit(quotaKey);
    const id = randomUUID();
    const generation: Generation = {
      id,
      owner,
      seedTopic: options.promptKey === undefined ? undefined : seedTopic(options.promptKey),
      expireWith: options.expireWith ?? [],
      admission,
      run: new GenerationRun(this.log, id, this.shutdown.signal),
      unwatch: () => undefined,
    };
    this.generations.set(id, generation);
    // Before anything is written: a cancel appended by another instance cannot go unseen.
    generation.unwatch = this.cancels.watch(id, (event) => this.endedElsewhere(generation, event));
    try {
      if (generation.seedTopic !== undefined) {
        const entry: AiSeedEntry = { generationId: id };
        await this.log.append({ topic: generation.seedTopic, type: 'generation', data: entry });
      }
      if (owner !== undefined) {
        await this.log.append({ topic: aiOwnerTopic(id), type: 'owner', data: { owner } });
      }
      await this.log.append<AiEvent>({
        topic: aiTopic(id),
        type: 'start',
        data: { type: 'start', generationId: id },
      });
    } catch (error) {
      generation.run.endWithoutWriting();
      this.release(generation);
      this.forget(generation);
      throw error;
    }
    if (!generation.run.ended) this.grace.start(id, () => this.stop(generation, 'abandoned'));
    this.metrics.aiGenerationStarted();
    void generation.run
      .answer((signal) => this.provider.stream(messages, signal))
      .then((outcome) => this.finish(generation, outcome));
    return id;
  }

  /**
   * Who started a generation (its JWT `sub`): known here while it runs here, else from its owner
   * record in the log. Undefined when unknown or ownerless.
   */
  async ownerOf(generationId: string): Promise<string | undefined> {
    const local = this.generations.get(generationId);
    if (local) return local.owner;
    return this.reader.ownerOf(generationId);
  }

  /** The seed generation of `key` that holds event `eventId`, if any (GenerationReader.findByEvent). */
  findByEvent(key: string, eventId: string): Promise<string | undefined> {
    return this.reader.findByEvent(key, eventId);
  }

  /**
   * A generation's events after `afterId` (all of them when undefined), then live ones; completes
   * after the (first) terminal event. Unknown generation: 404. Finished and already read to its end:
   * no emission at all (the engine answers 204, which stops EventSource).
   */
  stream(generationId: string, afterId: string | undefined, pace: Pace): Observable<SseEmission> {
    return this.reader.stream(generationId, afterId, pace, () =>
      this.generations.has(generationId),
    );
  }

  /**
   * Stops a generation at once, wherever it runs: upstream aborted, `error` reason `cancelled`. Here,
   * directly; on another instance, by writing that terminal event, which the running instance sees.
   */
  async cancel(generationId: string): Promise<CancelOutcome> {
    const generation = this.generations.get(generationId);
    if (!generation) return this.cancels.cancelElsewhere(generationId);
    if (generation.run.ended) return 'finished';
    this.stop(generation, 'cancelled');
    return 'cancelled';
  }

  onModuleDestroy(): void {
    this.shutdown.abort();
    for (const generation of [...this.generations.values()]) this.stop(generation, 'shutdown');
  }

  /** Aborts the upstream request now and ends the topic with an error event. */
  private stop(generation: Generation, reason: AbortReason): void {
    if (generation.run.ended) return;
    generation.run.abort(reason);
    this.metrics.aiUpstreamAborted(ABORT_METRIC[reason]);
    this.finish(generation, { type: 'error', message: reason, reason });
  }

  private finish(generation: Generation, event: AiEvent): void {
    const written = generation.run.finish(event);
    if (!written) return;
    this.ended(generation, event);
    // Known here until the terminal event is in the log (a DELETE meanwhile answers `finished`).
    void written.then(() => this.forget(generation));
  }

  /**
   * Another instance ended the topic (DELETE there wrote `error` / `cancelled`): abort upstream and
   * write nothing more, so the topic holds exactly that one terminal event.
   */
  private endedElsewhere(generation: Generation, event: AiEvent): void {
    if (!generation.run.endWithoutWriting()) return;
    const reason = event.type === 'error' ? event.reason : undefined;
    if (reason !== undefined && Object.hasOwn(ABORT_METRIC, reason))
      this.metrics.aiUpstreamAborted(ABORT_METRIC[reason as AbortReason]);
    this.ended(generation, event);
    this.forget(generation);
  }

  /** The generation is over on this instance (its terminal event, if any, is written by the caller). */
  private ended(generation: Generation, event: AiEvent): void {
    this.metrics.aiGenerationFinished(outcomeOf(event));
    this.release(generation);
  }

  /** Gives back its admission and stops its watch and timers. */
  private release(generation: Generation): void {
    generation.admission.release();
    generation.unwatch();
    this.grace.end(generation.id);
  }

  /** Forgets a generation here: it stays readable for AI_RETENTION_MS, then its topics expire. */
  private forget(generation: Generation): void {
    this.generations.delete(generation.id);
    const topics = [aiTopic(generation.id), aiOwnerTopic(generation.id), ...generation.expireWith];
    if (generation.seedTopic !== undefined) topics.push(generation.seedTopic);
    void this.log
      .expire(topics, this.config.ai.retentionMs)
      .catch((error: unknown) =>
        this.logger.warn(`generation ${generation.id}: expiry not set: ${String(error)}`),
      );
  }
}

/** Why Rivulet itself stops a generation (the `error` reason), and the abort metric's label for it. */
type AbortReason = Extract<AiErrorReason, 'cancelled' | 'abandoned' | 'shutdown'>;

const ABORT_METRIC: Record<AbortReason, AiAbortReason> = {
  cancelled: 'cancelled',
  abandoned: 'detached',
  shutdown: 'shutdown',
};

/** A generation's outcome for metrics: `completed`, `failed` (the provider) or `aborted` (Rivulet). */
function outcomeOf(event: AiEvent): AiGenerationOutcome {
  if (event.type !== 'error') return 'completed';
  return Object.hasOwn(ABORT_METRIC, event.reason) ? 'aborted' : 'failed';
}
