import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { RecordedStream, type WireFrame } from './wire-stream';

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

export class H2Stream extends RecordedStream {
  status = 0;
  /** Response headers as node:http2 gives them (lower-case names, pseudo-headers included). */
  headers: http2.IncomingHttpHeaders = {};
  /** The server ended the stream (END_STREAM): a complete response. */
  complete = false;
  /** The negotiated ALPN protocol and TLS version of the connection. */
  alpnProtocol: string | undefined;
  tlsVersion: string | undefined;

  private readonly session: http2.ClientHttp2Session;
  private readonly closed: Promise<void>;
  private onFrame: ((frame: WireFrame) => void) | undefined;

  constructor(origin: string, ca: string, request: H2Request) {
    super('stream', 'utf8');
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

  /** Closes the stream and its session (if still open) and waits until closed. */
  async close(): Promise<void> {
    this.session.destroy();
    await this.closed;
  }

  /** The frames so far (DATA chunks hold the body as is); each new one goes to onEachFrame's fn. */
  private parse(): void {
    const text = Buffer.concat(this.reads.map((r) => r.bytes)).toString('latin1');
    const frames = this.framesOf(text, (i) => i);
    const fresh = frames.slice(this.frames.length);
    this.frames = frames;
    for (const frame of fresh) this.onFrame?.(frame);
  }
}
