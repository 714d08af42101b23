import { GenerationService } from '../src/ai/generation.service';
import { demoAnswer } from '../src/ai/providers/demo-ai.provider';
import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { startApp, RunningApp } from './support/app';
import { FakeOpenAi } from './support/fake-openai';
import { request } from './support/http';
import { RecordingEventSource, StreamReader } from './support/sse-client';
import { DataFrame, dataFrames } from './support/sse-frames';

const TOKENS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.'];
const ANSWER = TOKENS.join('');

const contentOf = (frames: Array<{ data?: unknown; json?: unknown }>) =>
  frames
    .map((f) => (f.json ?? f.data) as { type?: string; content?: string })
    .filter((d) => d.type === 'chunk')
    .map((d) => d.content)
    .join('');

describe('AI answers (/api/ai/chat)', () => {
  let fake: FakeOpenAi;
  let running: RunningApp | undefined;
  const cleanups: Array<() => void> = [];

  const start = async (env: Record<string, string> = {}) => {
    running = await startApp({
      AI_PROVIDER: 'openai',
      AI_BASE_URL: fake.baseUrl,
      AI_API_KEY: 'sk-test',
      AI_MODEL: 'fake-model',
      AI_DETACH_GRACE_MS: '60000',
      ...env,
    });
    return running;
  };
  const stream = (url: string, options?: ConstructorParameters<typeof StreamReader>[1]) => {
    const s = new StreamReader(url, options);
    cleanups.push(() => s.close());
    return s;
  };
  const eventSource = (url: string) => {
    const es = new RecordingEventSource(url);
    cleanups.push(() => es.close());
    return es;
  };
  const ended = (s: StreamReader) => s.waitForEnd();

  beforeEach(async () => {
    fake = await new FakeOpenAi().start();
  });

  afterEach(async () => {
    cleanups.splice(0).forEach((c) => c());
    await running?.close();
    running = undefined;
    await fake.stop();
  });

  describe('with an OpenAI-compatible server', () => {
    it('streams start, one chunk per delta, done, each with an id, even when events are split mid-line', async () => {
      fake.behaviour = { kind: 'tokens', tokens: TOKENS, writes: 'split' };
      const app = await start();
      const s = stream(
        `${app.url}/api/ai/chat?message=${encodeURIComponent('Tell me about foxes')}`,
      );
      await ended(s);
      expect(s.status).toBe(200);
      expect(s.headers['content-type']).toMatch(/^text\/event-stream/);
      const frames = s.dataFrames();
      expect(frames[0]!.data).toEqual({
        type: 'start',
        generationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(frames.map((f) => f.data.type)).toEqual([
        'start',
        ...TOKENS.map(() => 'chunk'),
        'done',
      ]);
      expect(contentOf(frames)).toBe(ANSWER);
      // Every event has an id; ids strictly increase; none sets `event:` (seed clients use onmessage).
      const ids = frames.map((f) => Number(f.id));
      expect(ids.every((id, i) => Number.isInteger(id) && (i === 0 || id > ids[i - 1]!))).toBe(
        true,
      );
      expect(frames.every((f) => f.event === undefined)).toBe(true);
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0]!.body).toEqual({
        model: 'fake-model',
        stream: true,
        messages: [{ role: 'user', content: 'Tell me about foxes' }],
      });
      expect(fake.requests[0]!.headers.authorization).toBe('Bearer sk-test');
    });

    it('POST streams the same answer for fetch clients, with several events in one TCP write', async () => {
      fake.behaviour = { kind: 'tokens', tokens: TOKENS, writes: 'coalesced' };
      const app = await start();
      const messages = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Foxes?' },
      ];
      const s = stream(`${app.url}/api/ai/chat`, { method: 'POST', body: { messages } });
      await ended(s);
      expect(s.status).toBe(200);
      expect(s.dataFrames().map((f) => f.data.type)).toEqual([
        'start',
        ...TOKENS.map(() => 'chunk'),
        'done',
      ]);
      expect(contentOf(s.dataFrames())).toBe(ANSWER);
      expect(fake.requests[0]!.body.messages).toEqual(messages);
    });

    it('resumes mid-answer exactly once and calls the model once, whatever the number of reconnects', async () => {
      fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 4 };
      const app = await start();
      const seedUrl = `${app.url}/api/ai/chat?message=${encodeURIComponent('Foxes, please')}`;
      const es = eventSource(seedUrl);
      await fake.waitForHold();
      await es.waitFor(
        (e) => e.filter((x) => x.json?.type === 'chunk').length === 4,
        10_000,
        '4 chunks',
      );
      const generationId = es.events[0]!.json.generationId as string;
      const midId = es.events[2]!.lastEventId; // after the 2nd chunk

      // 1) The server drops every stream: EventSource reconnects by itself to the same GET URL.
      app.app.get(ConnectionRegistry).closeAll(() => '');
      await es.waitForOpen(2);
      // 2) A fetch client resumes by generation id from the middle.
      const byId = stream(`${app.url}/api/ai/chat/${generationId}`, {
        headers: { 'Last-Event-ID': midId },
      });
      // 3) A seed client resumes the seed URL with ?lastEventId= (clients that cannot set headers).
      const byQuery = stream(`${seedUrl}&lastEventId=${midId}`);
      await byId.waitFor((s) => s.dataFrames().length >= 2, 10_000, 'replay by id');
      await byQuery.waitFor((s) => s.dataFrames().length >= 2, 10_000, 'replay by query');
      fake.release();
      await es.waitFor((e) => e.some((x) => x.json?.type === 'done'), 10_000, 'done');
      await Promise.all([ended(byId), ended(byQuery)]);

      // EventSource: every event exactly once across its two connections, the full answer.
      const ids = es.events.map((x) => x.lastEventId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(es.events.map((x) => x.json.type)).toEqual([
        'start',
        ...TOKENS.map(() => 'chunk'),
        'done',
      ]);
      expect(contentOf(es.events)).toBe(ANSWER);
      // The resumed readers get exactly what follows their id.
      for (const s of [byId, byQuery]) {
        expect(s.dataFrames().map((f) => f.data.type)).toEqual([
          ...TOKENS.slice(2).map(() => 'chunk'),
          'done',
        ]);
        expect(contentOf(s.dataFrames())).toBe(TOKENS.slice(2).join(''));
      }
      expect(fake.requests).toHaveLength(1);

      // Asked again at its end (what EventSource does after the stream ends): 204, nothing new.
      const doneId = es.events[es.events.length - 1]!.lastEventId;
      const atEnd = await request(seedUrl, 'GET', { headers: { 'Last-Event-ID': doneId } });
      expect(atEnd.status).toBe(204);
      const byIdAtEnd = await request(
        `${app.url}/api/ai/chat/${generationId}?lastEventId=${doneId}`,
        'GET',
      );
      expect(byIdAtEnd.status).toBe(204);
      expect(fake.requests).toHaveLength(1);
    });

    it('gives POST and GET readers of one generation the same events', async () => {
      fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3, writes: 'split' };
      const app = await start();
      const post = stream(`${app.url}/api/ai/chat`, {
        method: 'POST',
        body: { messages: [{ role: 'user', content: 'hi' }] },
      });
      await fake.waitForHold();
      await post.waitFor((s) => s.dataFrames().length >= 1, 10_000, 'start');
      const generationId = post.dataFrames()[0]!.data.generationId as string;
      const es = eventSource(`${app.url}/api/ai/chat/${generationId}`);
      await es.waitFor((e) => e.length >= 4, 10_000, 'replay');
      fake.release();
      await ended(post);
      await es.waitFor((e) => e.some((x) => x.json?.type === 'done'), 10_000, 'done');
      const fromPost = post.dataFrames().map((f: DataFrame) => [f.id, f.data]);
      const fromGet = es.events.map((x) => [x.lastEventId, x.json]);
      expect(fromGet).toEqual(fromPost);
      expect(fake.requests).toHaveLength(1);
    });

    it('aborts the upstream request once the grace period has passed with nobody listening', async () => {
      fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
      const app = await start({ AI_DETACH_GRACE_MS: '50' });
      const s = stream(`${app.url}/api/ai/chat?message=bye`);
      await s.waitFor((x) => x.dataFrames().length >= 3, 10_000, 'two chunks');
      const generationId = s.dataFrames()[0]!.data.generationId as string;
      s.close();
      await fake.waitForAborts(1);
      expect(fake.requests[0]!.aborted).toBe(true);
      // The generation ended with an error event, so a late reader gets the beginning and the end.
      const late = stream(`${app.url}/api/ai/chat/${generationId}`);
      await ended(late);
      const frames = late.dataFrames();
      expect(frames.map((f) => f.data.type)).toEqual(['start', 'chunk', 'chunk', 'error']);
      expect(frames[3]!.data).toEqual({ type: 'error', message: 'abandoned', reason: 'abandoned' });
      expect(app.app.get(GenerationService).runningCount).toBe(0);
    });

    it('DELETE cancels at once: upstream aborted, readers get error "cancelled" and the stream ends', async () => {
      fake.behaviour = { kind: 'stall' };
      const app = await start();
      const s = stream(`${app.url}/api/ai/chat?message=wait`);
      await s.waitFor((x) => x.dataFrames().length >= 1, 10_000, 'start');
      await fake.waitForRequests(1);
      const generationId = s.dataFrames()[0]!.data.generationId as string;
      const cancelled = await request(`${app.url}/api/ai/chat/${generationId}`, 'DELETE');
      expect(cancelled.status).toBe(202);
      expect(cancelled.json).toEqual({ generationId, status: 'cancelled' });
      await fake.waitForAborts(1);
      await ended(s);
      expect(s.dataFrames().map((f) => f.data)).toEqual([
        { type: 'start', generationId },
        { type: 'error', message: 'cancelled', reason: 'cancelled' },
      ]);
      const again = await request(`${app.url}/api/ai/chat/${generationId}`, 'DELETE');
      expect(again.status).toBe(200);
      expect(again.json).toEqual({ generationId, status: 'finished' });
      const unknown = await request(
        `${app.url}/api/ai/chat/00000000-0000-4000-8000-000000000000`,
        'DELETE',
      );
      expect(unknown.status).toBe(404);
      expect(unknown.json).toMatchObject({ statusCode: 404, error: 'Not Found' });
    });

    it('maps an error payload inside the stream to an error event and ends the stream', async () => {
      fake.behaviour = { kind: 'error-payload', tokensFirst: ['Partial'] };
      const app = await start();
      const s = stream(`${app.url}/api/ai/chat?message=x`);
      await ended(s);
      const frames = s.dataFrames();
      expect(frames.map((f) => f.data.type)).toEqual(['start', 'chunk', 'error']);
      expect(frames[2]!.data).toEqual({
        type: 'error',
        message: 'The AI provider reported an error',
        reason: 'upstream',
      });
      expect(frames[2]!.id).toMatch(/^\d+$/);
    });

    it('maps a non-2xx answer to an error event without leaking the upstream body', async () => {
      fake.behaviour = {
        kind: 'http-error',
        status: 401,
        body: JSON.stringify({
          error: { message: 'Incorrect API key provided: sk-te**', type: 'invalid_request_error' },
        }),
      };
      const app = await start();
      const s = stream(`${app.url}/api/ai/chat?message=x`);
      await ended(s);
      expect(s.dataFrames().map((f) => f.data)).toEqual([
        { type: 'start', generationId: expect.any(String) },
        { type: 'error', message: 'The AI provider answered HTTP 401', reason: 'upstream' },
      ]);
      expect(s.text).not.toContain('sk-te');
    });

    it('maps a malformed chunk to an error event', async () => {
      fake.behaviour = { kind: 'malformed', tokensFirst: ['Hello'] };
      const app = await start();
      const s = stream(`${app.url}/api/ai/chat?message=x`);
      await ended(s);
      const last = s.dataFrames().pop()!;
      expect(last.data).toEqual({
        type: 'error',
        message: 'The AI provider sent a malformed chunk',
        reason: 'malformed',
      });
    });

    it('maps a stalled upstream (headers, then nothing) to a timeout error and aborts the request', async () => {
      fake.behaviour = { kind: 'stall' };
      const app = await start({ AI_TIMEOUT_MS: '200' });
      const s = stream(`${app.url}/api/ai/chat?message=x`);
      await ended(s);
      expect(s.dataFrames().pop()!.data).toEqual({
        type: 'error',
        message: 'The AI provider sent nothing for 200 ms',
        reason: 'timeout',
      });
      await fake.waitForAborts(1);
    });

    it('refuses a generation past AI_MAX_GENERATIONS with 503 JSON, before any stream', async () => {
      fake.behaviour = { kind: 'stall' };
      const app = await start({ AI_MAX_GENERATIONS: '1' });
      const first = stream(`${app.url}/api/ai/chat?message=one`);
      await first.waitFor((x) => x.dataFrames().length >= 1, 10_000, 'start');
      const second = await request(`${app.url}/api/ai/chat`, 'POST', {
        body: { messages: [{ role: 'user', content: 'two' }] },
      });
      expect(second.status).toBe(503);
      expect(second.json).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect(fake.requests).toHaveLength(1);
    });
  });

  describe('with the built-in demo model', () => {
    it('answers deterministically, token by token', async () => {
      const app = await start({ AI_PROVIDER: 'demo', AI_DEMO_TOKEN_MS: '1' });
      const s = stream(`${app.url}/api/ai/chat?message=${encodeURIComponent('What is SSE?')}`);
      await ended(s);
      const frames = s.dataFrames();
      expect(frames.filter((f) => f.data.type === 'chunk').length).toBeGreaterThan(10);
      expect(contentOf(frames)).toBe(demoAnswer([{ role: 'user', content: 'What is SSE?' }]));
      expect(frames.pop()!.data).toEqual({ type: 'done' });
      expect(fake.requests).toHaveLength(0);
    });

    it('?pace=char sends one event per character with its index; only whole chunks carry ids', async () => {
      const app = await start({ AI_PROVIDER: 'demo', AI_DEMO_TOKEN_MS: '1' });
      const s = stream(`${app.url}/api/ai/chat?message=hello&pace=char`);
      await ended(s);
      const chars = s.dataFrames().filter((f) => f.data.type === 'chunk');
      const answer = demoAnswer([{ role: 'user', content: 'hello' }]);
      expect(chars.map((f) => f.data.content).join('')).toBe(answer);
      expect(chars.every((f) => Array.from(f.data.content as string).length === 1)).toBe(true);
      expect(chars.map((f) => f.data.index)).toEqual(Array.from(answer).map((_, i) => i));
      const withIds = chars.filter((f) => f.id !== undefined);
      expect(withIds.length).toBeGreaterThan(0);
      expect(withIds.length).toBeLessThan(chars.length);

      // Resuming char-paced after a chunk id continues with the right index.
      const generationId = s.dataFrames()[0]!.data.generationId as string;
      const resumeAt = withIds[2]!;
      const resumed = stream(`${app.url}/api/ai/chat/${generationId}?pace=char`, {
        headers: { 'Last-Event-ID': resumeAt.id! },
      });
      await ended(resumed);
      const resumeIndex = resumeAt.data.index!;
      const rest = resumed.dataFrames().filter((f) => f.data.type === 'chunk');
      expect(rest[0]!.data.index).toBe(resumeIndex + 1);
      expect(rest.map((f) => f.data.content).join('')).toBe(
        Array.from(answer)
          .slice(resumeIndex + 1)
          .join(''),
      );
    });
  });

  describe('bad input is a JSON error before any stream', () => {
    it.each([
      ['GET without message', 'GET', '/api/ai/chat', undefined, 400],
      ['GET with an empty message', 'GET', '/api/ai/chat?message=', undefined, 400],
      ['GET with message twice', 'GET', '/api/ai/chat?message=a&message=b', undefined, 400],
      ['GET with a bad pace', 'GET', '/api/ai/chat?message=a&pace=word', undefined, 400],
      [
        'GET with a too long message',
        'GET',
        `/api/ai/chat?message=${'a'.repeat(8001)}`,
        undefined,
        400,
      ],
      ['POST without messages', 'POST', '/api/ai/chat', {}, 400],
      ['POST with no message', 'POST', '/api/ai/chat', { messages: [] }, 400],
      [
        'POST with a bad role',
        'POST',
        '/api/ai/chat',
        { messages: [{ role: 'tool', content: 'x' }] },
        400,
      ],
      [
        'POST with a non-string content',
        'POST',
        '/api/ai/chat',
        { messages: [{ role: 'user', content: 1 }] },
        400,
      ],
      [
        'POST with 51 messages',
        'POST',
        '/api/ai/chat',
        { messages: Array.from({ length: 51 }, () => ({ role: 'user', content: 'x' })) },
        400,
      ],
      [
        'POST with only a system message',
        'POST',
        '/api/ai/chat',
        { messages: [{ role: 'system', content: 'x' }] },
        400,
      ],
      [
        'resume of an unknown generation',
        'GET',
        '/api/ai/chat/00000000-0000-4000-8000-000000000000',
        undefined,
        404,
      ],
      ['resume of a malformed generation id', 'GET', '/api/ai/chat/..%2F..%2Fetc', undefined, 404],
      [
        'seed URL with a Last-Event-ID no generation holds',
        'GET',
        '/api/ai/chat?message=a&lastEventId=42',
        undefined,
        404,
      ],
      [
        'seed URL with a malformed Last-Event-ID',
        'GET',
        '/api/ai/chat?message=a&lastEventId=x',
        undefined,
        400,
      ],
    ] as const)('%s', async (_name, method, path, body, status) => {
      const app = await start();
      const res = await request(`${app.url}${path}`, method, { body });
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.json).toMatchObject({ statusCode: status });
      expect(fake.requests).toHaveLength(0);
    });

    it('answers 400 for a prompt over the total size bound', async () => {
      const app = await start();
      const messages = Array.from({ length: 5 }, () => ({
        role: 'user',
        content: 'x'.repeat(8000),
      }));
      const res = await request(`${app.url}/api/ai/chat`, 'POST', { body: { messages } });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.json.message)).toContain('32000');
    });

    it('names every problem of a POST body in one message string, as every JSON route does', async () => {
      const app = await start();
      const plain = await request(`${app.url}/api/ai/chat`, 'POST', {
        body: '{"messages":[{"role":"user","content":"hi"}]}',
        headers: { 'Content-Type': 'text/plain' },
      });
      expect(plain.status).toBe(400);
      expect(plain.json.message).toBe('Content-Type must be application/json (got "text/plain")');
      const invalid = await request(`${app.url}/api/ai/chat`, 'POST', {
        body: { messages: [{ role: 'tool', content: 1 }] },
      });
      expect(invalid.status).toBe(400);
      expect(typeof invalid.json.message).toBe('string');
      expect(invalid.json.message).toMatch(/messages\.0\.role: .*; messages\.0\.content: /);
      expect(fake.requests).toHaveLength(0);
    });
  });

  it('parses frames the way the helper expects', () => {
    expect(dataFrames('id: 1\ndata: {"a":1}\n\n: ping\n\n')).toEqual([
      { id: '1', event: undefined, data: { a: 1 } },
    ]);
  });
});
