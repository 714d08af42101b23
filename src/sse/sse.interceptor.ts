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
import { RetryableHttpException, retryAfterSeconds } from '../common/retryable.exception';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { DrainService } from '../lifecycle/drain.service';
import { ConnectionRegistry } from './connection-registry.service';
import type { SseConnection } from './sse-connection';
import { isStreamHandOver, SSE_HEADERS, SSE_KIND, streamOf } from './sse-endpoint.decorator';
import { batchMessages, isSseBatch, isSseOpen, SseEmission } from './sse-message';
import { frameOf, openingFrame, serializeMessage } from './sse-serializer';

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

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly drain: DrainService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler<SseEmission>): Promise<Observable<null>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const kind = this.reflector.get<string>(SSE_KIND, context.getHandler()) ?? 'stream';
    const extraHeaders =
      this.reflector.get<Record<string, string> | undefined>(SSE_HEADERS, context.getHandler()) ??
      {};
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    this.checkLimits(ip);

    return new Promise((resolve, reject) => {
      let connection: SseConnection | undefined;
      let subscription: Subscription | undefined = undefined;
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        subscription?.unsubscribe();
        resolve(of(null));
      };
      // A client that leaves before the stream opened releases what the handler set up.
      res.once('close', () => {
        connection?.released();
        settle();
      });

      const open = (): SseConnection => {
        const opened = this.open(req, res, kind, ip, extraHeaders);
        opened.onClose(settle);
        connection = opened;
        resolve(of(null));
        return opened;
      };

      const observer: Observer<SseEmission> = {
        next: (value) => {
          if (settled) return;
          const target = connection ?? open();
          if (isSseOpen(value)) return;
          if (isSseBatch(value)) {
            const frames = batchMessages(value).map(frameOf);
            this.registry.stats.replayed += frames.length;
            void target.sendBatch(frames, () => this.registry.clock());
            return;
          }
          this.registry.stats.delivered++;
          target.send(frameOf(value), this.registry.now);
        },
        error: (error: unknown) => {
          if (settled) return;
          if (!connection) {
            settled = true;
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          const message =
            error instanceof HttpException
              ? error.message
              : 'The stream failed; reconnect to resume';
          if (!(error instanceof HttpException)) this.logger.error(error);
          connection.end('error', serializeMessage({ data: { type: 'error', message } }));
        },
        complete: () => {
          if (settled) return;
          if (!connection) {
            // Complete before it started: nothing to send now or later.
            res.status(HttpStatus.NO_CONTENT).end();
            settle();
            return;
          }
          connection.end('completed');
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

  private checkLimits(ip: string): void {
    const { maxConnections, maxConnectionsPerIp } = this.config.limits;
    const retryAfter = retryAfterSeconds(this.config.sse.retryMs);
    if (this.drain.draining) {
      throw new RetryableHttpException(
        'This instance is shutting down; retry on another instance',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    if (this.registry.size >= maxConnections) {
      throw new RetryableHttpException(
        'This instance has reached MAX_CONNECTIONS open streams; retry later',
        HttpStatus.SERVICE_UNAVAILABLE,
        retryAfter,
      );
    }
    if (this.registry.countForIp(ip) >= maxConnectionsPerIp) {
      throw new RetryableHttpException(
        'Too many open streams from this address (MAX_CONNECTIONS_PER_IP)',
        HttpStatus.TOO_MANY_REQUESTS,
        retryAfter,
      );
    }
  }

  private open(
    req: Request,
    res: Response,
    kind: string,
    ip: string,
    extraHeaders: Readonly<Record<string, string>>,
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
    const connection = this.registry.open(res, kind, ip);
    // A HEAD request gets the stream's headers and nothing else.
    if (req.method === 'HEAD') connection.end('completed');
    return connection;
  }
}
