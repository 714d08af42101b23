import { EventSource, type EventSourceInit } from 'eventsource';
import http from 'node:http';
import https from 'node:https';

/** Conditions waited on until something new arrives; each resolves when its check holds. */
class Waiters {
  private pending: Array<() => void> = [];

  waitFor(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = () => {
        if (!check()) return false;
        cleanup();
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${describe()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.pending = this.pending.filter((w) => w !== waiter);
      };
      if (!waiter()) this.pending.push(waiter);
    });
  }

  notify(): void {
    for (const waiter of [...this.pending]) waiter();
  }
}

export interface ReceivedEvent {
  type: string;
  data: string;
  lastEventId: string;
  json: any;
}

/**
 * The real `eventsource` client, recording every event (of the given types, plus `message`) so a
 * test can wait for the one it expects instead of sleeping.
 */
export class RecordingEventSource {
  readonly source: EventSource;
  readonly events: ReceivedEvent[] = [];
  opens = 0;
  errors = 0;
  private readonly waiters = new Waiters();

  constructor(
    url: string,
    init?: EventSourceInit & { types?: string[]; headers?: Record<string, string> },
  ) {
    const headers = init?.headers;
    this.source = new EventSource(url, {
      ...init,
      fetch: headers
        ? (input, fetchInit) =>
            fetch(input, { ...fetchInit, headers: { ...(fetchInit?.headers ?? {}), ...headers } })
        : init?.fetch,
    });
    const record = (event: { type: string; data: string; lastEventId: string }) => {
      let json: unknown;
      try {
        json = JSON.parse(event.data);
      } catch {
        json = undefined;
      }
      this.events.push({
        type: event.type,
        data: event.data,
        lastEventId: event.lastEventId,
        json,
      });
      this.notify();
    };
    this.source.addEventListener('message', record);
    for (const type of init?.types ?? []) this.source.addEventListener(type, record);
    this.source.addEventListener('open', () => {
      this.opens++;
      this.notify();
    });
    this.source.addEventListener('error', () => {
      this.errors++;
      this.notify();
    });
  }

  /** Resolves once `predicate` holds over what was received; rejects after `timeoutMs`. */
  waitFor(
    predicate: (events: ReceivedEvent[]) => boolean,
    timeoutMs = 10_000,
    what = 'condition',
  ): Promise<void> {
    return this.waiters.waitFor(
      () => predicate(this.events),
      timeoutMs,
      () => `${what}; got ${JSON.stringify(this.events.map((e) => e.data))}`,
    );
  }

  waitForOpen(count = 1, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.opens >= count, timeoutMs, `${count} open(s)`);
  }

  close(): void {
    this.source.close();
  }

  private notify(): void {
    this.waiters.notify();
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A plain GET that reads the whole body (for non-stream answers: 204, 4xx, finished streams). An
 * https:// URL is verified against `tls.ca` alone when given (a self-signed certificate).
 */
export function get(
  url: string,
  headers: Record<string, string> = {},
  tls: { ca?: string } = {},
): Promise<RawResponse> {
  const client = url.startsWith('https:') ? https : http;
  const options = { headers, agent: false, ...(tls.ca === undefined ? {} : { ca: tls.ca }) };
  return new Promise((resolve, reject) => {
    const req = client.get(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

export interface StreamRequest {
  method?: 'GET' | 'POST';
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A streamed response read raw over node:http, exposing the socket, for tests that must control
 * reading (pause it to play a slow consumer), look at the exact bytes, or POST (fetch-style clients).
 */
export class StreamReader {
  text = '';
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  readonly request: http.ClientRequest;
  response: http.IncomingMessage | undefined;
  private readonly waiters = new Waiters();

  constructor(url: string, options: StreamRequest = {}) {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = { ...(body ? { 'Content-Type': 'application/json' } : {}), ...options.headers };
    this.request = http.request(
      url,
      { method: options.method ?? 'GET', headers, agent: false },
      (res) => {
        this.response = res;
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          this.text += chunk;
          this.notify();
        });
        const done = () => {
          this.ended = true;
          this.notify();
        };
        res.on('end', done);
        res.on('close', done);
        this.notify();
      },
    );
    this.request.on('error', () => {
      this.ended = true;
      this.notify();
    });
    this.request.end(body);
  }

  waitFor(
    predicate: (stream: this) => boolean,
    timeoutMs = 10_000,
    what = 'condition',
  ): Promise<void> {
    return this.waiters.waitFor(
      () => predicate(this),
      timeoutMs,
      () => `${what}; got ${JSON.stringify(this.text.slice(-2000))}`,
    );
  }

  /** Resolves once the server ended the response. */
  waitForEnd(timeoutMs = 10_000): Promise<void> {
    return this.waitFor((s) => s.ended, timeoutMs, 'end of stream');
  }

  close(): void {
    this.request.destroy();
  }

  private notify(): void {
    this.waiters.notify();
  }
}

/** A GET stream read raw; frames() are the complete frames as text. */
export class RawStream extends StreamReader {
  constructor(url: string, headers: Record<string, string> = {}) {
    super(url, { headers });
  }

  /** Complete frames received so far (split on the blank line). */
  frames(): string[] {
    const complete = this.text.slice(0, this.text.lastIndexOf('\n\n') + 2);
    return complete.split('\n\n').filter((f) => f.length > 0);
  }
}
