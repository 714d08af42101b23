import { JsonResponse, post } from './http';

/** Answers a publisher may retry: the proxy found no replica (502, 504) or the app is unavailable (503). */
const RETRYABLE = new Set([502, 503, 504]);

export interface PostRetryOptions {
  /** Attempts before giving up (bounded). */
  attempts?: number;
  /** Pause between attempts: pacing of the retries, not a wait for an event. */
  pauseMs?: number;
}

/**
 * POSTs `body` until it is accepted, as a careful publisher does while a replica is killed or Redis
 * restarts: a 502/503/504 or a transport error is retried, any other answer is returned as is.
 * `retries` counts the attempts that failed. A retried publish whose first attempt had reached the
 * log can appear there twice (at-least-once); the caller compares clients against the log.
 */
export async function postUntilAccepted(
  url: string,
  body: unknown,
  options: PostRetryOptions = {},
): Promise<JsonResponse & { retries: number }> {
  const attempts = options.attempts ?? 400;
  const pauseMs = options.pauseMs ?? 25;
  let last = 'no attempt';
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const response = await post(url, body);
      if (!RETRYABLE.has(response.status)) return { ...response, retries: attempt };
      last = `${response.status} ${response.body}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  throw new Error(`POST ${url} not accepted after ${attempts} attempts; last: ${last}`);
}
