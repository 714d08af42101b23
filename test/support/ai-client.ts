import http from 'node:http';

/** The fields an AI stream's data may carry (start, chunk, done, error, reset). */
export interface FrameData {
  type: string;
  generationId?: string;
  content?: string;
  index?: number;
  message?: string;
  reason?: string;
}

export interface Frame {
  id: string | undefined;
  event: string | undefined;
  data: FrameData;
}

/** Parses the complete frames of an SSE text (data frames only; comments and retry-only frames skipped). */
export function dataFrames(text: string): Frame[] {
  const complete = text.slice(0, text.lastIndexOf('\n\n') + 2);
  const frames: Frame[] = [];
  for (const block of complete.split('\n\n')) {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) frames.push({ id, event, data: JSON.parse(data.join('\n')) as FrameData });
  }
  return frames;
}

/** A streamed request (POST with a JSON body, or GET) read raw, for fetch-style clients. */
export class HttpStream {
  text = '';
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  readonly request: http.ClientRequest;
  private waiters: Array<() => void> = [];

  constructor(
    url: string,
    options: { method?: 'GET' | 'POST'; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    this.request = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...options.headers },
      },
      (res) => {
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

  frames(): Frame[] {
    return dataFrames(this.text);
  }

  waitFor(
    predicate: (stream: HttpStream) => boolean,
    timeoutMs = 10_000,
    what = 'condition',
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate(this)) return false;
        cleanup();
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.text.slice(-2000))}`),
        );
      }, timeoutMs);
      const waiter = () => void check();
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.waiters.push(waiter);
    });
  }

  /** Resolves once the server ended the response. */
  waitForEnd(timeoutMs = 10_000): Promise<void> {
    return this.waitFor((s) => s.ended, timeoutMs, 'end of stream');
  }

  close(): void {
    this.request.destroy();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A plain request that reads the whole (non-stream) body: 4xx, 204, DELETE answers. */
export function request(
  url: string,
  method: 'GET' | 'POST' | 'DELETE',
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const body =
    options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
