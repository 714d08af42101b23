import {
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnModuleDestroy,
} from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  concat,
  defer,
  EMPTY,
  filter,
  finalize,
  from,
  map,
  Observable,
  of,
  switchMap,
  takeWhile,
} from 'rxjs';
import { RetryableHttpException, retryAfterSeconds } from '../common/retryable.exception';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { compareIds, EVENT_LOG, EventLog, LogEvent, Unsubscribe } from '../event-log/event-log';
import { messagePerEvent } from '../sse/log-stream-emissions';
import { LogStreamItem, streamFromLog } from '../event-log/event-stream';
import { AiAbortReason, AiGenerationOutcome, AiMetrics } from './ai-metrics';
import { SSE_OPEN, sseBatch, SseEmission, SseMessage } from '../sse/sse-message';
import {
  AI_TOPIC_PREFIX,
  AiCharChunk,
  AiErrorReason,
  AiEvent,
  AiSeedEntry,
  aiOwnerTopic,
  aiTopic,
  isTerminal,
  ownerIn,
  seedEntryIn,
  seedTopic,
  toWire,
} from './ai-events';
import { AI_PROVIDER, AiProvider, AiProviderError, ChatMessage } from './ai-provider';
import type { Pace } from './dto/ai-chat.dto';
import { READER_PRESENCE, ReaderPresence } from './reader-presence';

/** How many seed generations one confirming read of the log covers (see findByEvent). */
const CONFIRM_BATCH = 32;

interface Generation {
  readonly id: string;
  readonly topic: string;
  /** JWT `sub` of whoever started it (undefined in open mode or for a token without `sub`). */
  readonly owner: string | undefined;
  /** Whose share of AI_MAX_GENERATIONS_PER_USER it uses. */
  readonly quotaKey: string;
  /** The seed topic indexing it (seed URL generations only): expires with it. */
  readonly seedTopic: string | undefined;
  readonly controller: AbortController;
  ended: boolean;
  /** Another instance wrote the terminal event (a cancel): this one writes nothing more. */
  endedElsewhere: boolean;
  graceTimer: NodeJS.Timeout | undefined;
  /** This instance's subscription to the generation's own topic, for a terminal event written elsewhere. */
  unsubscribe: Unsubscribe | undefined;
  /** Appends of this generation, in order: nothing can land after the terminal event. */
  writes: Promise<unknown>;
  /** The store refused one of its events: nothing but the terminal event is written after that. */
  storeFailed: boolean;
}

export type CancelOutcome = 'cancelled' | 'finished';

export interface StartOptions {
  /** GenerationService.promptKey of the seed's `?message=`, so its reconnect finds the generation. */
  promptKey?: string;
  /** JWT `sub` of the caller: recorded, so the owner may read and cancel it without extra scopes. */
  owner?: string;
  /**
   * Whose share of AI_MAX_GENERATIONS_PER_USER this generation takes: the user (`sub`), or the
   * client address in open mode. Omitted: the owner, else one shared anonymous share.
   */
  quotaKey?: string;
}

/**
 * AI generations. A generation calls the model once and writes what it answers to the event log,
 * topic `ai:<generationId>`: `start`, one `chunk` per delta, then `done` or `error`. It runs on
 * its own, apart from any connection: clients only read the topic (replay, then live), so a
 * dropped connection resumes with Last-Event-ID, on any instance sharing the store, and never calls
 * the model again.
 *
 * Everything another instance needs is in the log or in ReaderPresence: the seed generations are
 * indexed on their asker's seed topic (the seed reconnect), readers report themselves to
 * ReaderPresence (the running instance aborts a generation only once nobody anywhere has read it for
 * AI_DETACH_GRACE_MS), and a cancel is the terminal `error` event itself, which the running instance
 * sees on its own subscription of the topic and acts on (upstream aborted, nothing more written).
 */
@Injectable()
export class GenerationService implements OnModuleDestroy {
  private readonly logger = new Logger(GenerationService.name);
  /** Generations running on this instance, and ended ones until their terminal event is written. */
  private readonly generations = new Map<string, Generation>();
  private running = 0;
  /** Generations running here, by quota key (AI_MAX_GENERATIONS_PER_USER). */
  private readonly runningBy = new Map<string, number>();
  /** Aborted on shutdown: terminal events still waiting for the store get one last try, no more. */
  private readonly shutdown = new AbortController();

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(AI_PROVIDER) private readonly provider: AiProvider,
    @Inject(READER_PRESENCE) private readonly presence: ReaderPresence,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: AiMetrics,
  ) {}

  /** Generations running on this instance. */
  get runningCount(): number {
    return this.running;
  }

  /**
   * The seed URL's key for one asker's message: a digest of the owner (JWT `sub`; none in open
   * mode) and the message, so a reconnect looks up exactly the asker's own generations of that
   * text, directly (records do not keep prompts).
   */
  static promptKey(message: string, owner: string | undefined): string {
    return createHash('sha256')
      .update(owner === undefined ? '-' : `+${owner}`)
      .update('\0')
      .update(message)
      .digest('hex');
  }

  /**
   * Starts a generation (the model is called once, now) and returns its id once its `start` event
   * is in the log. Past AI_MAX_GENERATIONS_PER_USER running here for the same user (or address):
   * 429; past AI_MAX_GENERATIONS running on this instance: 503. Both counts are taken in the same
   * synchronous step as the check, so concurrent requests cannot pass a limit.
   */
  async start(messages: readonly ChatMessage[], options: StartOptions = {}): Promise<string> {
    const { promptKey, owner } = options;
    const quotaKey = options.quotaKey ?? (owner !== undefined ? `user:${owner}` : 'anonymous');
    const retryAfter = retryAfterSeconds(this.config.sse.retryMs);
    if ((this.runningBy.get(quotaKey) ?? 0) >= this.config.ai.maxGenerationsPerUser) {
      throw new RetryableHttpException(
        'You are running AI_MAX_GENERATIONS_PER_USER generations already; retry once one ends',
        HttpStatus.TOO_MANY_REQUESTS,
        retryAfter,
      );
    }
    if (this.running >= this.config.ai.maxGenerations) {
      throw new RetryableHttpException(
        'This instance is running AI_MAX_GENERATIONS generations; retry later',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    const id = randomUUID();
    const generation: Generation = {
      id,
      topic: aiTopic(id),
      owner,
      quotaKey,
      seedTopic: promptKey === undefined ? undefined : seedTopic(promptKey),
      controller: new AbortController(),
      ended: false,
      endedElsewhere: false,
      graceTimer: undefined,
      unsubscribe: undefined,
      writes: Promise.resolve(),
      storeFailed: false,
    };
    this.generations.set(id, generation);
    this.running++;
    this.runningBy.set(quotaKey, (this.runningBy.get(quotaKey) ?? 0) + 1);
    // Before anything is written: a cancel appended by another instance cannot go unseen.
    generation.unsubscribe = this.log.subscribe([generation.topic], (event) => {
      if (isTerminal(event.data)) this.endedElsewhere(generation, event.data as AiEvent);
    });
    try {
      if (generation.seedTopic !== undefined) {
        const entry: AiSeedEntry = { generationId: id };
        await this.log.append({ topic: generation.seedTopic, type: 'generation', data: entry });
      }
      if (owner !== undefined) {
        await this.log.append({ topic: aiOwnerTopic(id), type: 'owner', data: { owner } });
      }
      await this.log.append<AiEvent>({
        topic: generation.topic,
        type: 'start',
        data: { type: 'start', generationId: id },
      });
    } catch (error) {
      generation.ended = true;
      this.countEnded(generation);
      this.release(generation);
      this.generations.delete(id);
      this.expireLater(generation);
      throw error;
    }
    // Nobody may ever subscribe (the client left at once): the grace period covers that too.
    this.armGrace(generation, this.config.ai.detachGraceMs);
    this.metrics.aiGenerationStarted();
    void this.run(generation, messages);
    return id;
  }

  /**
   * Who started a generation (its JWT `sub`): known here while it runs here, else from its owner
   * record in the log (aiOwnerTopic). Undefined when unknown or ownerless.
   */
  async ownerOf(generationId: string): Promise<string | undefined> {
    const local = this.generations.get(generationId);
    if (local) return local.owner;
    const { events } = await this.log.readAfter([aiOwnerTopic(generationId)], undefined);
    return ownerIn(events[0]?.data);
  }

  /**
   * The seed generation of `promptKey` (one asker, one message) that holds event `eventId`, if any,
   * whichever instance runs it: how EventSource's own reconnect (same URL + Last-Event-ID) finds the
   * answer it was reading. One read of the asker's seed topic gives the candidates (an entry is
   * older than every event of its generation), newest first; the log confirms which one's topic
   * holds the event (ids of concurrent generations interleave). No scan of other generations.
   */
  async findByEvent(promptKey: string, eventId: string): Promise<string | undefined> {
    const { events } = await this.log.readAfter([seedTopic(promptKey)], undefined);
    const candidates: string[] = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const event = events[i]!;
      const entry = seedEntryIn(event.data);
      if (entry && compareIds(event.id, eventId) < 0) candidates.push(aiTopic(entry.generationId));
    }
    const before = previousId(eventId);
    for (let i = 0; i < candidates.length; i += CONFIRM_BATCH) {
      const batch = candidates.slice(i, i + CONFIRM_BATCH);
      // Only generations still writing at `eventId` have anything from there on: a cheap read.
      const { events: held } = await this.log.readAfter(batch, before);
      const match = held[0]?.id === eventId ? held[0] : undefined;
      if (match) return match.topic.slice(AI_TOPIC_PREFIX.length);
    }
    return undefined;
  }

  /**
   * A generation's events after `afterId` (all of them when undefined), then live ones; completes
   * after the (first) terminal event. Unknown generation: 404. Finished and already read to its end:
   * no emission at all (the engine answers 204, which stops EventSource).
   */
  stream(generationId: string, afterId: string | undefined, pace: Pace): Observable<SseEmission> {
    const topic = aiTopic(generationId);
    return defer(() => from(this.log.readAfter([topic], undefined))).pipe(
      switchMap(({ events }) => {
        if (events.length === 0 && !this.generations.has(generationId))
          throw new NotFoundException('No such generation');
        const terminal = events.find((event) => isTerminal(event.data));
        if (afterId !== undefined && terminal && compareIds(afterId, terminal.id) >= 0) {
          return EMPTY;
        }
        const offset = pace === 'char' ? charsUpTo(events, afterId) : 0;
        const items = this.follow(topic, afterId, pace, offset);
        if (terminal) return concat(of(SSE_OPEN), items);
        // A reader of a generation still running: the running instance keeps it alive for it.
        return concat(
          of(SSE_OPEN),
          defer(() => {
            this.presence.enter(generationId);
            return items.pipe(finalize(() => this.presence.leave(generationId)));
          }),
        );
      }),
    );
  }

  /**
   * Stops a generation at once, wherever it runs: upstream aborted, `error` reason `cancelled`. Here,
   * directly; on another instance, by writing that terminal event, which the running instance sees.
   */
  async cancel(generationId: string): Promise<CancelOutcome> {
    const generation = this.generations.get(generationId);
    if (generation) {
      if (generation.ended) return 'finished';
      this.stop(generation, 'cancelled');
      return 'cancelled';
    }
    const topic = aiTopic(generationId);
    const { events } = await this.log.readAfter([topic], undefined);
    if (events.length === 0) throw new NotFoundException('No such generation');
    if (events.some((event) => isTerminal(event.data))) return 'finished';
    await this.log.append<AiEvent>({
      topic,
      type: 'error',
      data: { type: 'error', message: 'cancelled', reason: 'cancelled' },
    });
    // The running instance expires its seed entry too (endedElsewhere); this covers one that is gone.
    void this.log
      .expire([topic, aiOwnerTopic(generationId)], this.config.ai.retentionMs)
      .catch((error: unknown) =>
        this.logger.warn(`generation ${generationId}: expiry not set: ${String(error)}`),
      );
    return 'cancelled';
  }

  onModuleDestroy(): void {
    this.shutdown.abort();
    for (const generation of [...this.generations.values()]) this.stop(generation, 'shutdown');
  }

  private follow(
    topic: string,
    afterId: string | undefined,
    pace: Pace,
    offset: number,
  ): Observable<SseEmission> {
    let charIndex = offset;
    const toMessages = (event: LogEvent): SseMessage[] => {
      const data = event.data as AiEvent;
      if (pace === 'char' && data.type === 'chunk') {
        const chars = Array.from(data.content);
        return chars.map((content, i) => {
          const chunk: AiCharChunk = { type: 'chunk', content, index: charIndex++ };
          // Only the last character carries the event id: a resume point is always a whole chunk.
          return i === chars.length - 1 ? { id: event.id, data: chunk } : { data: chunk };
        });
      }
      return [this.messageOf(event)];
    };
    const toEmission = (
      item: LogStreamItem,
    ): { emission: SseEmission | undefined; terminal: boolean } => {
      if (item.kind === 'live') {
        const messages = toMessages(item.event);
        return {
          emission: messages.length === 1 ? messages[0] : sseBatch(messages),
          terminal: isTerminal(item.event.data),
        };
      }
      const messages: SseMessage[] = [];
      if (item.reset) messages.push({ data: { type: 'reset', reason: item.reset } });
      let terminal = false;
      for (const event of item.events) {
        messages.push(...toMessages(event));
        // The first terminal event ends the answer (a late write racing a cancel is never sent).
        if ((terminal = isTerminal(event.data))) break;
      }
      return { emission: messages.length > 0 ? sseBatch(messages) : undefined, terminal };
    };
    return streamFromLog(this.log, [topic], afterId, { replayAll: true }).pipe(
      map(toEmission),
      takeWhile((step) => !step.terminal, true),
      map((step) => step.emission),
      filter((emission): emission is SseEmission => emission !== undefined),
    );
  }

  /** A log event's message, built once and shared by every stream it is written to. */
  private readonly messageOf = messagePerEvent((event): SseMessage => ({
    id: event.id,
    data: toWire(event.data as AiEvent),
  }));

  private async run(generation: Generation, messages: readonly ChatMessage[]): Promise<void> {
    let outcome: AiEvent = { type: 'done' };
    try {
      for await (const content of this.provider.stream(messages, generation.controller.signal)) {
        if (generation.ended) break;
        void this.write(generation, { type: 'chunk', content });
      }
    } catch (error) {
      if (!generation.ended)
        outcome = generation.storeFailed ? STORE_FAILURE : failureEvent(error, this.logger);
    }
    // The provider may also have finished its answer while a chunk could not be written.
    if (generation.storeFailed && outcome.type === 'done') outcome = STORE_FAILURE;
    this.finish(generation, outcome);
  }

  /** Aborts the upstream request now and ends the topic with an error event. */
  private stop(generation: Generation, reason: AbortReason): void {
    if (generation.ended) return;
    generation.controller.abort(new Error(reason));
    this.metrics.aiUpstreamAborted(ABORT_METRIC[reason]);
    this.finish(generation, { type: 'error', message: reason, reason });
  }

  /**
   * Another instance ended the topic (DELETE there wrote `error` / `cancelled`): abort upstream and
   * write nothing more, so the topic holds exactly that one terminal event.
   */
  private endedElsewhere(generation: Generation, event: AiEvent): void {
    if (generation.ended) return;
    generation.endedElsewhere = true;
    generation.controller.abort(new Error('ended elsewhere'));
    const reason = event.type === 'error' ? event.reason : undefined;
    if (reason !== undefined && Object.hasOwn(ABORT_METRIC, reason))
      this.metrics.aiUpstreamAborted(ABORT_METRIC[reason as AbortReason]);
    this.end(generation, event);
    this.generations.delete(generation.id);
    this.expireLater(generation);
  }

  private finish(generation: Generation, event: AiEvent): void {
    if (generation.ended) return;
    this.end(generation, event);
    // Known here until the terminal event is in the log (a DELETE meanwhile answers `finished`).
    void this.write(generation, event).then(() => {
      this.generations.delete(generation.id);
      this.expireLater(generation);
    });
  }

  /** A finished generation stays readable for AI_RETENTION_MS; then its topics expire (both stores). */
  private expireLater(generation: Generation): void {
    const topics = [generation.topic, aiOwnerTopic(generation.id)];
    if (generation.seedTopic !== undefined) topics.push(generation.seedTopic);
    void this.log
      .expire(topics, this.config.ai.retentionMs)
      .catch((error: unknown) =>
        this.logger.warn(`generation ${generation.id}: expiry not set: ${String(error)}`),
      );
  }

  private countEnded(generation: Generation): void {
    this.running--;
    const left = (this.runningBy.get(generation.quotaKey) ?? 1) - 1;
    if (left > 0) this.runningBy.set(generation.quotaKey, left);
    else this.runningBy.delete(generation.quotaKey);
  }

  /** Marks a generation over on this instance (its terminal event, if any, is written by the caller). */
  private end(generation: Generation, event: AiEvent): void {
    generation.ended = true;
    this.countEnded(generation);
    this.metrics.aiGenerationFinished(outcomeOf(event));
    this.release(generation);
  }

  private release(generation: Generation): void {
    clearTimeout(generation.graceTimer);
    generation.graceTimer = undefined;
    generation.unsubscribe?.();
    generation.unsubscribe = undefined;
    this.presence.forget(generation.id);
  }

  /**
   * Appends one event of the generation, after those before it. A chunk the store refuses stops
   * the generation (upstream aborted, no later chunk written, so readers never get an answer with
   * a hole in it); it then ends with `error` reason `store`. A terminal event the store refuses is
   * tried again until the store takes it, so every generation ends in the log once the store is
   * back: readers waiting on it (live, through the store) get it then.
   */
  private write(generation: Generation, event: AiEvent): Promise<LogEvent | undefined> {
    const terminal = isTerminal(event);
    const written = generation.writes.then(async () => {
      if (generation.endedElsewhere) return undefined;
      if (generation.storeFailed && !terminal) return undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.log.append<AiEvent>({
            topic: generation.topic,
            type: event.type,
            data: event,
          });
        } catch (error) {
          if (!terminal) {
            this.logger.error(
              `generation ${generation.id}: ${event.type} not written, the answer stops here: ${String(error)}`,
            );
            generation.storeFailed = true;
            if (!generation.controller.signal.aborted) generation.controller.abort(error);
            return undefined;
          }
          if (this.shutdown.signal.aborted) {
            this.logger.error(
              `generation ${generation.id}: ${event.type} not written before shutdown: ${String(error)}`,
            );
            return undefined;
          }
          if (attempt === 1)
            this.logger.warn(
              `generation ${generation.id}: ${event.type} not written yet, retrying until the store is back: ${String(error)}`,
            );
          await delay(Math.min(TERMINAL_RETRY_MS * attempt, TERMINAL_RETRY_MAX_MS), undefined, {
            signal: this.shutdown.signal,
          }).catch(() => undefined);
        }
      }
    });
    generation.writes = written;
    return written;
  }

  /** In `ms`, asks whether anybody anywhere still reads; aborts the generation if nobody has for the grace. */
  private armGrace(generation: Generation, ms: number): void {
    if (generation.ended) return;
    clearTimeout(generation.graceTimer);
    generation.graceTimer = setTimeout(() => {
      generation.graceTimer = undefined;
      void this.checkReaders(generation);
    }, ms);
    generation.graceTimer.unref();
  }

  private async checkReaders(generation: Generation): Promise<void> {
    let left: number;
    try {
      left = await this.presence.graceLeftMs(generation.id);
    } catch (error) {
      // The store cannot answer: keep the generation (its own writes fail, and stop it, if it stays away).
      this.logger.warn(`generation ${generation.id}: readers unknown: ${String(error)}`);
      left = this.config.ai.detachGraceMs;
    }
    if (generation.ended) return;
    if (left > 0) this.armGrace(generation, left);
    else this.stop(generation, 'abandoned');
  }
}

/** Why Rivulet itself stops a generation (the `error` reason), and the abort metric's label for it. */
type AbortReason = Extract<AiErrorReason, 'cancelled' | 'abandoned' | 'shutdown'>;

const ABORT_METRIC: Record<AbortReason, AiAbortReason> = {
  cancelled: 'cancelled',
  abandoned: 'detached',
  shutdown: 'shutdown',
};

/** The end of a generation whose events the store stopped taking: the cause, named. */
const STORE_FAILURE: AiEvent = {
  type: 'error',
  message: 'The event store became unavailable; the answer stops here',
  reason: 'store',
};

/** Pause between tries of a terminal event the store refused: growing, then steady. */
const TERMINAL_RETRY_MS = 200;
const TERMINAL_RETRY_MAX_MS = 2000;

/** A generation's outcome for metrics: `completed`, `failed` (the provider) or `aborted` (Rivulet). */
function outcomeOf(event: AiEvent): AiGenerationOutcome {
  if (event.type !== 'error') return 'completed';
  return Object.hasOwn(ABORT_METRIC, event.reason) ? 'aborted' : 'failed';
}

function failureEvent(error: unknown, logger: Logger): AiEvent {
  if (error instanceof AiProviderError)
    return { type: 'error', message: error.message, reason: error.reason };
  logger.error(error);
  return { type: 'error', message: 'The AI provider failed', reason: 'upstream' };
}

/** Characters of the answer up to and including event `afterId` (for `?pace=char` indexes). */
function charsUpTo(events: readonly LogEvent[], afterId: string | undefined): number {
  if (afterId === undefined) return 0;
  let count = 0;
  for (const event of events) {
    if (compareIds(event.id, afterId) > 0) break;
    const data = event.data as AiEvent;
    if (data.type === 'chunk') count += Array.from(data.content).length;
  }
  return count;
}

/** The id just before a decimal id (ids are a sequence), so a read "after" it starts at the id. */
function previousId(id: string): string | undefined {
  const value = BigInt(id);
  return value === 0n ? undefined : (value - 1n).toString();
}
