import {
  ArgumentsHost,
  BadRequestException,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { ServerResponse, STATUS_CODES } from 'node:http';
import { InvalidInputError } from './invalid-input.error';
import { RetryableHttpException } from './retryable.exception';
import { TemporarilyUnavailableError } from './unavailable.error';

const logger = new Logger('HTTP');

/**
 * Answers `error` on `res` as `{statusCode, error, message}`; a RetryableHttpException adds its
 * `Retry-After` header. Once a stream has started, nothing is written. The one error writer, used by
 * HttpExceptionFilter (Express routes) and SseRouteListener (stream routes served below Express),
 * with node:http APIs only.
 */
export function writeErrorResponse(res: ServerResponse, error: unknown): void {
  let exception = error;
  if (exception instanceof TemporarilyUnavailableError) {
    // The store is away for a moment (Redis reconnecting): a retryable 503, not a 500.
    exception = new RetryableHttpException(
      exception.clientMessage,
      HttpStatus.SERVICE_UNAVAILABLE,
      exception.retryAfterSeconds,
    );
  }
  if (exception instanceof InvalidInputError) {
    exception = new BadRequestException(exception.message);
  }
  const statusCode =
    exception instanceof HttpException ? exception.getStatus() : HttpStatus.INTERNAL_SERVER_ERROR;
  // Unexpected failures only: a deliberate HttpException (503 while draining or at MAX_CONNECTIONS)
  // is already recorded by the request's log line.
  if (!(exception instanceof HttpException)) logger.error(exception);
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (exception instanceof RetryableHttpException) {
    res.setHeader('Retry-After', String(exception.retryAfterSeconds));
  }
  const body = JSON.stringify({
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message: exception instanceof HttpException ? messageOf(exception) : 'Internal server error',
  });
  res.statusCode = statusCode;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Every error answer of a Nest route goes through writeErrorResponse. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    writeErrorResponse(host.switchToHttp().getResponse<ServerResponse>(), error);
  }
}

function messageOf(exception: HttpException): string | string[] {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (typeof message === 'string' || Array.isArray(message)) return message as string | string[];
  return exception.message;
}
