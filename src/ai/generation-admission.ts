import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { RetryableHttpException, retryAfterSeconds } from '../common/retryable.exception';
import { APP_CONFIG, AppConfig } from '../config/app-config';

/** A generation's place among those running here: given back once, when it ends. */
export interface Admission {
  /** Gives the place back (a second call does nothing). */
  release(): void;
}

/**
 * Admission of AI generations on this instance: at most AI_MAX_GENERATIONS_PER_USER running for
 * one quota key (a user, or a client address in open mode), 429 past it; at most
 * AI_MAX_GENERATIONS running here, 503 past it. Both with Retry-After. The counts are taken in
 * the same synchronous step as the check, so concurrent requests cannot pass a limit.
 */
@Injectable()
export class GenerationAdmission {
  private running = 0;
  /** Generations running here, by quota key. */
  private readonly runningBy = new Map<string, number>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** Generations admitted on this instance and not released yet. */
  get runningCount(): number {
    return this.running;
  }

  /** Takes a place for one generation of `quotaKey`, or throws the 429 / 503 that refuses it. */
  admit(quotaKey: string): Admission {
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
    this.running++;
    this.runningBy.set(quotaKey, (this.runningBy.get(quotaKey) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        const left = (this.runningBy.get(quotaKey) ?? 1) - 1;
        if (left > 0) this.runningBy.set(quotaKey, left);
        else this.runningBy.delete(quotaKey);
      },
    };
  }
}
