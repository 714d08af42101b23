import type { ServerResponse } from 'node:http';

export type CloseReason = 'client' | 'completed' | 'slow_consumer' | 'shutdown' | 'error';

/**
 * One open event stream: the response it writes to, and what the connection is holding. Frames are
 * written straight to the response; Node buffers what the socket cannot take at once, and past
 * `maxBufferBytes` of unsent data the client is treated as gone (it resumes with Last-Event-ID).
 */
export class SseConnection {
  /** Coarse clock (ms) of the last write, set from the registry's shared tick. */
  lastWriteAt: number;
  closed = false;
  closeReason: CloseReason | undefined;

  /** Frames that arrived while a batch (a replay) was still being written. */
  private queue: string[] | undefined;
  private queuedBytes = 0;
  private batchInProgress = false;
  /** An end requested while a batch was being written: carried out once the batch is out. */
  private pendingEnd: { reason: CloseReason; lastFrame: string | undefined } | undefined;
  private readonly checkEveryWrite: boolean;
  /** Told once when the connection closes (the registry). */
  private closedListener:
    { connectionClosed(connection: SseConnection, reason: CloseReason): void } | undefined;
  /** More close callbacks (the writer, a drain waiting for this stream). */
  private onCloseCallbacks: Array<(reason: CloseReason) => void> | undefined;

  constructor(
    readonly id: number,
    readonly kind: string,
    readonly ip: string,
    private readonly res: ServerResponse,
    private readonly maxBufferBytes: number,
    now: number,
  ) {
    this.lastWriteAt = now;
    this.checkEveryWrite = maxBufferBytes < res.writableHighWaterMark;
  }

  /** Writes one frame, or queues it behind a batch in progress. */
  send(frame: string, now: number): void {
    if (this.closed) return;
    if (this.batchInProgress) {
      (this.queue ??= []).push(frame);
      this.queuedBytes += frame.length;
      this.checkBuffer();
      return;
    }
    // Node says when its buffer passes the socket's high-water mark; only then (or on every write,
    // for a limit below that mark) is the buffered size worth adding up.
    const belowHighWaterMark = this.res.write(frame);
    this.lastWriteAt = now;
    if (!belowHighWaterMark || this.checkEveryWrite) this.checkBuffer();
  }

  /**
   * Writes frames back to back as fast as the client reads them: stops at each full socket buffer
   * and goes on at `drain`. Frames sent meanwhile wait behind the batch, and count against the buffer.
   */
  async sendBatch(batch: readonly string[], clock: () => number): Promise<void> {
    if (this.closed || batch.length === 0) return;
    if (this.batchInProgress) {
      for (const frame of batch) this.send(frame, clock());
      return;
    }
    this.batchInProgress = true;
    try {
      for (const frame of batch) {
        if (this.closed) return;
        if (!this.res.write(frame)) await this.drained();
      }
      this.lastWriteAt = clock();
    } finally {
      this.batchInProgress = false;
    }
    const queued = this.queue;
    this.queue = undefined;
    this.queuedBytes = 0;
    if (queued && !this.closed) this.send(queued.join(''), clock());
    const pendingEnd = this.pendingEnd;
    this.pendingEnd = undefined;
    if (pendingEnd) this.end(pendingEnd.reason, pendingEnd.lastFrame);
  }

  /** Unsent bytes: Node's buffer for this response plus frames queued behind a batch. */
  get bufferedBytes(): number {
    return this.res.writableLength + this.queuedBytes;
  }

  onClose(callback: (reason: CloseReason) => void): void {
    if (this.closed) callback(this.closeReason ?? 'client');
    else (this.onCloseCallbacks ??= []).push(callback);
  }

  /** The owner told first when the connection closes (one object, no closure per connection). */
  setClosedListener(listener: {
    connectionClosed(connection: SseConnection, reason: CloseReason): void;
  }): void {
    this.closedListener = listener;
  }

  /** Ends the response (a finished or drained stream). */
  end(reason: CloseReason, lastFrame?: string): void {
    if (this.closed) return;
    if (this.batchInProgress && reason !== 'shutdown') {
      this.pendingEnd = { reason, lastFrame };
      return;
    }
    this.markClosed(reason);
    if (lastFrame !== undefined) this.res.end(lastFrame);
    else this.res.end();
  }

  /** Drops the connection at once (slow consumer, error). */
  destroy(reason: CloseReason): void {
    if (this.closed) return;
    this.markClosed(reason);
    this.res.destroy();
  }

  /** Called when the underlying response closes for any reason. */
  released(): void {
    this.markClosed('client');
  }

  private markClosed(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.queue = undefined;
    const listener = this.closedListener;
    this.closedListener = undefined;
    listener?.connectionClosed(this, reason);
    const callbacks = this.onCloseCallbacks;
    this.onCloseCallbacks = undefined;
    if (callbacks) for (const callback of callbacks) callback(reason);
  }

  private checkBuffer(): void {
    if (this.bufferedBytes > this.maxBufferBytes) this.destroy('slow_consumer');
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }
}
