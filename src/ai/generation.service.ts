import {
  ConflictException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  OnModuleDestroy,
} from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
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
import { compareIds, EVENT_LOG, EventLog, LogEvent } from '../event-log/event-log';
import { LogStreamItem, streamFromLog } from '../event-log/event-stream';
import { AiAbortReason, AiGenerationOutcome, MetricsService } from '../metrics/metrics.service';
import { SSE_OPEN, sseBatch, SseEmission, SseMessage } from '../sse/sse-message';
import {
  AiCharChunk,
  AiErrorReason,
  AiEvent,
  aiTopic,
  isTerminal,
  ownerIn,
  toWire,
} from './ai-events';
import { AI_PROVIDER, AiProvider, AiProviderError, ChatMessage } from './ai-provider';
import type { Pace } from './dto/ai-chat.dto';

/** Finished generations remembered per instance, for resuming the seed URL (oldest forgotten first). */
const FINISHED_REMEMBERED = 1000;

interface Generation {
  readonly id: string;
  readonly topic: string;
  /** sha256 of the seed `?message=`, so a reconnect to that URL can find its generation. */
  readonly promptKey: string | undefined;
  /** JWT `sub` of whoever started it (undefined in open mode or for a token without `sub`). */
  readonly owner: string | undefined;
  readonly controller: AbortController;
  /** Id of the `start` event: no event of this generation is older. */
  firstId: string;
  /** Id of the terminal event, once written. */
  terminalId: string | undefined;
  ended: boolean;
  subscribers: number;
  graceTimer: NodeJS.Timeout | undefined;
  /** Appends of this generation, in order: nothing can land after the terminal event. */
  writes: Promise<unknown>;
}

export type CancelOutcome = 'cancelled' | 'finished';

export interface StartOptions {
  /** GenerationService.promptKey of the seed's `?message=`, so its reconnect finds the generation. */
  promptKey?: string;
  /** JWT `sub` of the caller: recorded, so the owner may read and cancel it without extra scopes. */
  owner?: string;
}

/**
 * AI generations. A generation calls the model once and writes what it answers to the event log,
 * topic `ai:<generationId>`: `start`, one `chunk` per delta, then `done` or `error`. It runs on
 * its own, apart from any connection: clients only read the topic (replay, then live), so a
 * dropped connection resumes with Last-Event-ID and never calls the model again.
 *
 * Lifetime: a generation keeps running for AI_DETACH_GRACE_MS after its last subscriber on this
 * instance left; then, or on cancel, the upstream request is aborted at once and an `error` event
 * (reason `abandoned` / `cancelled`) ends the topic so every reader stops.
 */
@Injectable()
export class GenerationService implements OnModuleDestroy {
  private readonly logger = new Logger(GenerationService.name);
  /** Running generations and the most recently finished ones of this instance, oldest first. */
  private readonly generations = new Map<string, Generation>();
  private running = 0;
  private finishedCount = 0;
  private readonly messages = new WeakMap<LogEvent, SseMessage>();

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(AI_PROVIDER) private readonly provider: AiProvider,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** Generations running on this instance. */
  get runningCount(): number {
    return this.running;
  }

  /** Streams reading a generation of this instance (0 when unknown here). */
  subscribersOf(generationId: string): number {
    return this.generations.get(generationId)?.subscribers ?? 0;
  }

  /** The seed URL's key for a message (a digest: records do not keep prompts). */
  static promptKey(message: string): string {
    return createHash('sha256').update(message).digest('hex');
  }

  /**
   * Starts a generation (the model is called once, now) and returns its id once its `start` event
   * is in the log. Past AI_MAX_GENERATIONS running on this instance: 503.
   */
  async start(messages: readonly ChatMessage[], options: StartOptions = {}): Promise<string> {
    const { promptKey, owner } = options;
    if (this.running >= this.config.ai.maxGenerations) {
      throw new RetryableHttpException(
        'This instance is running AI_MAX_GENERATIONS generations; retry later',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfterSeconds(this.config.sse.retryMs),
      );
    }
    const id = randomUUID();
    const topic = aiTopic(id);
    this.running++;
    let start: LogEvent<AiEvent>;
    try {
      start = await this.log.append<AiEvent>({
        topic,
        type: 'start',
        data:
          owner === undefined
            ? { type: 'start', generationId: id }
            : { type: 'start', generationId: id, owner },
      });
    } catch (error) {
      this.running--;
      throw error;
    }
    const generation: Generation = {
      id,
      topic,
      promptKey,
      owner,
      controller: new AbortController(),
      firstId: start.id,
      terminalId: undefined,
      ended: false,
      subscribers: 0,
      graceTimer: undefined,
      writes: Promise.resolve(),
    };
    this.generations.set(id, generation);
    // Nobody may ever subscribe (the client left at once): the grace period covers that too.
    this.armGrace(generation);
    this.metrics.aiGenerationStarted();
    void this.run(generation, messages);
    return id;
  }

  /**
   * Who started a generation (its JWT `sub`): from this instance's index, else from the `start`
   * event in the log (a generation run by another instance). Undefined when unknown, ownerless, or
   * when retention has dropped its `start` event.
   */
  async ownerOf(generationId: string): Promise<string | undefined> {
    const local = this.generations.get(generationId);
    if (local) return local.owner;
    const { events } = await this.log.readAfter([aiTopic(generationId)], undefined);
    return ownerIn(events[0]?.data);
  }

  /**
   * The generation of this instance started for `promptKey` that holds event `eventId`, if any:
   * how EventSource's own reconnect (same URL + Last-Event-ID) finds the answer it was reading.
   * Candidates are narrowed by id range, then the log confirms which topic holds the event.
   */
  async findByEvent(promptKey: string, eventId: string): Promise<string | undefined> {
    const candidates = [...this.generations.values()]
      .filter(
        (g) =>
          g.promptKey === promptKey &&
          compareIds(g.firstId, eventId) <= 0 &&
          (g.terminalId === undefined || compareIds(eventId, g.terminalId) <= 0),
      )
      .reverse();
    const before = previousId(eventId);
    for (const candidate of candidates) {
      const { events } = await this.log.readAfter([candidate.topic], before);
      if (events[0]?.id === eventId) return candidate.id;
    }
    return undefined;
  }

  /**
   * A generation's events after `afterId` (all of them when undefined), then live ones; completes
   * after the terminal event. Unknown generation: 404. Finished and already read to its end: no
   * emission at all (the engine answers 204, which stops EventSource).
   */
  stream(generationId: string, afterId: string | undefined, pace: Pace): Observable<SseEmission> {
    const topic = aiTopic(generationId);
    return defer(() => from(this.log.readAfter([topic], undefined))).pipe(
      switchMap(({ events }) => {
        const local = this.generations.get(generationId);
        if (events.length === 0 && !local) throw new NotFoundException('No such generation');
        const last = events[events.length - 1];
        if (
          afterId !== undefined &&
          last &&
          isTerminal(last.data) &&
          compareIds(afterId, last.id) >= 0
        ) {
          return EMPTY;
        }
        const offset = pace === 'char' ? charsUpTo(events, afterId) : 0;
        return concat(of(SSE_OPEN), this.follow(topic, local, afterId, pace, offset));
      }),
    );
  }

  /** Stops a generation of this instance at once (upstream aborted, `error` reason `cancelled`). */
  async cancel(generationId: string): Promise<CancelOutcome> {
    const generation = this.generations.get(generationId);
    if (generation) {
      if (generation.ended) return 'finished';
      this.stop(generation, 'cancelled');
      return 'cancelled';
    }
    const { events } = await this.log.readAfter([aiTopic(generationId)], undefined);
    const last = events[events.length - 1];
    if (!last) throw new NotFoundException('No such generation');
    if (isTerminal(last.data)) return 'finished';
    throw new ConflictException('This generation runs on another instance; cancel it there');
  }

  onModuleDestroy(): void {
    for (const generation of this.generations.values()) {
      if (!generation.ended) this.stop(generation, 'shutdown');
      clearTimeout(generation.graceTimer);
    }
  }

  private follow(
    topic: string,
    local: Generation | undefined,
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
      for (const event of item.events) messages.push(...toMessages(event));
      return {
        emission: messages.length > 0 ? sseBatch(messages) : undefined,
        terminal: item.events.some((event) => isTerminal(event.data)),
      };
    };
    const items = streamFromLog(this.log, [topic], afterId, { replayAll: true }).pipe(
      map(toEmission),
      takeWhile((step) => !step.terminal, true),
      map((step) => step.emission),
      filter((emission): emission is SseEmission => emission !== undefined),
    );
    if (!local) return items;
    return defer(() => {
      this.attach(local);
      return items.pipe(finalize(() => this.detach(local)));
    });
  }

  /** A log event's message, built once and shared by every stream it is written to. */
  private messageOf(event: LogEvent): SseMessage {
    let message = this.messages.get(event);
    if (!message) {
      message = { id: event.id, data: toWire(event.data as AiEvent) };
      this.messages.set(event, message);
    }
    return message;
  }

  private async run(generation: Generation, messages: readonly ChatMessage[]): Promise<void> {
    let outcome: AiEvent = { type: 'done' };
    try {
      for await (const content of this.provider.stream(messages, generation.controller.signal)) {
        if (generation.ended) break;
        void this.write(generation, { type: 'chunk', content });
      }
    } catch (error) {
      if (!generation.ended) outcome = failureEvent(error, this.logger);
    }
    this.finish(generation, outcome);
  }

  /** Aborts the upstream request now and ends the topic with an error event. */
  private stop(generation: Generation, reason: AbortReason): void {
    if (generation.ended) return;
    generation.controller.abort(new Error(reason));
    this.metrics.aiUpstreamAborted(ABORT_METRIC[reason]);
    this.finish(generation, { type: 'error', message: reason, reason });
  }

  private finish(generation: Generation, event: AiEvent): void {
    if (generation.ended) return;
    generation.ended = true;
    this.running--;
    this.metrics.aiGenerationFinished(outcomeOf(event));
    clearTimeout(generation.graceTimer);
    generation.graceTimer = undefined;
    const written = this.write(generation, event);
    void written.then((terminal) => {
      if (terminal) generation.terminalId = terminal.id;
    });
    this.finishedCount++;
    this.forgetOldFinished();
  }

  private write(generation: Generation, event: AiEvent): Promise<LogEvent | undefined> {
    const written = generation.writes.then(() =>
      this.log
        .append<AiEvent>({ topic: generation.topic, type: event.type, data: event })
        .catch((error: unknown) => {
          this.logger.error(
            `generation ${generation.id}: ${event.type} not written: ${String(error)}`,
          );
          if (!generation.controller.signal.aborted) generation.controller.abort(error);
          return undefined;
        }),
    );
    generation.writes = written;
    return written;
  }

  private attach(generation: Generation): void {
    generation.subscribers++;
    clearTimeout(generation.graceTimer);
    generation.graceTimer = undefined;
  }

  private detach(generation: Generation): void {
    generation.subscribers--;
    if (generation.subscribers === 0) this.armGrace(generation);
  }

  private armGrace(generation: Generation): void {
    if (generation.ended) return;
    clearTimeout(generation.graceTimer);
    generation.graceTimer = setTimeout(() => {
      generation.graceTimer = undefined;
      if (generation.subscribers === 0 && !generation.ended) this.stop(generation, 'abandoned');
    }, this.config.ai.detachGraceMs);
    generation.graceTimer.unref();
  }

  private forgetOldFinished(): void {
    if (this.finishedCount <= FINISHED_REMEMBERED) return;
    for (const [id, generation] of this.generations) {
      if (this.finishedCount <= FINISHED_REMEMBERED) break;
      if (!generation.ended) continue;
      this.generations.delete(id);
      this.finishedCount--;
    }
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
