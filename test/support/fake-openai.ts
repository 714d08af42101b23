import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Changes } from './wait';

/** How the fake answers the next requests. */
export type FakeBehaviour =
  | {
      kind: 'tokens';
      tokens: string[];
      /** How events reach the wire: one write each, split mid-line over two writes, or all in one write. */
      writes?: 'one-per-event' | 'split' | 'coalesced';
      /** Hold the answer after this many tokens until release() is called. */
      holdAfter?: number;
    }
  | { kind: 'error-payload'; tokensFirst: string[] }
  | { kind: 'http-error'; status: number; body: string }
  | { kind: 'malformed'; tokensFirst: string[] }
  /** Sends the headers and then nothing, ever. */
  | { kind: 'stall' };

export interface FakeRequest {
  body: { model?: string; stream?: boolean; messages?: Array<{ role: string; content: string }> };
  headers: http.IncomingHttpHeaders;
  /** The client closed the connection before the answer was complete. */
  aborted: boolean;
}

export function chunkFrame(content: string): string {
  const payload = {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'fake-model',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  };
  return `data: ${JSON.stringify(payload)}\n\n`;
}

const ROLE_FRAME = `data: ${JSON.stringify({
  id: 'chatcmpl-fake',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
})}\n\n`;

const FINISH_FRAME = `data: ${JSON.stringify({
  id: 'chatcmpl-fake',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
})}\n\n`;

const DONE_FRAME = 'data: [DONE]\n\n';

/** Lets pending writes reach the socket as separate TCP writes (the fake's pacing, not a test sleep). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * An OpenAI-compatible chat-completions server on loopback, speaking the real wire format
 * (`data: {chat.completion.chunk}` ... `data: [DONE]`). It counts requests and reports each request
 * whose connection the client closed before the answer ended (`abort` event).
 */
export class FakeOpenAi {
  behaviour: FakeBehaviour = { kind: 'tokens', tokens: ['Hello', ' world'] };
  readonly requests: FakeRequest[] = [];
  /** Told of every request, abort and hold. */
  private readonly changes = new Changes();
  private readonly server: http.Server;
  private released: (() => void) | undefined;
  private releasePromise: Promise<void> | undefined;
  private port = 0;

  constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Base URL to put in AI_BASE_URL. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Lets a held answer (holdAfter) go on. */
  release(): void {
    this.released?.();
  }

  /** Resolves when `count` requests have been aborted by the client (no timeout: jest's per-test one). */
  waitForAborts(count = 1): Promise<void> {
    return this.until(() => this.requests.filter((r) => r.aborted).length >= count, 'an abort');
  }

  /** Resolves when `count` requests have arrived. */
  waitForRequests(count = 1): Promise<void> {
    return this.until(() => this.requests.length >= count, `${count} request(s)`);
  }

  /** Resolves when the held answer is waiting for release(). */
  waitForHold(): Promise<void> {
    return this.until(() => this.releasePromise !== undefined, 'the hold');
  }

  private until(check: () => boolean, what: string): Promise<void> {
    return this.changes.until(check, what, { timeoutMs: Infinity });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = '';
    req.setEncoding('utf8');
    for await (const chunk of req) raw += chunk as string;
    const record: FakeRequest = {
      body: JSON.parse(raw) as FakeRequest['body'],
      headers: req.headers,
      aborted: false,
    };
    this.requests.push(record);
    res.on('close', () => {
      if (res.writableFinished) return;
      record.aborted = true;
      this.changes.notify();
    });
    this.changes.notify();
    const behaviour = this.behaviour;
    if (behaviour.kind === 'http-error') {
      res.writeHead(behaviour.status, { 'Content-Type': 'application/json' }).end(behaviour.body);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    switch (behaviour.kind) {
      case 'stall':
        return;
      case 'error-payload':
        await this.writeAll(res, [ROLE_FRAME, ...behaviour.tokensFirst.map((t) => chunkFrame(t))]);
        res.end(
          `data: ${JSON.stringify({ error: { message: 'The server had an error', type: 'server_error' } })}\n\n`,
        );
        return;
      case 'malformed':
        await this.writeAll(res, [ROLE_FRAME, ...behaviour.tokensFirst.map((t) => chunkFrame(t))]);
        res.end('data: {"id":"chatcmpl-fake","choices":[{"delta":{"content":"oops"\n\n');
        return;
      case 'tokens':
        await this.answer(res, behaviour);
        return;
    }
  }

  private async answer(
    res: http.ServerResponse,
    behaviour: Extract<FakeBehaviour, { kind: 'tokens' }>,
  ): Promise<void> {
    const frames = behaviour.tokens.map((t) => chunkFrame(t));
    const hold = behaviour.holdAfter ?? -1;
    const before = hold >= 0 ? frames.slice(0, hold) : frames;
    const after = hold >= 0 ? frames.slice(hold) : [];
    const writes = behaviour.writes ?? 'one-per-event';
    const send = async (batch: string[]) => {
      if (writes === 'coalesced') {
        if (batch.length > 0) res.write(batch.join(''));
        await nextTurn();
        return;
      }
      await this.writeAll(res, batch, writes === 'split');
    };
    await send([ROLE_FRAME, ...before]);
    if (hold >= 0) {
      this.releasePromise = new Promise<void>((resolve) => (this.released = resolve));
      this.changes.notify();
      await this.releasePromise;
      this.releasePromise = undefined;
      this.released = undefined;
      if (res.destroyed) return;
    }
    await send([...after, FINISH_FRAME, DONE_FRAME]);
    res.end();
  }

  private async writeAll(res: http.ServerResponse, frames: string[], split = false): Promise<void> {
    for (const frame of frames) {
      if (res.destroyed) return;
      if (split) {
        // Cut inside the JSON (and for short frames inside "data:"), so a line arrives in two reads.
        const cut = Math.max(3, Math.floor(frame.length / 2));
        res.write(frame.slice(0, cut));
        await nextTurn();
        if (res.destroyed) return;
        res.write(frame.slice(cut));
      } else {
        res.write(frame);
      }
      await nextTurn();
    }
  }
}
