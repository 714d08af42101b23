import Redis from 'ioredis';
import { EVENT_LOG, EventLog, LogEvent } from '../src/event-log/event-log';
import { REDIS_KEY_PREFIX } from '../src/event-log/event-log.module';
import { serializeMessage } from '../src/sse/sse-serializer';
import { RunningApp, startApp } from './support/app';
import { post, request } from './support/http';
import { RecordingEventSource } from './support/sse-client';
import { RedisServer } from './support/redis';

/** `{"data": [[[…]]]}` with arrays nested `depth` deep inside the body object. */
const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepBody = (field: string, depth: number, rest = '') =>
  `{${rest}"${field}":${nestedArrays(depth)}}`;

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

describe.each<Store>(['memory', 'redis'])('hostile input (STORE=%s)', (store) => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const open = (url: string) => {
    const source = new RecordingEventSource(url);
    sources.push(source);
    return source;
  };

  beforeEach(async () => {
    running = await startApp(storeEnv(store));
  });
  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  const expectDepthError = (res: { status: number; json: any }) => {
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringMatching(/MAX_JSON_DEPTH \(64\)/),
    });
  };

  it('refuses a body nested past MAX_JSON_DEPTH on every route that takes one, and accepts one at the limit', async () => {
    const routes: Array<[string, (depth: number) => string]> = [
      ['/api/events/orders', (d) => deepBody('data', d)],
      [
        '/api/notifications',
        (d) => deepBody('data', d, '"broadcast":true,"title":"t","body":"b",'),
      ],
      ['/api/chat/lobby/message', (d) => deepBody('text', d, '"user":"u",')],
      ['/api/ai/chat', (d) => deepBody('messages', d)],
    ];
    for (const [path, body] of routes) {
      // 65 levels: the body object plus 64 arrays. The attack's 4,500, and as deep as MAX_BODY_BYTES allows.
      for (const depth of [64, 4500, 30_000]) {
        expectDepthError(await post(`${running.url}${path}`, body(depth)));
      }
    }
    // At the limit (the object plus 63 arrays) a publish is accepted and stored.
    const accepted = await post(`${running.url}/api/events/orders`, deepBody('data', 63));
    expect(accepted.status).toBe(202);
    const live = await request(`${running.url}/health/live`, 'GET');
    expect(live.status).toBe(200);
  });

  it('contains an event that cannot be serialized: that stream ends with an error frame carrying its id, the client resumes past it, the process lives', async () => {
    const log = running.app.get<EventLog>(EVENT_LOG);
    const first = await log.append({ topic: 'orders', type: 'message', data: { n: 1 } });
    const live = open(`${running.url}/api/events?topic=orders`);
    const resuming = open(`${running.url}/api/events?topic=orders&lastEventId=${first.id}`);
    const other = open(`${running.url}/api/events?topic=other`);
    await Promise.all([live.waitForOpen(), resuming.waitForOpen(), other.waitForOpen()]);

    // An over-deep event already in the log (as an old version, or a hand-written record, left it).
    const bad = await appendUnserializable(store, log, 'orders');
    const after = await log.append({ topic: 'orders', type: 'message', data: { n: 3 } });
    await log.append({ topic: 'other', type: 'message', data: { n: 4 } });

    for (const client of [live, resuming]) {
      await client.waitFor((events) => events.some((e) => e.lastEventId === after.id));
      const error = client.events.find((e) => e.json?.type === 'error');
      expect(error).toMatchObject({ lastEventId: bad });
      expect(error!.json.message).toMatch(new RegExp(`Event ${bad} could not be sent`));
      // Reconnected once, on its own, with Last-Event-ID past the bad event.
      expect(client.opens).toBe(2);
    }
    await other.waitFor((events) => events.some((e) => e.json?.data?.n === 4));
    expect(other.opens).toBe(1);
    // A fresh resume from before it behaves the same, again and again: no crash loop.
    const again = open(`${running.url}/api/events?topic=orders&lastEventId=${first.id}`);
    await again.waitFor((events) => events.some((e) => e.lastEventId === after.id));
    expect((await request(`${running.url}/health/live`, 'GET')).status).toBe(200);

    // Negative control: the very event, serialized without the containment, throws.
    const stored = (await log.readAfter(['orders'], first.id)).events[0] as LogEvent;
    expect(stored.id).toBe(bad);
    expect(() => serializeMessage({ id: stored.id, data: stored.data })).toThrow(RangeError);
  });

  it('refuses a query string past 100 parameters instead of dropping the rest', async () => {
    const junk = Array.from({ length: 1000 }, (_, i) => `x${i}=1`).join('&');
    const dropped = await request(`${running.url}/api/events?topic=a&${junk}&topic=b`, 'GET');
    expect(dropped.status).toBe(400);
    expect(dropped.json).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'The query string has 1002 parameters; at most 100 are accepted',
    });
    const publish = await post(`${running.url}/api/events/orders?${junk}`, { data: 1 });
    expect(publish.status).toBe(400);
    // 40 topics is refused for what it is (more than a stream carries), not cut down to 32.
    const topics = Array.from({ length: 40 }, (_, i) => `topic=t${i}`).join('&');
    const many = await request(`${running.url}/api/events?${topics}`, 'GET');
    expect(many.status).toBe(400);
    expect(many.json.message).toMatch(/at most 32 topics/);
    // Negative control: 100 parameters are fine, and every one of them is read.
    const within = Array.from({ length: 99 }, (_, i) => `x${i}=1`).join('&');
    const source = open(`${running.url}/api/events?topic=a&${within}`);
    await source.waitForOpen();
  });
});

/**
 * Writes an event nested 20,000 deep straight into the store, bypassing the HTTP checks: through
 * the memory log's port, or as raw records in Redis (the way the Redis adapter lays them out).
 * Returns its id.
 */
async function appendUnserializable(store: Store, log: EventLog, topic: string): Promise<string> {
  const text = nestedArrays(20_000);
  if (store === 'memory') {
    return (await log.append({ topic, type: 'message', data: JSON.parse(text) as unknown })).id;
  }
  const client = new Redis(redis.url);
  try {
    const key = (name: string) => `${REDIS_KEY_PREFIX}:${name}`;
    const seq = await client.incr(key('seq'));
    const ts = String(Date.now());
    await client
      .multi()
      .xadd(key(`topic:${topic}`), `${seq}-0`, 'type', 'message', 'data', text, 'ts', ts)
      .xadd(key('all'), `${seq}-0`, 'topic', topic, 'type', 'message', 'data', text, 'ts', ts)
      .exec();
    return String(seq);
  } finally {
    client.disconnect();
  }
}
