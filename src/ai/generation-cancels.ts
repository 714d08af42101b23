import { Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { EVENT_LOG, EventLog, Unsubscribe } from '../event-log/event-log';
import { AiEvent, aiOwnerTopic, aiTopic, isTerminal } from './ai-events';

export type CancelOutcome = 'cancelled' | 'finished';

/**
 * Cancels across instances. A cancel is the terminal event itself: `error` reason `cancelled`,
 * written to the generation's topic by whichever instance took the DELETE. The instance running
 * the generation watches its topic and acts on it (upstream aborted, nothing more written), so no
 * instance needs to know which one runs a generation.
 */
@Injectable()
export class GenerationCancels {
  private readonly logger = new Logger(GenerationCancels.name);

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Calls `onEnded` with each terminal event appended to the generation's topic from now on, by
   * any instance. Watch before writing anything, so that a cancel cannot go unseen; stop watching
   * before writing the generation's own terminal event.
   */
  watch(generationId: string, onEnded: (event: AiEvent) => void): Unsubscribe {
    return this.log.subscribe([aiTopic(generationId)], (event) => {
      if (isTerminal(event.data)) onEnded(event.data as AiEvent);
    });
  }

  /**
   * Cancels a generation that does not run on this instance: unknown, 404; ended already,
   * `finished`; else its terminal `error` / `cancelled` is written, which the running instance
   * sees, and its topics expire after AI_RETENTION_MS (for a generation whose instance is gone).
   */
  async cancelElsewhere(generationId: string): Promise<CancelOutcome> {
    const topic = aiTopic(generationId);
    const { events } = await this.log.readAfter([topic], undefined);
    if (events.length === 0) throw new NotFoundException('No such generation');
    if (events.some((event) => isTerminal(event.data))) return 'finished';
    await this.log.append<AiEvent>({
      topic,
      type: 'error',
      data: { type: 'error', message: 'cancelled', reason: 'cancelled' },
    });
    // The running instance expires its seed entry too; this covers one that is gone.
    void this.log
      .expire([topic, aiOwnerTopic(generationId)], this.config.ai.retentionMs)
      .catch((error: unknown) =>
        this.logger.warn(`generation ${generationId}: expiry not set: ${String(error)}`),
      );
    return 'cancelled';
  }
}
