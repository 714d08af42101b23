import {
  CallHandler,
  ExecutionContext,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Observable, of } from 'rxjs';
import { clientAddress, ProxyTrust, proxyTrust } from '../common/client-address';
import { releaseRequestSlot } from '../common/request-limits';
import { RetryableHttpException, retryAfterSeconds } from '../common/retryable.exception';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { ConnectionRegistry, Reservation } from './connection-registry.service';
import { isStreamHandOver, SSE_HEADERS, SSE_KIND, streamOf } from './stream-hand-over';
import type { SseEmission } from './sse-message';
import { SseResponseWriter } from './sse-response-writer';

/** What a stream route reads of its request: node's, plus the client address Express or SseRouteListener set. */
type StreamRequest = IncomingMessage & { ip?: string; id?: unknown };

/**
 * The one place where Rivulet extends Nest's @Sse(): it checks admission, then hands the handler's
 * Observable to an SseResponseWriter, which writes the stream straight to the response with the
 * contract's headers and frames (see SseResponseWriter for the rules).
 *
 * It runs for a stream route whichever way the request came in: through Express (POST routes) or
 * through SseRouteListener (GET and HEAD), which calls the same guards, this interceptor and the
 * handler with a plain node:http request. So it uses node:http APIs only.
 *
 * The route owns its response (see SseEndpoint), so Nest leaves it alone. The promise handed back
 * settles as soon as the stream is open (or answered with a status): from then on a connection holds
 * only its writer, its SseConnection and its source, not Nest's per-request pipeline.
 */
@Injectable()
export class SseInterceptor implements NestInterceptor {
  private readonly logger = new Logger('SSE');
  private readonly onStreamError = (error: unknown): void => this.logger.error(error);
  private readonly onFrameError = (message: string): void => this.logger.warn(message);
  private readonly trust: ProxyTrust;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.trust = proxyTrust(config.http.trustProxy);
  }

  intercept(context: ExecutionContext, next: CallHandler<SseEmission>): Promise<Observable<null>> {
    const http = context.switchToHttp();
    return this.serve(
      http.getRequest<StreamRequest>(),
      http.getResponse<ServerResponse>(),
      context.getHandler() as (...args: unknown[]) => unknown,
      next.handle(),
    ).then(() => of(null));
  }

  /**
   * What intercept() does, without Nest's ExecutionContext and CallHandler: SseRouteListener calls
   * this directly for a route whose only interceptor is this one (see StreamInterceptorsConsumer),
   * so a stream request skips the interceptor chain's per-request RxJS and async-context wrappers.
   * `results` is what the handler returned (one hand-over, or the values of a plain Observable).
   * Settles once the request is answered (stream open, 204) or the client left; rejects with an
   * error raised before the stream started, which the caller answers with a status.
   */
  async serve(
    req: StreamRequest,
    res: ServerResponse,
    handler: (...args: unknown[]) => unknown,
    results: Observable<unknown>,
  ): Promise<void> {
    const kind = this.reflector.get<string>(SSE_KIND, handler) ?? 'stream';
    const extraHeaders = this.reflector.get<Readonly<Record<string, string>> | undefined>(
      SSE_HEADERS,
      handler,
    );
    const ip = clientAddress(req, this.trust);
    // The slot is taken now, before the handler's asynchronous checks, and given back on every
    // path: by the connection once the stream opens, or here when the request ends without one.
    const reservation = this.admit(ip);

    return new Promise((resolve, reject) => {
      // A client that leaves before the stream is answered: nothing more to wait for. Removed once
      // answered, so an open stream keeps nothing of this request's pipeline alive.
      const left = () => {
        reservation.release();
        resolve();
      };
      res.once('close', left);
      const writer = new SseResponseWriter(
        res,
        this.registry,
        {
          kind,
          ip,
          retryMs: this.config.sse.retryMs,
          headOnly: req.method === 'HEAD',
          keepAlive: req.httpVersionMajor === 1 && req.httpVersionMinor === 1,
          onStreamError: this.onStreamError,
          onFrameError: this.onFrameError,
          reservation,
          // From then on this is a stream, not a request in progress (the per-address request cap
          // of the Express path; a no-op for requests served by SseRouteListener).
          onOpen: () => releaseRequestSlot(req as Parameters<typeof releaseRequestSlot>[0]),
          requestId: typeof req.id === 'string' ? req.id : undefined,
          extraHeaders,
        },
        {
          answered: () => {
            res.off('close', left);
            // Open: the connection holds the slot now. Answered 204: the slot is free again.
            reservation.release();
            resolve();
          },
          failed: (error) => {
            res.off('close', left);
            reservation.release();
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        },
      );
      // The handler's stream arrives as one value (SseEndpoint hands it over): the writer attaches
      // to it directly, so messages do not travel through Nest's per-request pipeline.
      let handedOver = false;
      results.subscribe({
        next: (value) => {
          if (isStreamHandOver(value)) {
            handedOver = true;
            writer.attach(streamOf(value));
          } else writer.next(value as SseEmission);
        },
        error: (error: unknown) => writer.error(error),
        complete: () => {
          if (!handedOver) writer.complete();
        },
      });
    });
  }

  /** Admission: a slot for this stream, reserved at once, or the refusal as an HTTP status. */
  private admit(ip: string): Reservation {
    const { maxConnections, maxConnectionsPerIp } = this.config.limits;
    const retryAfter = retryAfterSeconds(this.config.sse.retryMs);
    if (this.registry.draining) {
      throw new RetryableHttpException(
        'This instance is shutting down; retry on another instance',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    const reservation = this.registry.reserve(ip, { maxConnections, maxConnectionsPerIp });
    if (reservation === 'instance') {
      throw new RetryableHttpException(
        'This instance has reached MAX_CONNECTIONS open streams; retry later',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    if (reservation === 'ip') {
      throw new RetryableHttpException(
        'Too many open streams from this address (MAX_CONNECTIONS_PER_IP)',
        HttpStatus.TOO_MANY_REQUESTS,
        retryAfter,
      );
    }
    return reservation;
  }
}
