import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { aiTopic } from '../src/ai/ai-events';
import { sdkChatTopic } from '../src/ai/sdk/sdk-chat.service';
import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { RunningApp, startApp } from './support/app';
import { AppProcess, buildAppOnce } from './support/app-process';
import { signToken } from '../src/scripts/sign-token';
import { post, request } from './support/http';
import { RedisServer } from './support/redis';
import { StreamReader } from './support/sse-client';
import { until } from './support/wait';

/**
 * Regressions of an external red-team pass (hostile input is normal input): each test is an attack
 * that worked, over real HTTP on loopback, and the answer it gets now.
 */

jest.setTimeout(30_000);

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.dispose();
});

type Store = 'memory' | 'redis';
const storeEnv = (store: Store): Record<string, string> =>
  store === 'redis' ? { STORE: 'redis', REDIS_URL: redis.url } : {};

const errorBody = (statusCode: number, message: RegExp) => ({
  statusCode,
  error: expect.any(String),
  message: expect.stringMatching(message),
});

/** How long a key expiry or a store timer may take to show: 20 s, polled every 10 ms. */
const EXPIRY_WAIT = { timeoutMs: 20_000, everyMs: 10 };

describe.each<Store>(['memory', 'redis'])('red-team regressions (STORE=%s)', (store) => {
  let running: RunningApp | undefined;
  const readers: StreamReader[] = [];

  afterEach(async () => {
    readers.splice(0).forEach((r) => r.close());
    await running?.close();
    running = undefined;
  });

  describe("a durable stream's topic (ds:<path>) through the topic endpoints", () => {
    it('is refused for publish and subscribe (400), and the stream stays as written', async () => {
      running = await startApp(storeEnv(store));
      const { url } = running;
      const create = await fetch(`${url}/v1/stream/orders`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: '[1]',
      });
      expect(create.status).toBe(201);

      // A forged record: it would add a message and close the stream, or poison its fold (500).
      for (const forged of [
        { type: 'ds.append', data: { chunk: { json: ['INJECTED'] } } },
        { type: 'ds.append', data: { chunk: { json: 5 } } },
        { type: 'ds.close', data: {} },
      ]) {
        const res = await post(`${url}/api/events/ds:orders`, forged);
        expect(res.status).toBe(400);
        expect(res.json).toEqual(errorBody(400, /durable stream.*\/v1\/stream\/orders/));
      }
      for (const path of [
        '/api/events?topic=ds:orders',
        '/api/events?topic=a&topic=ds:orders',
        '/api/stream/a,ds:orders',
      ]) {
        const res = await request(`${url}${path}`, 'GET');
        expect(res.status).toBe(400);
        expect(res.json).toEqual(errorBody(400, /durable stream/));
      }
      // Negative control: the same body to an ordinary topic is a publish.
      const control = await post(`${url}/api/events/orders`, {
        type: 'ds.append',
        data: { chunk: { json: ['x'] } },
      });
      expect(control.status).toBe(202);

      const read = await fetch(`${url}/v1/stream/orders?offset=-1`);
      expect(read.status).toBe(200);
      expect(read.headers.get('stream-closed')).toBeNull();
      expect(await read.json()).toEqual([1]);
      const append = await fetch(`${url}/v1/stream/orders`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '[2]',
      });
      expect(append.status).toBe(204);
    });
  });

  it('refuses a JSON durable stream body nested past MAX_JSON_DEPTH (400, not a 500), and keeps the stream', async () => {
    running = await startApp(storeEnv(store));
    const { url } = running;
    const json = { 'Content-Type': 'application/json' };
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    expect((await fetch(`${url}/v1/stream/deep`, { method: 'PUT', headers: json })).status).toBe(
      201,
    );
    // 10,000 levels overflowed the stack (500); 3,000 went into the log, for every reader to re-serialize.
    for (const depth of [65, 3000, 10_000, 200_000]) {
      const res = await fetch(`${url}/v1/stream/deep`, {
        method: 'POST',
        headers: json,
        body: nested(depth),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual(errorBody(400, /MAX_JSON_DEPTH \(64\)/));
    }
    const created = await fetch(`${url}/v1/stream/deep-put`, {
      method: 'PUT',
      headers: json,
      body: nested(3000),
    });
    expect(created.status).toBe(400);
    // Negative control: at the limit (the body's array plus 63 levels) it is appended.
    const atLimit = await fetch(`${url}/v1/stream/deep`, {
      method: 'POST',
      headers: json,
      body: nested(64),
    });
    expect(atLimit.status).toBe(204);
    const read = await fetch(`${url}/v1/stream/deep?offset=-1`);
    expect(read.status).toBe(200);
    expect(await read.text()).toBe(`[${nested(63)}]`);
  });

  describe('AI SDK chat topics (ai/sdk-chat/<id>)', () => {
    const chatBody = (id: string) => ({
      id,
      trigger: 'submit-message',
      messages: [{ id: randomUUID(), role: 'user', parts: [{ type: 'text', text: 'hello' }] }],
    });
    const generationOf = (text: string) => /"messageId":"([^"]+)"/.exec(text)?.[1];
    const topicHolds = async (log: EventLog, topic: string) =>
      (await log.readAfter([topic], undefined)).events.length > 0;

    it('expire AI_RETENTION_MS after their answer ends, like the answer', async () => {
      running = await startApp({
        ...storeEnv(store),
        AI_DEMO_TOKEN_MS: '0',
        AI_RETENTION_MS: '1000',
      });
      const log = running.app.get<EventLog>(EVENT_LOG);
      const chatId = `c${randomUUID()}`;
      const answer = new StreamReader(`${running.url}/api/ai/sdk/chat`, {
        method: 'POST',
        body: chatBody(chatId),
      });
      readers.push(answer);
      await answer.waitForEnd();
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('data: [DONE]');
      const generationId = generationOf(answer.text)!;
      expect(generationId).toBeDefined();
      // Negative control: right after the answer both are there, so the wait below means something.
      expect(await topicHolds(log, sdkChatTopic(chatId))).toBe(true);
      await until(
        async () =>
          !(await topicHolds(log, sdkChatTopic(chatId))) &&
          !(await topicHolds(log, aiTopic(generationId))),
        'the chat topic and the answer topic to expire',
        EXPIRY_WAIT,
      );
      const resume = await request(`${running.url}/api/ai/sdk/chat/${chatId}/stream`, 'GET');
      expect(resume.status).toBe(404);
    });

    it("keep a chat whose new answer runs past the last answer's deadline", async () => {
      running = await startApp({
        ...storeEnv(store),
        // An answer that outlives the retention: one token every 10 s.
        AI_DEMO_TOKEN_MS: '10000',
        AI_RETENTION_MS: '1000',
      });
      const log = running.app.get<EventLog>(EVENT_LOG);
      const { url } = running;
      const chatId = `c${randomUUID()}`;
      const first = new StreamReader(`${url}/api/ai/sdk/chat`, {
        method: 'POST',
        body: chatBody(chatId),
      });
      readers.push(first);
      await first.waitFor((s) => generationOf(s.text) !== undefined, 10_000, 'the first answer');
      const firstId = generationOf(first.text)!;
      // Stopped: it ends now, and its deadline (and the chat's) is 1 s away.
      const stop = await request(`${url}/api/ai/sdk/chat/${chatId}/stream`, 'DELETE');
      expect(stop.status).toBe(202);
      await first.waitForEnd();

      const second = new StreamReader(`${url}/api/ai/sdk/chat`, {
        method: 'POST',
        body: chatBody(chatId),
      });
      readers.push(second);
      await second.waitFor((s) => generationOf(s.text) !== undefined, 10_000, 'the second answer');
      const secondId = generationOf(second.text)!;
      expect(secondId).not.toBe(firstId);
      // The first answer's topic went at the deadline the chat had then.
      await until(
        async () => !(await topicHolds(log, aiTopic(firstId))),
        'the first answer to expire',
        EXPIRY_WAIT,
      );
      expect(await topicHolds(log, sdkChatTopic(chatId))).toBe(true);
      const resume = new StreamReader(`${url}/api/ai/sdk/chat/${chatId}/stream`);
      readers.push(resume);
      await resume.waitFor((s) => s.text.includes(secondId), 10_000, 'the resumed answer');
      expect(resume.status).toBe(200);

      // Stopped, the chat now expires with its last answer.
      const stopAgain = await request(`${url}/api/ai/sdk/chat/${chatId}/stream`, 'DELETE');
      expect(stopAgain.status).toBe(202);
      await until(
        async () => !(await topicHolds(log, sdkChatTopic(chatId))),
        'the chat to expire after its last answer',
        EXPIRY_WAIT,
      );
    });
  });
});

describe('the access_token cookie on a write from another site (CSRF)', () => {
  const SECRET = 'red-team-secret-0123456789abcdef0123';
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  // A page on any site can POST `text/plain` to a durable stream without a preflight, and the
  // browser attaches the cookie: that appended to the victim's stream.
  it('is refused (403); the same write from this site, a listed origin or with the header is not', async () => {
    running = await startApp({ AUTH_JWT_SECRET: SECRET, CORS_ORIGINS: 'https://app.example' });
    const { url } = running;
    const token = await signToken(SECRET, { sub: 'ann', streams: { read: ['*'], write: ['*'] } });
    const cookie = `access_token=${token}`;
    const created = await fetch(`${url}/v1/stream/ann-notes`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
    });
    expect(created.status).toBe(201);
    const append = (headers: Record<string, string>, body: string) =>
      fetch(`${url}/v1/stream/ann-notes`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain', ...headers },
        body,
      });

    const attacks: Array<Record<string, string>> = [
      { Cookie: cookie, Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
      { Cookie: cookie, Origin: 'https://evil.example' },
      { Cookie: cookie, 'Sec-Fetch-Site': 'same-site' },
    ];
    for (const attack of attacks) {
      const res = await append(attack, 'forged');
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual(errorBody(403, /access_token cookie/));
    }
    // Negative controls: the same append is accepted where it is not a forgery.
    const fromSite = await append({ Cookie: cookie, 'Sec-Fetch-Site': 'same-origin' }, 'a');
    expect(fromSite.status).toBe(204);
    const listed = await append(
      { Cookie: cookie, Origin: 'https://app.example', 'Sec-Fetch-Site': 'cross-site' },
      'b',
    );
    expect(listed.status).toBe(204);
    const bearer = await append(
      { Authorization: `Bearer ${token}`, Origin: 'https://evil.example' },
      'c',
    );
    expect(bearer.status).toBe(204);
    // A read with the cookie from anywhere still works (CORS decides who sees the answer).
    const read = await fetch(`${url}/v1/stream/ann-notes?offset=-1`, {
      headers: { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site', Origin: 'https://evil.example' },
    });
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('abc');
  });
});

describe('a finished AI answer whose topic expires while it is being looked up', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await running?.close();
    running = undefined;
  });

  // The resume read the topic twice (to find the generation, then to replay it): when the expiry fell
  // between the two, the replay held nothing, and the stream waited for a live event that can never
  // come (seen on Redis as a GET at AI_RETENTION_MS that never answered).
  it('ends the stream instead of waiting for ever', async () => {
    running = await startApp({ AI_DEMO_TOKEN_MS: '0' });
    const { url } = running;
    const finished = new StreamReader(`${url}/api/ai/chat?message=expiring`);
    await finished.waitForEnd();
    const generationId = /"generationId":"([^"]+)"/.exec(finished.text)?.[1];
    expect(generationId).toBeDefined();
    const topic = aiTopic(generationId!);

    // Negative control: a resume while the topic is there replays the answer to its end.
    const whole = await request(`${url}/api/ai/chat/${generationId}`, 'GET');
    expect(whole.status).toBe(200);
    expect(whole.body).toContain('"type":"done"');

    // The topic is there for the first read, and gone (expired) for every read after it.
    const log = running.app.get<EventLog>(EVENT_LOG);
    const readAfter = log.readAfter.bind(log);
    let reads = 0;
    jest.spyOn(log, 'readAfter').mockImplementation((topics, afterId) => {
      if (topics.includes(topic) && reads++ > 0) {
        return Promise.resolve({ events: [], truncated: false, unknown: false });
      }
      return readAfter(topics, afterId);
    });
    const resumed = await request(`${url}/api/ai/chat/${generationId}`, 'GET');
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(resumed.status).toBe(200);
    expect(resumed.body).not.toContain('"type":"chunk"');
  });
});

const MiB = 1024 * 1024;

function rssOf(pid: number): number {
  const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kib) throw new Error(`no VmRSS for ${pid}`);
  return Number(kib[1]) * 1024;
}

describe('durable streams stay within STORE_MAX_BYTES (a real process, its RSS)', () => {
  /** 60 streams of 8 appends of 1 MB: 480 MB, 30 times the budget. */
  const STREAMS = 60;
  const APPENDS = 8;
  const BUDGET = 16 * MiB;
  /** Start-up garbage, request buffers, allocator slack: measured at about 110 MiB for this flood. */
  const FIXED_OVERHEAD = 200 * MiB;
  let entry: string;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    entry = await buildAppOnce();
  }, 120_000);
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });

  /** Creates STREAMS streams and fills each; resolves with the highest RSS seen. */
  async function flood(budget: number): Promise<{ baseline: number; peak: number }> {
    const app = await AppProcess.create(entry, {
      LOG_LEVEL: 'warn',
      STORE_MAX_BYTES: String(budget),
      DURABLE_MAX_BODY_BYTES: String(MiB),
    });
    apps.push(app);
    await app.start();
    const baseline = rssOf(app.pid!);
    let peak = baseline;
    const chunk = Buffer.alloc(1_000_000, 'a');
    const octets = { 'Content-Type': 'application/octet-stream' };
    for (let i = 0; i < STREAMS; i++) {
      const url = `${app.url}/v1/stream/flood-${i}`;
      expect((await fetch(url, { method: 'PUT', headers: octets })).status).toBe(201);
      for (let j = 0; j < APPENDS; j++) {
        const res = await fetch(url, { method: 'POST', headers: octets, body: chunk });
        expect(res.status).toBe(204);
      }
      peak = Math.max(peak, rssOf(app.pid!));
    }
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
    return { baseline, peak };
  }

  // Each stream's fold was cached per instance by count only (1,000 views), as a copy of its bytes
  // that outlived what the store's budget evicted: 1.3 GB of RSS for 150 such streams at 16 MiB.
  it('480 MB appended to new streams: RSS stays within the budget plus a fixed overhead', async () => {
    const { baseline, peak } = await flood(BUDGET);
    process.stdout.write(
      `durable-flood: RSS ${(baseline / MiB).toFixed(0)} MiB at start, peak ${(peak / MiB).toFixed(0)} MiB\n`,
    );
    expect(peak).toBeLessThanOrEqual(baseline + BUDGET + FIXED_OVERHEAD);
  }, 180_000);

  it('negative control: with a budget far above the flood, RSS grows past that bound', async () => {
    const { baseline, peak } = await flood(64 * 1024 * MiB);
    expect(peak).toBeGreaterThan(baseline + BUDGET + FIXED_OVERHEAD);
  }, 180_000);
});
