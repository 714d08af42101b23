import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { RetryableHttpException } from './retryable.exception';
import { TemporarilyUnavailableError } from './unavailable.error';

/**
 * Every error answer is `{statusCode, error, message}`; a RetryableHttpException adds its
 * `Retry-After` header. Once a stream has started, nothing is written.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(error: unknown, host: ArgumentsHost): void {
    let exception = error;
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof TemporarilyUnavailableError) {
      // The store is away for a moment (Redis reconnecting): a retryable 503, not a 500.
      exception = new RetryableHttpException(
        exception.clientMessage,
        HttpStatus.SERVICE_UNAVAILABLE,
        exception.retryAfterSeconds,
      );
    }
    const statusCode =
      exception instanceof HttpException ? exception.getStatus() : HttpStatus.INTERNAL_SERVER_ERROR;
    // Unexpected failures only: a deliberate HttpException (503 while draining or at MAX_CONNECTIONS)
    // is already recorded by the request's log line.
    if (!(exception instanceof HttpException)) this.logger.error(exception);
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    if (exception instanceof RetryableHttpException) {
      res.setHeader('Retry-After', String(exception.retryAfterSeconds));
    }
    res.status(statusCode).json({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: exception instanceof HttpException ? messageOf(exception) : 'Internal server error',
    });
  }
}

function messageOf(exception: HttpException): string | string[] {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (typeof message === 'string' || Array.isArray(message)) return message as string | string[];
  return exception.message;
}
