import {
  CallHandler,
  ExecutionContext,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Observable, Observer, of, Subscription } from 'rxjs';
import { clientAddress, ProxyTrust, proxyTrust } from '../common/client-address';
import { RetryableHttpException, retryAfterSeconds } from '../common/retryable.exception';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { DrainService } from '../lifecycle/drain.service';
import { releaseRequestSlot } from '../common/request-limits';
import { ConnectionRegistry, Reservation } from './connection-registry.service';
import type { SseConnection } from './sse-connection';
import { isStreamHandOver, SSE_HEADERS, SSE_KIND, streamOf } from './sse-endpoint.decorator';
import { batchMessages, isSseBatch, isSseOpen, SseEmission, SseMessage } from './sse-message';
import { errorFrame, FrameError, frameOf, openingFrame } from './sse-serializer';

/**
 * The one place where Rivulet extends Nest's @Sse(): it subscribes to the handler's Observable and
 * writes the stream itself, straight to the response, with the contract's headers and frames.
 *
 * - Nothing is written until the stream emits (SSE_OPEN or a first message), so an error raised
 *   before then (bad input, auth, limits, unknown resources) is a real HTTP status with a JSON body.
 * - A stream that completes without emitting anything has nothing left to send: 204, which tells
 *   EventSource to stop reconnecting.
 * - Messages are written as they come (frames cached per message, so a fan-out serializes once);
 *   a batch (replay) is written with backpressure.
 * - Client disconnect unsubscribes the handler's Observable at once, releasing what it holds.
 *
 * The route owns its response (see SseEndpoint), so Nest leaves it alone. The promise handed back
 * settles as soon as the stream is open (or answered with a status): from then on a connection holds
 * only its SseConnection and its subscription, not Nest's per-request pipeline.
 */
@Injectable()
export class SseInterceptor implements NestInterceptor {
  private readonly logger = new Logger('SSE');
  private readonly trust: ProxyTrust;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly drain: DrainService,
  ) {
    this.trust = proxyTrust(config.http.trustProxy);
  }

  intercept(context: ExecutionContext, next: CallHandler<SseEmission>): Promise<Observable<null>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const kind = this.reflector.get<string>(SSE_KIND, context.getHandler()) ?? 'stream';
    const extraHeaders =
      this.reflector.get<Record<string, string> | undefined>(SSE_HEADERS, context.getHandler()) ??
      {};
    const ip = clientAddress(req, this.trust);
    // The slot is taken now, before the handler's asynchronous checks, and given back on every path.
    const reservation = this.admit(ip);

    return new Promise((resolve, reject) => {
      let connection: SseConnection | undefined;
      let subscription: Subscription | undefined = undefined;
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        reservation.release();
        subscription?.unsubscribe();
        resolve(of(null));
      };
      // A client that leaves before the stream opened releases what the handler set up.
      res.once('close', () => {
        connection?.released();
        settle();
      });

      const open = (): SseConnection => {
        const opened = this.open(req, res, kind, ip, extraHeaders, reservation);
        opened.onClose(settle);
        connection = opened;
        resolve(of(null));
        return opened;
      };

      const observer: Observer<SseEmission> = {
        next: (value) => {
          if (settled) return;
          // Nothing thrown here may reach RxJS, which would rethrow it out of the process: a frame
          // that cannot be built or written ends this one connection (see fail).
          try {
            const target = connection ?? open();
            if (isSseOpen(value)) return;
            if (isSseBatch(value)) {
              this.sendBatch(target, batchMessages(value));
              return;
            }
            this.registry.stats.delivered++;
            target.send(frameOf(value), this.registry.now);
          } catch (error) {
            this.fail(connection, res, error);
          }
        },
        error: (error: unknown) => {
          if (settled) return;
          if (!connection) {
            settled = true;
            reservation.release();
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          const message =
            error instanceof HttpException
              ? error.message
              : 'The stream failed; reconnect to resume';
          if (!(error instanceof HttpException)) this.logger.error(error);
          this.fail(connection, res, undefined, message);
        },
        complete: () => {
          if (settled) return;
          try {
            if (!connection) {
              // Complete before it started: nothing to send now or later.
              res.status(HttpStatus.NO_CONTENT).end();
              settle();
              return;
            }
            connection.end('completed');
          } catch (error) {
            this.fail(connection, res, error);
          }
        },
      };
      // The handler's stream arrives as one value (SseEndpoint hands it over): subscribe to it
      // directly, so messages do not travel through Nest's per-request pipeline.
      let handedOver = false;
      subscription = next.handle().subscribe({
        next: (value) => {
          if (!isStreamHandOver(value)) {
            observer.next(value);
            return;
          }
          handedOver = true;
          const inner = streamOf(value).subscribe(observer);
          if (settled) inner.unsubscribe();
          else subscription = inner;
        },
        error: (error: unknown) => observer.error(error),
        complete: () => {
          if (!handedOver) observer.complete();
        },
      });
      if (settled) subscription.unsubscribe();
    });
  }

  /**
   * A replay, written with backpressure. Frames are built first; when one cannot be built, the
   * frames before it go out and the connection ends with an error frame in its place.
   */
  private sendBatch(target: SseConnection, messages: readonly SseMessage[]): void {
    const frames: string[] = [];
    let failure: FrameError | undefined;
    for (const message of messages) {
      try {
        frames.push(frameOf(message));
      } catch (error) {
        failure = error instanceof FrameError ? error : new FrameError(message, error);
        break;
      }
    }
    this.registry.stats.replayed += frames.length;
    void target.sendBatch(frames, () => this.registry.clock());
    if (failure) throw failure;
  }

  /**
   * Ends one stream after a failure inside it, and only that stream. A message that could not be
   * serialized (a value JSON.stringify cannot walk) is replaced by an error frame carrying its id,
   * so the client's Last-Event-ID moves past it and its reconnect resumes after it.
   */
  private fail(
    connection: SseConnection | undefined,
    res: Response,
    error: unknown,
    message = 'The stream failed; reconnect to resume',
  ): void {
    try {
      // An event that cannot be written is reported once per connection, on one line.
      if (error instanceof FrameError) this.logger.warn(error.message);
      else if (error !== undefined) this.logger.error(error);
      if (!connection) {
        if (!res.headersSent) {
          res.status(HttpStatus.INTERNAL_SERVER_ERROR).json({
            statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
            error: 'Internal Server Error',
            message: 'Internal server error',
          });
        } else {
          res.destroy();
        }
        return;
      }
      const skipped = error instanceof FrameError ? error.eventId : undefined;
      const text =
        skipped !== undefined
          ? `Event ${skipped} could not be sent; reconnect to continue after it`
          : message;
      connection.end('error', errorFrame(text, skipped));
    } catch (secondary) {
      // Even writing the error frame failed (the socket is broken): drop the connection.
      this.logger.error(secondary);
      res.destroy();
    }
  }

  private admit(ip: string): Reservation {
    const { maxConnections, maxConnectionsPerIp } = this.config.limits;
    const retryAfter = retryAfterSeconds(this.config.sse.retryMs);
    if (this.drain.draining) {
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

  private open(
    req: Request,
    res: Response,
    kind: string,
    ip: string,
    extraHeaders: Readonly<Record<string, string>>,
    reservation: Reservation,
  ): SseConnection {
    const socket = req.socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.setTimeout(0);
    const headers: Record<string, string> = {
      ...extraHeaders,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    };
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1) headers.Connection = 'keep-alive';
    res.writeHead(HttpStatus.OK, headers);
    res.write(openingFrame(this.config.sse.retryMs));
    const connection = this.registry.open(res, kind, ip, reservation);
    // From now on this is a stream, not a request in progress (see the per-address request cap).
    releaseRequestSlot(req);
    // A HEAD request gets the stream's headers and nothing else.
    if (req.method === 'HEAD') connection.end('completed');
    return connection;
  }
}
