import Redis from 'ioredis';
import http from 'node:http';
import { aiOwnerTopic, aiTopic, seedTopic } from '../src/ai/ai-events';
import { GenerationService } from '../src/ai/generation.service';
import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { REDIS_KEY_PREFIX } from '../src/event-log/event-log.module';
import { HttpStream } from './support/ai-client';
import { RunningApp, startApp } from './support/app';
import { mintToken, request, waitUntil } from './support/http';
import { RedisServer } from './support/redis';

const SECRET = 'e2e-ai-limits-secret-0123456789abcdef';
const CHAT = { messages: [{ role: 'user', content: 'What is SSE?' }] };

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.dispose();
});

type Store = 'memory' | 'redis';

describe.each<Store>(['memory', 'redis'])('AI limits and lookups (STORE=%s)', (store) => {
  let running: RunningApp | undefined;
  const streams: HttpStream[] = [];
  const start = async (env: Record<string, string>) => {
    const storeEnv: Record<string, string> =
      store === 'redis' ? { STORE: 'redis', REDIS_URL: redis.url } : {};
    running = await startApp({ ...storeEnv, ...env });
    return running;
  };
  const stream = (url: string, options?: ConstructorParameters<typeof HttpStream>[1]) => {
    const s = new HttpStream(url, options);
    streams.push(s);
    return s;
  };
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  /** Starts a generation with POST; resolves with its status (and id when it started). */
  const post = async (app: RunningApp, headers: Record<string, string> = {}) => {
    const s = stream(`${app.url}/api/ai/chat`, { method: 'POST', body: CHAT, headers });
    await s.waitFor((x) => x.frames().length > 0 || x.ended, 10_000, 'an answer');
    return { stream: s, status: s.status, id: s.frames()[0]?.data.generationId };
  };

  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    await running?.close();
    running = undefined;
  });

  it('AI_MAX_GENERATIONS_PER_USER: a user past its share gets 429 with Retry-After, others do not, and a share comes back when one ends', async () => {
    const app = await start({
      AUTH_JWT_SECRET: SECRET,
      AI_DEMO_TOKEN_MS: '10000',
      AI_MAX_GENERATIONS_PER_USER: '3',
    });
    const ann = await mintToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
    const bob = await mintToken(SECRET, { sub: 'bob', publish: ['ai:*'] });
    // Ten at once from one user: exactly its share starts.
    const burst = await Promise.all(Array.from({ length: 10 }, () => post(app, bearer(ann))));
    const started = burst.filter((r) => r.status === 200);
    expect(started).toHaveLength(3);
    const refused = burst.find((r) => r.status === 429)!;
    expect(burst.filter((r) => r.status === 429)).toHaveLength(7);
    await refused.stream.waitForEnd();
    expect(Number(refused.stream.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(refused.stream.text)).toMatchObject({
      statusCode: 429,
      message: expect.stringMatching(/AI_MAX_GENERATIONS_PER_USER/),
    });
    expect(app.app.get(GenerationService).runningCount).toBe(3);
    // Another user is not affected.
    expect((await post(app, bearer(bob))).status).toBe(200);
    // One of ann's ends: she may start one again.
    const cancelled = await request(`${app.url}/api/ai/chat/${started[0]!.id}`, 'DELETE', {
      headers: bearer(ann),
    });
    expect(cancelled.status).toBe(202);
    expect((await post(app, bearer(ann))).status).toBe(200);
  });

  it('in open mode the share is per client address', async () => {
    const app = await start({ AI_DEMO_TOKEN_MS: '10000', AI_MAX_GENERATIONS_PER_USER: '2' });
    const burst = await Promise.all(Array.from({ length: 5 }, () => post(app)));
    expect(burst.filter((r) => r.status === 200)).toHaveLength(2);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(3);
    expect(await statusFrom('127.0.0.2', `${app.url}/api/ai/chat?message=hi`, 'GET')).toBe(200);
  });

  it('HEAD starts no generation (GET, the negative control, does)', async () => {
    const app = await start({ AI_DEMO_TOKEN_MS: '10000' });
    const generations = app.app.get(GenerationService);
    expect(await statusFrom('127.0.0.1', `${app.url}/api/ai/chat?message=hi`, 'HEAD')).toBe(200);
    expect(generations.runningCount).toBe(0);
    const got = stream(`${app.url}/api/ai/chat?message=hi`);
    await got.waitFor((x) => x.frames().length > 0, 10_000, 'the start event');
    expect(generations.runningCount).toBe(1);
  });

  it('the seed reconnect checks access first, answers "not yours" like "nobody asked that", and reads one seed topic however many generations exist', async () => {
    const app = await start({
      AUTH_JWT_SECRET: SECRET,
      AI_DEMO_TOKEN_MS: '10000',
      AI_MAX_GENERATIONS_PER_USER: '100',
    });
    const log = app.app.get<EventLog>(EVENT_LOG);
    const ann = await mintToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
    const bob = await mintToken(SECRET, { sub: 'bob', publish: ['ai:*'] });
    const seed = (token: string, message: string) =>
      `${app.url}/api/ai/chat?message=${encodeURIComponent(message)}&access_token=${token}`;
    const mine = stream(seed(ann, 'secret question'));
    await mine.waitFor((x) => x.frames().length > 0, 10_000, 'the start event');
    const lastId = mine.frames()[0]!.id!;

    const reads: string[][] = [];
    const readAfter = log.readAfter.bind(log);
    jest.spyOn(log, 'readAfter').mockImplementation((topics, afterId) => {
      reads.push([...topics]);
      return readAfter(topics, afterId);
    });
    const lookup = (token: string | undefined, message: string) =>
      request(
        token
          ? seed(token, message)
          : `${app.url}/api/ai/chat?message=${encodeURIComponent(message)}`,
        'GET',
        { headers: { 'Last-Event-ID': lastId } },
      );

    // No token: 401 before anything is looked up, whether or not somebody asked that.
    const anonymous = [await lookup(undefined, 'secret question'), await lookup(undefined, 'x')];
    expect(anonymous.map((r) => r.status)).toEqual([401, 401]);
    expect(anonymous[0]!.json).toEqual(anonymous[1]!.json);
    expect(reads).toEqual([]);

    // Bob: ann's question and a question nobody asked get the same 404, from one direct read each.
    const notYours = await lookup(bob, 'secret question');
    const nobody = await lookup(bob, 'never asked');
    expect([notYours.status, nobody.status]).toEqual([404, 404]);
    expect(notYours.json).toEqual(nobody.json);
    expect(reads).toEqual([
      [seedTopic(GenerationService.promptKey('secret question', 'bob'))],
      [seedTopic(GenerationService.promptKey('never asked', 'bob'))],
    ]);

    // Many more generations change nothing about the cost of a miss (negative control of a scan).
    for (let i = 0; i < 20; i++) {
      const other = stream(seed(bob, `question ${i}`));
      await other.waitFor((x) => x.frames().length > 0, 10_000, 'another start');
    }
    reads.length = 0;
    expect((await lookup(bob, 'still never asked')).status).toBe(404);
    expect(reads).toHaveLength(1);

    // Ann herself resumes her answer: the lookup finds it.
    const resumed = stream(seed(ann, 'secret question'), { headers: { 'Last-Event-ID': lastId } });
    await resumed.waitFor((x) => x.status !== 0, 10_000, 'an answer');
    expect(resumed.status).toBe(200);
  });

  it('a finished generation expires AI_RETENTION_MS after it ends, seed entry included', async () => {
    const app = await start({ AI_RETENTION_MS: '1000', AI_DEMO_TOKEN_MS: '0' });
    const finished = stream(`${app.url}/api/ai/chat?message=short`);
    await finished.waitForEnd();
    const id = finished.frames()[0]!.data.generationId!;
    expect(finished.frames().at(-1)!.data).toEqual({ type: 'done' });
    // Readable at first (a reconnect after the end replays it)...
    const replay = await request(`${app.url}/api/ai/chat/${id}`, 'GET');
    expect(replay.status).toBe(200);
    if (store === 'redis') {
      const client = new Redis(redis.url);
      try {
        const ttl = await client.pttl(`${REDIS_KEY_PREFIX}:topic:${aiTopic(id)}`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(1000);
      } finally {
        client.disconnect();
      }
    }
    // ...then gone, seed entry included.
    await untilStatus(`${app.url}/api/ai/chat/${id}`, 404);
    const log = app.app.get<EventLog>(EVENT_LOG);
    const seedEntries = await log.readAfter(
      [seedTopic(GenerationService.promptKey('short', undefined))],
      undefined,
    );
    expect(seedEntries.events).toEqual([]);
  });

  it('negative control: a running generation gets no expiry; its end sets one', async () => {
    const app = await start({ AI_RETENTION_MS: '1000', AI_DEMO_TOKEN_MS: '10000' });
    const log = app.app.get<EventLog>(EVENT_LOG);
    const expire = jest.spyOn(log, 'expire');
    const { id } = await post(app);
    expect(expire).not.toHaveBeenCalled();
    if (store === 'redis') {
      const client = new Redis(redis.url);
      try {
        expect(await client.pttl(`${REDIS_KEY_PREFIX}:topic:${aiTopic(id!)}`)).toBe(-1);
      } finally {
        client.disconnect();
      }
    }
    expect((await request(`${app.url}/api/ai/chat/${id}`, 'DELETE')).status).toBe(202);
    await waitUntil(() => expire.mock.calls.length > 0, 'the expiry to be set');
    expect(expire).toHaveBeenCalledWith([aiTopic(id!), aiOwnerTopic(id!)], 1000);
  });
});

/** The status of a request sent from `localAddress` (another client address on loopback). */
function statusFrom(localAddress: string, url: string, method: 'GET' | 'HEAD'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}

/** Asks `url` until it answers `status` (a bounded wait on a condition, not a sleep). */
async function untilStatus(url: string, status: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await request(url, 'GET')).status;
    if (got === status) return;
    if (Date.now() > deadline) throw new Error(`${url} still answers ${got}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
