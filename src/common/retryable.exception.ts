import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * A refusal the client should retry later (503 or 429): the global HttpExceptionFilter answers it
 * with a `Retry-After: <retryAfterSeconds>` header next to the usual JSON body. The one way any
 * route or interceptor says "not now", so the header is set in one place.
 */
export class RetryableHttpException extends HttpException {
  constructor(
    message: string,
    status: HttpStatus.SERVICE_UNAVAILABLE | HttpStatus.TOO_MANY_REQUESTS,
    readonly retryAfterSeconds: number,
  ) {
    super(message, status);
  }
}

/**
 * Retry-After, in whole seconds, for a refused stream: a little more than the `retry:` hint
 * (SSE_RETRY_MS) the client would otherwise use, so it never comes back sooner.
 */
export function retryAfterSeconds(retryMs: number): number {
  return Math.ceil(retryMs / 1000) + 1;
}
