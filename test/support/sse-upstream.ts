import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A small loopback HTTP server standing in for a Rivulet replica behind nginx: each test scripts
 * what it answers, and the server records what nginx actually sent it.
 *
 * Its streams never send X-Accel-Buffering, so a test through nginx proves what the nginx config
 * does on its own. Times are performance.now() of this process, the same clock the test's client
 * reads, so send and receive times can be compared directly.
 */

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Header names as sent, with repeats (e.g. to count X-Request-Id). */
  rawHeaders: string[];
  httpVersion: string;
  /** nginx's side of the upstream connection: the same port means a reused (keep-alive) connection. */
  remotePort: number;
  body: Buffer;
  /** When the response closed (ended by us, or nginx went away); undefined while open. */
  closedAt?: number;
  /** True when nginx closed the connection before the handler ended the response. */
  abortedByPeer?: boolean;
  /** Settles when the response has closed. */
  closed: Promise<void>;
}

export interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  seen: SeenRequest;
  /** Runs fn after ms, unless the response has closed by then. */
  after(ms: number, fn: () => void): void;
  /** Runs fn every ms until the response closes (or the returned function is called). */
  every(ms: number, fn: () => void): () => void;
  /** Starts a 200 event stream (Content-Type and Cache-Control as Rivulet sends them). */
  openStream(): void;
  /** Writes one SSE frame (text without the blank line) and returns when it was written. */
  frame(text: string): number;
}

export type Handler = (exchange: Exchange) => void;

export class SseUpstream {
  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    /** Every request nginx sent, in order of arrival. */
    readonly requests: SeenRequest[],
  ) {}

  static async start(handler: Handler): Promise<SseUpstream> {
    const requests: SeenRequest[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let markClosed!: () => void;
        const closed = new Promise<void>((resolve) => (markClosed = resolve));
        const seen: SeenRequest = {
          closed,
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          httpVersion: req.httpVersion,
          remotePort: req.socket.remotePort ?? 0,
          body: Buffer.concat(chunks),
        };
        res.on('close', () => {
          seen.closedAt = performance.now();
          seen.abortedByPeer = !res.writableFinished;
          markClosed();
        });
        requests.push(seen);
        handler(exchange(req, res, seen));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new SseUpstream(server, (server.address() as AddressInfo).port, requests);
  }

  /** Requests whose path (without query) is `path`. */
  requestsTo(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.url.split('?')[0] === path);
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}

function exchange(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  seen: SeenRequest,
): Exchange {
  const timers = new Set<NodeJS.Timeout>();
  res.on('close', () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  });
  return {
    req,
    res,
    seen,
    after(ms, fn) {
      if (res.closed) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    },
    every(ms, fn) {
      const timer = setInterval(fn, ms);
      timers.add(timer);
      return () => {
        clearInterval(timer);
        timers.delete(timer);
      };
    },
    openStream() {
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache, no-transform',
      });
      res.flushHeaders();
    },
    frame(text) {
      res.write(`${text}\n\n`);
      return performance.now();
    },
  };
}
