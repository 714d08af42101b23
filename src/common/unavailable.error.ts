/**
 * Something a request needs is away for a moment (the event store reconnecting). Lower layers throw
 * it without knowing HTTP; the global HttpExceptionFilter answers `503` with `Retry-After` and
 * `clientMessage`, never `message`, which may hold internal details (a Redis error).
 */
export class TemporarilyUnavailableError extends Error {
  constructor(
    message: string,
    readonly clientMessage: string,
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}
