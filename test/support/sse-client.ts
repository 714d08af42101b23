import { EventSource, type EventSourceInit } from 'eventsource';
import http from 'node:http';
import { dataFrames, parseFrames, type DataFrame, type SseFrame } from './sse-frames';
import { Changes } from './wait';

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
  private readonly changes = new Changes();

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
    return this.changes.until(() => predicate(this.events), what, {
      timeoutMs,
      got: () => JSON.stringify(this.events.map((e) => e.data)),
    });
  }

  waitForOpen(count = 1, timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.opens >= count, timeoutMs, `${count} open(s)`);
  }

  close(): void {
    this.source.close();
  }

  private notify(): void {
    this.changes.notify();
  }
}

export interface StreamRequest {
  /** Default GET. */
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (Content-Type application/json unless `headers` names another one). */
  rawBody?: string;
  headers?: Record<string, string>;
  /** The client's side of the connection (another loopback address plays another client). */
  localAddress?: string;
}

/**
 * A streamed response read raw over node:http, exposing the socket, for tests that must control
 * reading (pause it to play a slow consumer), look at the exact bytes, POST (fetch-style clients),
 * or only need the status and headers of a stream (`responded()`, then `close()`).
 */
export class StreamReader {
  text = '';
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  /** Why the request failed before or during the response (a reset, a refused connection). */
  error: Error | undefined;
  readonly request: http.ClientRequest;
  response: http.IncomingMessage | undefined;
  private readonly changes = new Changes();

  constructor(
    readonly url: string,
    options: StreamRequest = {},
  ) {
    const body =
      options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const headers = {
      ...(body !== undefined
        ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }
        : {}),
      ...options.headers,
    };
    this.request = http.request(
      url,
      {
        method: options.method ?? 'GET',
        headers,
        agent: false,
        localAddress: options.localAddress,
      },
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
    this.request.on('error', (error) => {
      this.error = error;
      this.ended = true;
      this.notify();
    });
    this.request.end(body);
  }

  /** Complete frames received so far, every kind (comments and retry-only frames too). */
  frames(): SseFrame[] {
    return parseFrames(this.text);
  }

  /** Complete frames that carry data, the data parsed as JSON. */
  dataFrames<T = any>(): Array<DataFrame<T>> {
    return dataFrames<T>(this.text);
  }

  waitFor(
    predicate: (stream: this) => boolean,
    timeoutMs = 10_000,
    what = 'condition',
  ): Promise<void> {
    return this.changes.until(() => predicate(this), what, {
      timeoutMs,
      got: () => JSON.stringify(this.text.slice(-2000)),
    });
  }

  /** Resolves once the status and headers are in; rejects when the request failed before that. */
  async responded(timeoutMs = 10_000): Promise<this> {
    await this.waitFor(
      (s) => s.response !== undefined || s.error !== undefined,
      timeoutMs,
      'a response',
    );
    if (this.response === undefined) throw this.error ?? new Error(`no response from ${this.url}`);
    return this;
  }

  /** Resolves once the server ended the response. */
  waitForEnd(timeoutMs = 10_000): Promise<void> {
    return this.waitFor((s) => s.ended, timeoutMs, 'end of stream');
  }

  close(): void {
    this.request.destroy();
  }

  private notify(): void {
    this.changes.notify();
  }
}
