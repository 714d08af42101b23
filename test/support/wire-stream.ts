import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseFrames, type SseFrame } from './sse-frames';
import { Changes } from './wait';

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

/** A frame (parsed by the one frame parser) and the read that completed it. */
export interface WireFrame extends SseFrame {
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

/**
 * What WireStream and H2Stream share: every read kept as it came with its time, the SSE frames
 * found in them (each with the read that completed it), and waits on both.
 */
export abstract class RecordedStream {
  readonly reads: WireRead[] = [];
  frames: WireFrame[] = [];
  /** When the connection (or HTTP/2 stream) closed, from either side. */
  closedAt: number | undefined;
  private readonly changes = new Changes();

  /** `noun` names what closes in failure messages; `encoding` decodes the reads for them. */
  protected constructor(
    private readonly noun: string,
    private readonly encoding: BufferEncoding,
  ) {}

  /** Waits until the predicate holds; fails at once if the stream closes first (unless it holds then). */
  waitFor(predicate: (stream: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return this.changes.until(
      () => {
        if (predicate(this)) return true;
        if (this.closedAt === undefined) return false;
        throw new Error(
          `${this.noun} closed while waiting for ${what}; received:\n${this.received()}`,
        );
      },
      what,
      { timeoutMs, got: () => this.received() },
    );
  }

  waitForClose(what = `the ${this.noun} to close`, timeoutMs = 10_000): Promise<void> {
    return this.waitFor((s) => s.closedAt !== undefined, what, timeoutMs);
  }

  /** Everything received so far (its end), for failure messages. */
  received(): string {
    return Buffer.concat(this.reads.map((r) => r.bytes))
      .toString(this.encoding)
      .slice(-3000);
  }

  protected notify(): void {
    this.changes.notify();
  }

  /**
   * The frames of the body `text`; `offsetOf(i)` is where the body's character i stands in the
   * concatenated reads, so that each frame gets the read that holds its last byte.
   */
  protected framesOf(text: string, offsetOf: (index: number) => number): WireFrame[] {
    const readEnds: number[] = [];
    let total = 0;
    for (const read of this.reads) readEnds.push((total += read.bytes.length));
    return parseFrames(text).map((frame) => {
      const lastByte = offsetOf(frame.end - 1);
      const read = readEnds.findIndex((readEnd) => readEnd > lastByte);
      return { ...frame, read, at: this.reads[read]?.at ?? NaN };
    });
  }
}

export class WireStream extends RecordedStream {
  status = 0;
  /** Response headers, names lower-cased; repeated headers keep every value. */
  headers: Array<[string, string]> = [];
  /** The chunked body ended with its final zero-length chunk: a complete response. */
  complete = false;
  readonly openedAt = performance.now();

  private readonly socket: net.Socket;
  private readonly closed: Promise<void>;

  constructor(port: number, request: WireRequest) {
    super('connection', 'latin1');
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

  /** Closes the connection (if still open) and waits until it is closed. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
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

    this.frames = this.framesOf(Buffer.from(body).toString('latin1'), (i) => offsets[i] ?? 0);
  }
}
