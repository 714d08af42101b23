import { HttpException } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import { REQUEST_ID_HEADER } from '../common/request-id';
import type { ConnectionRegistry, Reservation } from './connection-registry.service';
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
import { errorFrame, FrameError, frameOf, openingFrame } from './sse-serializer';

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
  /** Told, once per connection, of an event that could not become a frame (to log it). */
  onFrameError?: (message: string) => void;
  /** The admission slot the stream's connection takes over when it opens. */
  reservation?: Reservation;
  /** Called once the stream is open. */
  onOpen?: () => void;
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
  private readonly onFrameError: ((message: string) => void) | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly registry: ConnectionRegistry,
    options: SseWriterOptions,
    hooks: SseWriterHooks,
  ) {
    this.options = options;
    this.onStreamError = options.onStreamError;
    this.onFrameError = options.onFrameError;
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
    // Nothing thrown here may reach the source (RxJS would rethrow it out of the process): a frame
    // that cannot be built or written ends this one connection (see fail).
    try {
      const connection = this.connection ?? this.open();
      if (isSseOpen(value)) return;
      if (isSseBatch(value)) {
        this.sendBatch(connection, batchMessages(value));
        return;
      }
      this.registry.stats.delivered++;
      connection.send(frameOf(value), this.registry.now);
    } catch (error) {
      this.fail(error);
    }
  }

  live(message: SseMessage): void {
    if (this.done) return;
    try {
      this.registry.stats.delivered++;
      (this.connection ?? this.open()).send(frameOf(message), this.registry.now);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * A replay, written with backpressure. Frames are built first; when one cannot be built, the
   * frames before it go out and the connection ends with an error frame in its place.
   */
  private sendBatch(connection: SseConnection, messages: readonly SseMessage[]): void {
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
    void connection.sendBatch(frames, () => this.registry.clock());
    if (failure) throw failure;
  }

  /**
   * Ends this stream after a failure inside it, and only this stream. A message that could not be
   * serialized (a value JSON.stringify cannot walk) is replaced by an error frame carrying its id,
   * so the client's Last-Event-ID moves past it and its reconnect resumes after it.
   */
  private fail(error: unknown): void {
    try {
      if (error instanceof FrameError) this.onFrameError?.(error.message);
      else this.onStreamError(error);
      const connection = this.connection;
      if (!connection) {
        // Failed while opening: nothing of the stream went out yet.
        this.failBeforeOpen(error);
        return;
      }
      const skipped = error instanceof FrameError ? error.eventId : undefined;
      const text =
        skipped !== undefined
          ? `Event ${skipped} could not be sent; reconnect to continue after it`
          : 'The stream failed; reconnect to resume';
      connection.end('error', errorFrame(text, skipped));
    } catch (secondary) {
      // Even writing the error frame failed (the socket is broken): drop the connection.
      this.onStreamError(secondary);
      this.finish();
      this.res.destroy();
    }
  }

  error(error: unknown): void {
    if (this.done) return;
    const connection = this.connection;
    if (!connection) {
      this.failBeforeOpen(error);
      return;
    }
    const message =
      error instanceof HttpException ? error.message : 'The stream failed; reconnect to resume';
    if (!(error instanceof HttpException)) this.onStreamError(error);
    connection.end('error', errorFrame(message));
  }

  /** Nothing of the stream went out yet: the caller answers `error` with an HTTP status. */
  private failBeforeOpen(error: unknown): void {
    const hooks = this.hooks;
    this.finish();
    hooks?.failed(error);
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
    socket?.setTimeout(0);
    const headers: Record<string, string> = {
      ...options.extraHeaders,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      // Set here too: a stream served by SseRouteListener does not pass Express's middleware.
      'X-Content-Type-Options': 'nosniff',
    };
    if (options.keepAlive) headers.Connection = 'keep-alive';
    // Given to writeHead rather than set before it: headers set with setHeader stay stored on the
    // response for as long as it is open, one array each.
    if (options.requestId !== undefined) headers[REQUEST_ID_HEADER] = options.requestId;
    res.writeHead(200, headers);
    res.write(openingFrame(options.retryMs));
    const connection = this.registry.open(res, options.kind, options.ip, options.reservation);
    options.onOpen?.();
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
