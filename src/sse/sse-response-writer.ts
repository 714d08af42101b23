import { HttpException } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import { REQUEST_ID_HEADER } from '../common/request-id';
import type { ConnectionRegistry } from './connection-registry.service';
import type { SseConnection } from './sse-connection';
import {
  batchMessages,
  connectSink,
  isSseBatch,
  isSseOpen,
  SseEmission,
  SseMessage,
  SseSink,
} from './sse-message';
import { frameOf, openingFrame, serializeMessage } from './sse-serializer';

/** How the writer tells its caller that the request is answered. */
export interface SseWriterHooks {
  /** The stream is open (headers, `retry:` and the opening comment are out), or answered 204. */
  answered(): void;
  /** The stream failed before anything was written: the caller answers with an HTTP status. */
  failed(error: unknown): void;
}

export interface SseWriterOptions {
  kind: string;
  ip: string;
  retryMs: number;
  /** HEAD: the stream's headers and nothing else. */
  headOnly: boolean;
  /** `Connection: keep-alive` (HTTP/1.1 only). */
  keepAlive: boolean;
  /** Told of an error inside an open stream that is not an HttpException (to log it). */
  onStreamError: (error: unknown) => void;
  /** X-Request-Id, sent with the stream's headers (or with its 204). */
  requestId: string | undefined;
  /**
   * The route's own stream headers (SseEndpoint's `headers`, e.g. a protocol marker), sent once
   * the stream opens: a 204 or an error answered before that does not carry them.
   */
  extraHeaders?: Readonly<Record<string, string>> | undefined;
}

/**
 * Writes one stream to one response, whatever the source (an Observable, or a DirectSseSource fed
 * by the log's fan-out). The contract's rules for a stream (CONTRACT §1):
 *
 * - Nothing is written until the source emits (SSE_OPEN or a first message), so an error raised
 *   before then is a real HTTP status (hooks.failed).
 * - A source that completes without emitting anything has nothing left to send: 204.
 * - Messages are written as they come (frames cached per message, so a fan-out serializes once);
 *   a batch (replay) is written with backpressure.
 * - Client disconnect releases the source at once.
 *
 * Once open, the connection holds this writer, its SseConnection and the source's release.
 */
export class SseResponseWriter implements SseSink {
  private connection: SseConnection | undefined;
  private release: (() => void) | undefined;
  private done = false;
  private hooks: SseWriterHooks | undefined;
  /** What opening the stream needs; dropped once it is open. */
  private options: SseWriterOptions | undefined;
  private readonly onStreamError: (error: unknown) => void;

  constructor(
    private readonly res: ServerResponse,
    private readonly registry: ConnectionRegistry,
    options: SseWriterOptions,
    hooks: SseWriterHooks,
  ) {
    this.options = options;
    this.onStreamError = options.onStreamError;
    this.hooks = hooks;
    // A client that leaves (before or after the stream opened) releases what the source holds.
    // `on` (the response closes once), as `once` would add a wrapper per connection.
    res.on('close', () => {
      this.connection?.released();
      this.finish();
    });
  }

  /** Starts writing what `source` emits. */
  attach(source: Observable<SseEmission>): void {
    if (this.done) return;
    const release = connectSink(source, this);
    if (this.done) release();
    else this.release = release;
  }

  next(value: SseEmission): void {
    if (this.done) return;
    const connection = this.connection ?? this.open();
    if (isSseOpen(value)) return;
    if (isSseBatch(value)) {
      const frames = batchMessages(value).map(frameOf);
      this.registry.stats.replayed += frames.length;
      void connection.sendBatch(frames, () => this.registry.clock());
      return;
    }
    this.registry.stats.delivered++;
    connection.send(frameOf(value), this.registry.now);
  }

  live(message: SseMessage): void {
    if (this.done) return;
    this.registry.stats.delivered++;
    (this.connection ?? this.open()).send(frameOf(message), this.registry.now);
  }

  error(error: unknown): void {
    if (this.done) return;
    const connection = this.connection;
    if (!connection) {
      const hooks = this.hooks;
      this.finish();
      hooks?.failed(error);
      return;
    }
    const message =
      error instanceof HttpException ? error.message : 'The stream failed; reconnect to resume';
    if (!(error instanceof HttpException)) this.onStreamError(error);
    connection.end('error', serializeMessage({ data: { type: 'error', message } }));
  }

  complete(): void {
    if (this.done) return;
    if (this.connection) {
      this.connection.end('completed');
      return;
    }
    // Complete before it started: nothing to send now or later.
    const requestId = this.options?.requestId;
    if (requestId !== undefined) this.res.setHeader(REQUEST_ID_HEADER, requestId);
    this.res.statusCode = 204;
    this.res.end();
    const hooks = this.hooks;
    this.finish();
    hooks?.answered();
  }

  private open(): SseConnection {
    const { res } = this;
    const options = this.options!;
    this.options = undefined;
    const socket = res.socket;
    socket?.setNoDelay(true);
    socket?.setKeepAlive(true);
    socket?.setTimeout(0);
    const headers: Record<string, string> = {
      ...options.extraHeaders,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    };
    if (options.keepAlive) headers.Connection = 'keep-alive';
    // Given to writeHead rather than set before it: headers set with setHeader stay stored on the
    // response for as long as it is open, one array each.
    if (options.requestId !== undefined) headers[REQUEST_ID_HEADER] = options.requestId;
    res.writeHead(200, headers);
    res.write(openingFrame(options.retryMs));
    const connection = this.registry.open(res, options.kind, options.ip);
    this.connection = connection;
    // A cut by the server (slow consumer, the end of the stream, shutdown) releases the source at
    // once, not only when the response's `close` event comes round.
    connection.onClose(() => this.finish());
    const hooks = this.hooks;
    // From here on the caller is not needed: keep nothing of the request.
    this.hooks = undefined;
    hooks?.answered();
    if (options.headOnly) connection.end('completed');
    return connection;
  }

  /** The writer is done: the source is released and nothing more is written. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.hooks = undefined;
    const release = this.release;
    this.release = undefined;
    release?.();
  }
}
