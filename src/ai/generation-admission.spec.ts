import { HttpStatus } from '@nestjs/common';
import { RetryableHttpException } from '../common/retryable.exception';
import { loadConfig } from '../config/app-config';
import { GenerationAdmission } from './generation-admission';

const admissionOf = (perUser: number, perInstance: number) =>
  new GenerationAdmission(
    loadConfig({
      AI_MAX_GENERATIONS_PER_USER: String(perUser),
      AI_MAX_GENERATIONS: String(perInstance),
      SSE_RETRY_MS: '3000',
    }),
  );

/** The refusal `admit` throws, or undefined when it admitted (that admission is released). */
function refusal(
  admission: GenerationAdmission,
  quotaKey: string,
): RetryableHttpException | undefined {
  try {
    admission.admit(quotaKey).release();
    return undefined;
  } catch (error) {
    if (error instanceof RetryableHttpException) return error;
    throw error;
  }
}

describe(GenerationAdmission.name, () => {
  it('refuses a quota key past AI_MAX_GENERATIONS_PER_USER with 429 and Retry-After, others still pass', () => {
    const admission = admissionOf(2, 10);
    admission.admit('user:ann');
    admission.admit('user:ann');
    const refused = refusal(admission, 'user:ann');
    expect(refused?.getStatus()).toBe(HttpStatus.TOO_MANY_REQUESTS);
    expect(refused?.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused?.message).toMatch(/AI_MAX_GENERATIONS_PER_USER/);
    // Negative control: another user's share is untouched.
    expect(refusal(admission, 'user:bob')).toBeUndefined();
    expect(admission.runningCount).toBe(2);
  });

  it('refuses past AI_MAX_GENERATIONS on the instance with 503, whoever asks', () => {
    const admission = admissionOf(5, 2);
    admission.admit('a');
    admission.admit('b');
    const refused = refusal(admission, 'c');
    expect(refused?.getStatus()).toBe(HttpStatus.SERVICE_UNAVAILABLE);
    expect(refused?.message).toMatch(/AI_MAX_GENERATIONS /);
    expect(admission.runningCount).toBe(2);
  });

  it('gives a place back once, however often it is released', () => {
    const admission = admissionOf(1, 2);
    const first = admission.admit('user:ann');
    expect(refusal(admission, 'user:ann')?.getStatus()).toBe(HttpStatus.TOO_MANY_REQUESTS);
    first.release();
    first.release(); // a second release must not free a place it does not hold
    expect(admission.runningCount).toBe(0);
    const again = admission.admit('user:ann');
    admission.admit('user:bob');
    expect(admission.runningCount).toBe(2);
    expect(refusal(admission, 'user:carol')?.getStatus()).toBe(HttpStatus.SERVICE_UNAVAILABLE);
    again.release();
    expect(refusal(admission, 'user:carol')).toBeUndefined();
  });
});
