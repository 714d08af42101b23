import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';

export type AiGenerationOutcome = 'completed' | 'failed' | 'aborted';
export type AiAbortReason = 'cancelled' | 'detached' | 'shutdown';

const OUTCOMES: readonly AiGenerationOutcome[] = ['completed', 'failed', 'aborted'];
const ABORT_REASONS: readonly AiAbortReason[] = ['cancelled', 'detached', 'shutdown'];

/**
 * The AI module's own counters, registered on the instance's metrics registry (so /metrics shows
 * them): the metrics module knows nothing of AI. Rare events, so plain prom-client counters.
 */
@Injectable()
export class AiMetrics {
  private readonly started: Counter;
  private readonly generations: Counter<'outcome'>;
  private readonly aborts: Counter<'reason'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.started = new Counter({
      name: 'rivulet_ai_generations_started_total',
      help: 'AI generations started (upstream requests made)',
      registers,
    });
    this.generations = new Counter({
      name: 'rivulet_ai_generations_total',
      help: 'AI generations finished, by outcome (completed, failed, aborted)',
      labelNames: ['outcome'],
      registers,
    });
    this.aborts = new Counter({
      name: 'rivulet_ai_aborts_total',
      help: 'Upstream AI requests aborted, by reason (cancelled, detached, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    for (const outcome of OUTCOMES) this.generations.inc({ outcome }, 0);
    for (const reason of ABORT_REASONS) this.aborts.inc({ reason }, 0);
  }

  /** When a generation's upstream request is sent. */
  aiGenerationStarted(): void {
    this.started.inc();
  }

  /** Once per generation, when it ends. */
  aiGenerationFinished(outcome: AiGenerationOutcome): void {
    this.generations.inc({ outcome });
  }

  /**
   * When an upstream request is aborted: `cancelled` (DELETE), `detached` (no subscriber left after
   * AI_DETACH_GRACE_MS) or `shutdown`.
   */
  aiUpstreamAborted(reason: AiAbortReason): void {
    this.aborts.inc({ reason });
  }
}
