import { aiTopic, isTerminal, seedTopic } from '../src/ai/ai-events';
import { GenerationService } from '../src/ai/generation.service';
import { demoAnswer } from '../src/ai/providers/demo-ai.provider';
import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { eventually } from '../src/event-log/event-log.contract';
import { Frame, HttpStream } from './support/ai-client';
import { request } from './support/http';
import { get } from './support/sse-client';
import { RunningApp, startApp } from './support/app';
import { FakeOpenAi } from './support/fake-openai';
import { parseExposition } from './support/metrics';
import { RecordingEventSource } from './support/sse-client';
import { RedisServer } from './support/redis';

const TOKENS = ['One', ' two', ' three', ' four', ' five', ' six'];
const ANSWER = TOKENS.join('');

const contentOf = (frames: Frame[]) =>
  frames
    .filter((f) => f.data.type === 'chunk')
    .map((f) => f.data.content)
    .join('');
const chunksOf = (frames: Frame[]) => frames.filter((f) => f.data.type === 'chunk');

jest.setTimeout(30_000);

describe('AI generations across instances (STORE=redis)', () => {
  let redis: RedisServer;
  let fake: FakeOpenAi;
  const apps: RunningApp[] = [];
  const cleanups: Array<() => void> = [];

  /** Two instances on one Redis, both calling the fake model. */
  const startPair = async (env: Record<string, string> = {}) => {
    const start = () =>
      startApp({
        STORE: 'redis',
        REDIS_URL: redis.url,
        AI_PROVIDER: 'openai',
        AI_BASE_URL: fake.baseUrl,
        AI_MODEL: 'fake-model',
        AI_DETACH_GRACE_MS: '60000',
        SSE_RETRY_MS: '50',
        ...env,
      });
    const pair = [await start(), await start()] as const;
    apps.push(...pair);
    return pair;
  };
  const stream = (url: string, options?: ConstructorParameters<typeof HttpStream>[1]) => {
    const s = new HttpStream(url, options);
    cleanups.push(() => s.close());
    return s;
  };
  const postChat = (app: RunningApp, content: string) =>
    stream(`${app.url}/api/ai/chat`, {
      method: 'POST',
      body: { messages: [{ role: 'user', content }] },
    });
  const generationIdOf = (s: HttpStream) => s.frames()[0]!.data.generationId!;
  const scrape = async (app: RunningApp) => parseExposition((await get(`${app.url}/metrics`)).body);
  const terminalsIn = async (app: RunningApp, generationId: string) => {
    const { events } = await app.app
      .get<EventLog>(EVENT_LOG)
      .readAfter([aiTopic(generationId)], undefined);
    return events.filter((e) => isTerminal(e.data)).map((e) => e.data);
  };

  beforeEach(async () => {
    redis = await RedisServer.start();
    fake = await new FakeOpenAi().start();
  });

  afterEach(async () => {
    cleanups.splice(0).forEach((c) => c());
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await fake.stop();
    await redis.dispose();
  });

  it('a generation started on A resumes on B by id after Last-Event-ID: the rest once, the model called once', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 3 };
    const [a, b] = await startPair();
    const onA = postChat(a, 'count to six');
    await fake.waitForHold();
    await onA.waitFor((s) => chunksOf(s.frames()).length === 3, 10_000, 'three chunks on A');
    const generationId = generationIdOf(onA);
    const lastId = onA.frames()[3]!.id!;
    onA.close();

    const onB = stream(`${b.url}/api/ai/chat/${generationId}`, {
      headers: { 'Last-Event-ID': lastId },
    });
    await onB.waitFor((s) => s.status !== 0, 10_000, 'B to open');
    fake.release();
    await onB.waitForEnd();
    const rest = onB.frames();
    expect(rest.map((f) => f.data.type)).toEqual(['chunk', 'chunk', 'chunk', 'done']);
    expect(rest.every((f) => Number(f.id) > Number(lastId))).toBe(true);
    expect(contentOf(onA.frames()) + contentOf(rest)).toBe(ANSWER);
    expect(fake.requests).toHaveLength(1);
    expect(await terminalsIn(b, generationId)).toEqual([{ type: 'done' }]);
  });

  it("EventSource's own reconnect of the seed URL lands on B and resumes the generation A runs", async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const [a, b] = await startPair();
    // The load balancer: each connection goes to up[0]; cut() ends the current response cleanly,
    // which EventSource answers by reconnecting (same URL, Last-Event-ID) after `retry`.
    const up = [a, b];
    let cut: (() => void) | undefined;
    const es = new RecordingEventSource(
      `${a.url}/api/ai/chat?message=${encodeURIComponent('count to six')}`,
      {
        fetch: async (input, init) => {
          const target = new URL(String(input instanceof Request ? input.url : input));
          target.host = new URL(up[0]!.url).host;
          const response = await fetch(target, init);
          const reader = response.body!.getReader();
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              cut = () => {
                controller.close();
                void reader.cancel();
              };
            },
            async pull(controller) {
              const { value, done } = await reader
                .read()
                .catch(() => ({ value: undefined, done: true }));
              if (done) controller.close();
              else controller.enqueue(value);
            },
          });
          return new Response(body, { status: response.status, headers: response.headers });
        },
      },
    );
    cleanups.push(() => es.close());
    const chunks = () => es.events.filter((e) => e.json?.type === 'chunk');
    await es.waitFor(() => chunks().length === 2, 10_000, 'two chunks on A');
    await fake.waitForHold();
    up.shift();
    cut!();
    await es.waitForOpen(2);
    fake.release();
    await es.waitFor((events) => events.some((e) => e.json?.type === 'done'), 10_000, 'done on B');
    expect(es.events.map((e) => e.json?.type)).toEqual([
      'start',
      ...TOKENS.map(() => 'chunk'),
      'done',
    ]);
    expect(
      chunks()
        .map((e) => e.json.content)
        .join(''),
    ).toBe(ANSWER);
    const ids = es.events.map((e) => Number(e.lastEventId));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    expect(es.opens).toBe(2);
    expect(fake.requests).toHaveLength(1);
    expect(a.app.get(GenerationService).runningCount).toBe(0);
  });

  it('the seed reconnect with Last-Event-ID on B finds the generation A runs; unknown ids stay 404', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const [a, b] = await startPair();
    const seed = (app: RunningApp) =>
      `${app.url}/api/ai/chat?message=${encodeURIComponent('count to six')}`;
    const onA = stream(seed(a));
    await onA.waitFor((s) => chunksOf(s.frames()).length === 2, 10_000, 'two chunks on A');
    const lastId = onA.frames()[2]!.id!;
    onA.close();

    const onB = stream(seed(b), { headers: { 'Last-Event-ID': lastId } });
    await onB.waitFor((s) => s.status !== 0, 10_000, 'B to answer');
    expect(onB.status).toBe(200);
    fake.release();
    await onB.waitForEnd();
    expect(contentOf(onA.frames()) + contentOf(onB.frames())).toBe(ANSWER);
    expect(onB.frames().at(-1)!.data).toEqual({ type: 'done' });
    expect(fake.requests).toHaveLength(1);
    // Another message, or an id of no generation of this one: 404, nothing started.
    const other = await request(`${b.url}/api/ai/chat?message=other`, 'GET', {
      headers: { 'Last-Event-ID': lastId },
    });
    expect(other.status).toBe(404);
    expect(fake.requests).toHaveLength(1);
    // The seed index is no client's topic: its name is not a valid topic name.
    const index = await request(
      `${b.url}/api/events?topic=${encodeURIComponent(seedTopic(GenerationService.promptKey('count to six', undefined)))}`,
      'GET',
    );
    expect(index.status).toBe(400);
  });

  it('DELETE on B cancels a generation A runs: upstream aborted, readers on both get "cancelled", one terminal event', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const [a, b] = await startPair();
    const onA = postChat(a, 'count to six');
    await fake.waitForHold();
    const generationId = (await onA.waitFor((s) => s.frames().length > 0), generationIdOf(onA));
    const onB = stream(`${b.url}/api/ai/chat/${generationId}`);
    await onB.waitFor((s) => chunksOf(s.frames()).length === 2, 10_000, 'two chunks on B');

    const cancelled = await request(`${b.url}/api/ai/chat/${generationId}`, 'DELETE');
    expect(cancelled.status).toBe(202);
    expect(cancelled.json).toEqual({ generationId, status: 'cancelled' });
    await fake.waitForAborts(1);
    await Promise.all([onA.waitForEnd(), onB.waitForEnd()]);
    for (const s of [onA, onB]) {
      expect(s.frames().at(-1)!.data).toEqual({
        type: 'error',
        message: 'cancelled',
        reason: 'cancelled',
      });
    }
    await eventually(() => a.app.get(GenerationService).runningCount === 0, 'A to stop', 10_000);
    expect(await terminalsIn(a, generationId)).toEqual([
      { type: 'error', message: 'cancelled', reason: 'cancelled' },
    ]);
    const metrics = await scrape(a);
    expect(metrics.get('rivulet_ai_aborts_total{reason="cancelled"}')).toBe(1);
    expect(metrics.get('rivulet_ai_generations_total{outcome="aborted"}')).toBe(1);
    // Again, on either instance: already over.
    for (const app of [a, b]) {
      const again = await request(`${app.url}/api/ai/chat/${generationId}`, 'DELETE');
      expect(again.status).toBe(200);
      expect(again.json).toEqual({ generationId, status: 'finished' });
    }
    expect(fake.requests).toHaveLength(1);
  });

  it('nobody reading anywhere: the running instance aborts upstream after the grace period', async () => {
    fake.behaviour = { kind: 'tokens', tokens: TOKENS, holdAfter: 2 };
    const [a, b] = await startPair({ AI_DETACH_GRACE_MS: '100' });
    const onA = postChat(a, 'count to six');
    await onA.waitFor((s) => s.frames().length > 0, 10_000, 'start on A');
    const generationId = generationIdOf(onA);
    onA.close();
    const onB = stream(`${b.url}/api/ai/chat/${generationId}`);
    await onB.waitFor((s) => chunksOf(s.frames()).length === 2, 10_000, 'two chunks on B');
    onB.close();

    await fake.waitForAborts(1);
    const replay = stream(`${b.url}/api/ai/chat/${generationId}`);
    await replay.waitForEnd();
    expect(replay.frames().at(-1)!.data).toMatchObject({ type: 'error', reason: 'abandoned' });
    expect((await scrape(a)).get('rivulet_ai_aborts_total{reason="detached"}')).toBe(1);
  });
});

describe('AI reader presence across instances (STORE=redis, demo model)', () => {
  let redis: RedisServer;
  const apps: RunningApp[] = [];
  const cleanups: Array<() => void> = [];

  beforeEach(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    cleanups.splice(0).forEach((c) => c());
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await redis.dispose();
  });

  it('a client reading through B only keeps the generation A runs alive past many grace periods', async () => {
    // About 40 tokens, 25 ms each: the answer takes about ten times AI_DETACH_GRACE_MS.
    const env = {
      STORE: 'redis',
      REDIS_URL: redis.url,
      AI_PROVIDER: 'demo',
      AI_DEMO_TOKEN_MS: '25',
      AI_DETACH_GRACE_MS: '100',
    };
    const a = await startApp(env);
    apps.push(a);
    const b = await startApp(env);
    apps.push(b);
    const prompt = 'What is SSE?';
    const onA = new HttpStream(`${a.url}/api/ai/chat`, {
      method: 'POST',
      body: { messages: [{ role: 'user', content: prompt }] },
    });
    cleanups.push(() => onA.close());
    await onA.waitFor((s) => s.frames().length > 0, 10_000, 'start on A');
    const start = onA.frames()[0]!;
    onA.close();

    const onB = new HttpStream(`${b.url}/api/ai/chat/${start.data.generationId}`, {
      headers: { 'Last-Event-ID': start.id! },
    });
    cleanups.push(() => onB.close());
    await onB.waitForEnd(20_000);
    const frames = onB.frames();
    expect(frames.at(-1)!.data).toEqual({ type: 'done' });
    expect(contentOf(frames)).toBe(demoAnswer([{ role: 'user', content: prompt }]));
    const [metricsA, metricsB] = [
      parseExposition((await get(`${a.url}/metrics`)).body),
      parseExposition((await get(`${b.url}/metrics`)).body),
    ];
    expect(metricsA.get('rivulet_ai_generations_started_total')).toBe(1);
    expect(metricsA.get('rivulet_ai_generations_total{outcome="completed"}')).toBe(1);
    expect(metricsA.get('rivulet_ai_aborts_total{reason="detached"}')).toBe(0);
    expect(metricsB.get('rivulet_ai_generations_started_total')).toBe(0);
  });
});
