import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { WireFrame, WireRead } from './wire-stream';

/**
 * An HTTP/2 client (node:http2, over TLS with ALPN `h2`) that keeps every DATA chunk exactly as it
 * came off the connection, with its time: the HTTP/2 counterpart of WireStream. Node hands a
 * stream's DATA frames over one by one (it never merges two frames into one chunk), so two SSE
 * events in one chunk means the proxy sent them in one frame: they were held back together.
 */

export interface H2Request {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export class H2Stream {
  readonly reads: WireRead[] = [];
  status = 0;
  /** Response headers as node:http2 gives them (lower-case names, pseudo-headers included). */
  headers: http2.IncomingHttpHeaders = {};
  frames: WireFrame[] = [];
  /** The server ended the stream (END_STREAM): a complete response. */
  complete = false;
  /** When the stream closed, from either side (END_STREAM, RST_STREAM or the session going away). */
  closedAt: number | undefined;
  /** The negotiated ALPN protocol and TLS version of the connection. */
  alpnProtocol: string | undefined;
  tlsVersion: string | undefined;

  private readonly session: http2.ClientHttp2Session;
  private readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];
  private onFrame: ((frame: WireFrame) => void) | undefined;

  constructor(origin: string, ca: string, request: H2Request) {
    this.session = http2.connect(origin, { ca, servername: 'localhost' });
    this.session.on('error', () => undefined); // shows up as the stream's close below
    this.session.once('connect', (session: http2.ClientHttp2Session) => {
      this.alpnProtocol = session.alpnProtocol;
      this.tlsVersion = (session.socket as import('node:tls').TLSSocket).getProtocol?.() ?? '';
    });
    const stream = this.session.request({
      ':method': request.method ?? 'GET',
      ':path': request.path,
      accept: 'text/event-stream',
      ...(request.body ? { 'content-type': 'application/json' } : {}),
      ...Object.fromEntries(
        Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
    });
    stream.on('response', (headers) => {
      this.headers = headers;
      this.status = Number(headers[':status']);
      this.notify();
    });
    stream.on('data', (bytes: Buffer) => {
      this.reads.push({ at: performance.now(), bytes });
      this.parse();
      this.notify();
    });
    stream.on('end', () => {
      this.complete = true;
      this.notify();
    });
    stream.on('error', () => undefined); // RST_STREAM: 'close' below
    this.closed = new Promise((resolve) =>
      stream.once('close', () => {
        this.closedAt = performance.now();
        this.notify();
        this.session.close();
        resolve();
      }),
    );
    stream.end(request.body);
  }

  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /** Calls `fn` with each complete SSE frame as it arrives (after the ones already received). */
  onEachFrame(fn: (frame: WireFrame) => void): void {
    this.onFrame = fn;
    for (const frame of this.frames) fn(frame);
  }

  /** Waits until the predicate holds; fails at once if the stream closes first (unless it holds then). */
  waitFor(
    predicate: (stream: H2Stream) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this)) {
          done();
          resolve();
        } else if (this.closedAt !== undefined) {
          done();
          reject(
            new Error(`stream closed while waiting for ${what}; received:\n${this.received()}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.received()}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  waitForClose(what = 'the stream to close', timeoutMs = 10_000): Promise<void> {
    return this.waitFor((s) => s.closedAt !== undefined, what, timeoutMs);
  }

  /** Closes the stream and its session (if still open) and waits until closed. */
  async close(): Promise<void> {
    this.session.destroy();
    await this.closed;
  }

  received(): string {
    return Buffer.concat(this.reads.map((r) => r.bytes))
      .toString('utf8')
      .slice(-3000);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** SSE frames end with a blank line; a frame arrived with the DATA chunk holding its last byte. */
  private parse(): void {
    const readEnds: number[] = [];
    let total = 0;
    for (const read of this.reads) readEnds.push((total += read.bytes.length));
    const text = Buffer.concat(this.reads.map((r) => r.bytes)).toString('latin1');
    const frames: WireFrame[] = [];
    let start = 0;
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n', start)) {
      const read = readEnds.findIndex((readEnd) => readEnd > end + 1);
      frames.push({ text: text.slice(start, end), read, at: this.reads[read]?.at ?? NaN });
      start = end + 2;
    }
    const fresh = frames.slice(this.frames.length);
    this.frames = frames;
    for (const frame of fresh) this.onFrame?.(frame);
  }
}
