import { Logger } from '@nestjs/common';
import { setTimeout as delay } from 'node:timers/promises';
import { EventLog, LogEvent } from '../event-log/event-log';
import { AiEvent, aiTopic, isTerminal } from './ai-events';
import { AiProviderError } from './ai-provider';

/** The end of a generation whose events the store stopped taking: the cause, named. */
export const STORE_FAILURE: AiEvent = {
  type: 'error',
  message: 'The event store became unavailable; the answer stops here',
  reason: 'store',
};

/** Pause between tries of a terminal event the store refused: growing, then steady. */
const TERMINAL_RETRY_MS = 200;
const TERMINAL_RETRY_MAX_MS = 2000;

/**
 * One generation's run: the loop that writes the model's answer to the generation's topic, and the
 * writes themselves, serialized. Appends go one after another, so the topic holds the chunks in
 * the order the model sent them and nothing lands after the terminal event. Once the run has ended
 * (finish, or endWithoutWriting) no chunk is written any more.
 */
export class GenerationRun {
  readonly topic: string;
  private readonly controller = new AbortController();
  /** Appends of this run, in order. */
  private writes: Promise<unknown> = Promise.resolve();
  private over = false;
  /** Another instance wrote the terminal event (a cancel): this run writes nothing more. */
  private silenced = false;
  /** The store refused one of its events: nothing but the terminal event is written after that. */
  private storeFailed = false;

  constructor(
    private readonly log: EventLog,
    readonly generationId: string,
    /** Aborted on shutdown: a terminal event still waiting for the store gets one last try, no more. */
    private readonly shutdown: AbortSignal,
    private readonly logger: Logger = new Logger(GenerationRun.name),
  ) {
    this.topic = aiTopic(generationId);
  }

  /** Whether the run has ended (its terminal event may still be on its way to the store). */
  get ended(): boolean {
    return this.over;
  }

  /**
   * Writes the answer `source` streams (given the signal that stops it) as `chunk` events, until it
   * ends or the run does; resolves with the terminal event it calls for, not yet written: `done`,
   * the provider's failure, or `error` reason `store` when the store refused a chunk.
   */
  async answer(source: (signal: AbortSignal) => AsyncIterable<string>): Promise<AiEvent> {
    let outcome: AiEvent = { type: 'done' };
    try {
      for await (const content of source(this.controller.signal)) {
        if (this.over) break;
        void this.write({ type: 'chunk', content });
      }
    } catch (error) {
      if (!this.over) outcome = this.storeFailed ? STORE_FAILURE : failureEvent(error, this.logger);
    }
    // The provider may also have finished its answer while a chunk could not be written.
    if (this.storeFailed && outcome.type === 'done') outcome = STORE_FAILURE;
    return outcome;
  }

  /** Aborts the upstream request now (the answer's source stops); `reason` names why. */
  abort(reason: string): void {
    this.controller.abort(new Error(reason));
  }

  /**
   * Ends the run with terminal `event`, written after every chunk before it. Resolves once it is in
   * the log (or given up at shutdown); undefined when the run had ended already.
   */
  finish(event: AiEvent): Promise<void> | undefined {
    if (this.over) return undefined;
    this.over = true;
    return this.write(event).then(() => undefined);
  }

  /**
   * Ends the run with nothing more written (its terminal event was written elsewhere, or it never
   * started): upstream aborted. False when the run had ended already.
   */
  endWithoutWriting(): boolean {
    if (this.over) return false;
    this.over = true;
    this.silenced = true;
    this.controller.abort(new Error('ended elsewhere'));
    return true;
  }

  /**
   * Appends one event of the run, after those before it. A chunk the store refuses stops the
   * generation (upstream aborted, no later chunk written, so readers never get an answer with a
   * hole in it); it then ends with `error` reason `store`. A terminal event the store refuses is
   * tried again until the store takes it, so every generation ends in the log once the store is
   * back: readers waiting on it (live, through the store) get it then.
   */
  private write(event: AiEvent): Promise<LogEvent | undefined> {
    const terminal = isTerminal(event);
    const written = this.writes.then(async () => {
      if (this.silenced) return undefined;
      if (this.storeFailed && !terminal) return undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.log.append<AiEvent>({
            topic: this.topic,
            type: event.type,
            data: event,
          });
        } catch (error) {
          if (!terminal) {
            this.logger.error(
              `generation ${this.generationId}: ${event.type} not written, the answer stops here: ${String(error)}`,
            );
            this.storeFailed = true;
            if (!this.controller.signal.aborted) this.controller.abort(error);
            return undefined;
          }
          if (this.shutdown.aborted) {
            this.logger.error(
              `generation ${this.generationId}: ${event.type} not written before shutdown: ${String(error)}`,
            );
            return undefined;
          }
          if (attempt === 1)
            this.logger.warn(
              `generation ${this.generationId}: ${event.type} not written yet, retrying until the store is back: ${String(error)}`,
            );
          await delay(Math.min(TERMINAL_RETRY_MS * attempt, TERMINAL_RETRY_MAX_MS), undefined, {
            signal: this.shutdown,
          }).catch(() => undefined);
        }
      }
    });
    this.writes = written;
    return written;
  }
}

function failureEvent(error: unknown, logger: Logger): AiEvent {
  if (error instanceof AiProviderError)
    return { type: 'error', message: error.message, reason: error.reason };
  logger.error(error);
  return { type: 'error', message: 'The AI provider failed', reason: 'upstream' };
}
