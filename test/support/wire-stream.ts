import net from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * An HTTP/1.1 client on a bare TCP socket that keeps every read() exactly as it came off the wire,
 * with its time. A test can then tell which TCP read delivered each SSE frame: two frames in one
 * read, or a frame that arrived only after later ones were sent, is what a buffering proxy does.
 * (node:http would hand over parsed chunks and hide how they were grouped on the wire.)
 */

export interface WireRead {
  /** performance.now() when the read completed. */
  at: number;
  bytes: Buffer;
}

export interface WireFrame {
  /** The frame's lines, without the blank line that ends it. */
  text: string;
  /** Index into `reads` of the read that completed the frame, and its time. */
  read: number;
  at: number;
}

export interface WireRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export class WireStream {
  readonly reads: WireRead[] = [];
  status = 0;
  /** Response headers, names lower-cased; repeated headers keep every value. */
  headers: Array<[string, string]> = [];
  frames: WireFrame[] = [];
  /** The chunked body ended with its final zero-length chunk: a complete response. */
  complete = false;
  /** When the connection closed, from either side. */
  closedAt: number | undefined;
  readonly openedAt = performance.now();

  private readonly socket: net.Socket;
  private readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(port: number, request: WireRequest) {
    const body = request.body ?? '';
    const head = [
      `${request.method ?? 'GET'} ${request.path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Accept: text/event-stream',
      ...Object.entries(request.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
      ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []),
    ];
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    this.socket.on('data', (bytes: Buffer) => {
      this.reads.push({ at: performance.now(), bytes });
      this.parse();
      this.notify();
    });
    this.socket.on('error', () => undefined); // a reset shows up as 'close' below
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.closedAt = performance.now();
        this.notify();
        resolve();
      }),
    );
  }

  header(name: string): string | undefined {
    return this.headers.find(([n]) => n === name.toLowerCase())?.[1];
  }

  /** Waits until the predicate holds; fails at once if the connection closes first (unless it holds then). */
  waitFor(
    predicate: (stream: WireStream) => boolean,
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
            new Error(`connection closed while waiting for ${what}; received:\n${this.received()}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; received:\n${this.received()}`,
          ),
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

  waitForClose(what = 'the connection to close', timeoutMs = 10_000): Promise<void> {
    return this.waitFor((s) => s.closedAt !== undefined, what, timeoutMs);
  }

  /** Closes the connection (if still open) and waits until it is closed. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }

  /** Everything received so far, for failure messages. */
  received(): string {
    return Buffer.concat(this.reads.map((r) => r.bytes))
      .toString('latin1')
      .slice(-3000);
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Re-parses everything received so far (responses in these tests are a few KiB at most). */
  private parse(): void {
    const raw = Buffer.concat(this.reads.map((r) => r.bytes));
    const headerEnd = raw.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const [statusLine = '', ...headerLines] = raw
      .subarray(0, headerEnd)
      .toString('latin1')
      .split('\r\n');
    this.status = Number(statusLine.split(' ')[1]);
    this.headers = headerLines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
    });

    // The body's bytes, each with its offset in `raw` (to find the read it came in).
    const body: number[] = [];
    const offsets: number[] = [];
    const take = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        body.push(raw[i] ?? 0);
        offsets.push(i);
      }
    };
    let pos = headerEnd + 4;
    if (this.header('transfer-encoding')?.includes('chunked')) {
      for (;;) {
        const lineEnd = raw.indexOf('\r\n', pos);
        if (lineEnd < 0) break;
        const size = parseInt(raw.subarray(pos, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          this.complete = true;
          break;
        }
        const dataStart = lineEnd + 2;
        take(dataStart, Math.min(dataStart + size, raw.length));
        pos = dataStart + size + 2;
        if (pos > raw.length) break;
      }
    } else {
      take(pos, raw.length);
    }

    // SSE frames end with a blank line; the frame arrived with the read holding its last byte.
    const readEnds: number[] = [];
    let total = 0;
    for (const read of this.reads) readEnds.push((total += read.bytes.length));
    const text = Buffer.from(body).toString('latin1');
    this.frames = [];
    let start = 0;
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n', start)) {
      const lastByte = offsets[end + 1] ?? 0;
      const read = readEnds.findIndex((readEnd) => readEnd > lastByte);
      this.frames.push({ text: text.slice(start, end), read, at: this.reads[read]?.at ?? NaN });
      start = end + 2;
    }
  }
}
