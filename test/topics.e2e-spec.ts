import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { startApp, RunningApp } from './support/app';
import { post } from './support/http';
import { get, RawStream, RecordingEventSource } from './support/sse-client';

describe('topics: POST /api/events/:topic, GET /api/events, GET /api/stream/:channels', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const raws: RawStream[] = [];
  const open = (url: string, init?: ConstructorParameters<typeof RecordingEventSource>[1]) => {
    const source = new RecordingEventSource(url, init);
    sources.push(source);
    return source;
  };
  const publish = async (topic: string, body: unknown): Promise<string> => {
    const res = await post(`${running.url}/api/events/${topic}`, body);
    expect(res.status).toBe(202);
    return res.json.id as string;
  };

  beforeEach(async () => {
    running = await startApp({ STORE_RETENTION: '50' });
  });

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    raws.splice(0).forEach((r) => r.close());
    await running.close();
  });

  it('publishes with 202 {id} and delivers {id,topic,type,data,timestamp} with event: set to the type', async () => {
    const es = open(`${running.url}/api/events?topic=orders&topic=prices`, { types: ['created'] });
    await es.waitForOpen();
    const first = await publish('orders', { type: 'created', data: { n: 1 } });
    const second = await publish('prices', { data: 'plain' });
    await es.waitFor((e) => e.length === 2);
    expect(es.events[0]).toMatchObject({ type: 'created', lastEventId: first });
    expect(es.events[0]!.json).toEqual({
      id: first,
      topic: 'orders',
      type: 'created',
      data: { n: 1 },
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(es.events[1]).toMatchObject({ type: 'message', lastEventId: second });
    expect(es.events[1]!.json).toMatchObject({ topic: 'prices', type: 'message', data: 'plain' });
  });

  it('resumes every topic of a connection with one Last-Event-ID: interleaved topics, no gap, no duplicate', async () => {
    const es = open(`${running.url}/api/stream/a,b`);
    await es.waitForOpen();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await publish(i % 2 === 0 ? 'a' : 'b', { data: i }));
    await publish('c', { data: 'not subscribed' });
    await es.waitFor((e) => e.length === 6);
    // The server drops every stream; events published while the client is away must all arrive once.
    running.app.get(ConnectionRegistry).closeAll(() => '');
    for (let i = 6; i < 10; i++) ids.push(await publish(i % 2 === 0 ? 'b' : 'a', { data: i }));
    await es.waitForOpen(2);
    ids.push(await publish('a', { data: 10 }));
    await es.waitFor((e) => e.some((x) => x.lastEventId === ids[10]));
    expect(es.events.map((x) => x.lastEventId)).toEqual(ids);
    expect(es.events.map((x) => x.json.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(es.events.map((x) => x.json.topic)).toEqual([
      'a',
      'b',
      'a',
      'b',
      'a',
      'b',
      'b',
      'a',
      'b',
      'a',
      'a',
    ]);
    expect(es.opens).toBe(2);
  });

  it('replays after a Last-Event-ID given by a new client (query parameter), merged in id order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await publish(['x', 'y', 'z'][i % 3]!, { data: i }));
    const es = open(`${running.url}/api/events?topic=x,y&lastEventId=${ids[0]!}`);
    await es.waitFor((e) => e.length === 3);
    // x, y, z, x, y after the first x: the y, x, y events, in id order.
    expect(es.events.map((x) => x.json.data)).toEqual([1, 3, 4]);
  });

  it('sends a reset (no id) for an unknown id, then live events', async () => {
    // Ids start from the clock; one far above it is newer than anything this store handed out.
    const raw = new RawStream(`${running.url}/api/events?topic=a`, {
      'Last-Event-ID': '9'.repeat(16),
    });
    raws.push(raw);
    await raw.waitFor((r) => r.frames().length >= 2, 10_000, 'reset frame');
    const id = await publish('a', { data: 1 });
    await raw.waitFor((r) => r.text.includes(`id: ${id}`));
    const frames = raw.frames();
    expect(frames[1]).toBe('data: {"type":"reset","reason":"unknown_id"}');
    expect(raw.status).toBe(200);
  });

  it('delivers hostile data as one event with the exact data and no extra frame', async () => {
    const raw = new RawStream(`${running.url}/api/events?topic=evil`);
    raws.push(raw);
    await raw.waitFor((r) => r.frames().length === 1, 10_000, 'opening frame');
    const hostile = 'x\n\nevent: pwned\ndata: pwned\r\n\r\nid: 999\n';
    // A resume point just before the hostile event (ids are global to the store).
    const before = await publish('elsewhere', { data: 0 });
    const id = await publish('evil', { type: 'safe', data: hostile });
    const es = open(`${running.url}/api/events?topic=evil&lastEventId=${before}`, {
      types: ['safe', 'pwned'],
    });
    await raw.waitFor((r) => r.frames().length === 2, 10_000, 'the event');
    await es.waitFor((e) => e.length === 1);
    expect(raw.frames()).toHaveLength(2);
    expect(
      raw
        .frames()[1]!
        .split('\n')
        .filter((line) => line.startsWith('data:')),
    ).toHaveLength(1);
    expect(raw.frames()[1]).toMatch(new RegExp(`^event: safe\nid: ${id}\ndata: `));
    expect(es.events[0]!.type).toBe('safe');
    expect(es.events[0]!.json.data).toBe(hostile);
  });

  it('rejects an injected event type, bad topic names and bad bodies with a 400 JSON error', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['t', { type: 'x\n\ndata: pwned', data: 1 }, /type: must be 1 to 64/],
      ['t', { type: 'a'.repeat(65), data: 1 }, /type/],
      ['t', { type: 5, data: 1 }, /type: must be a string/],
      ['t', { type: 'ok' }, /data: is required/],
      ['t', [1, 2], /must be a JSON object/],
      ['t', '{"data":', /not valid JSON/],
      ['bad%20topic', { data: 1 }, /Invalid topic/],
      ['a%2A', { data: 1 }, /Invalid topic/],
      ['chat:lobby', { data: 1 }, /written by its own endpoint/],
      ['user:42', { data: 1 }, /written by its own endpoint/],
    ];
    for (const [topic, body, message] of cases) {
      const res = await post(`${running.url}/api/events/${topic}`, body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(String(res.json.message)).toMatch(message);
    }
    const wrongType = await post(`${running.url}/api/events/t`, 'data=1', {
      'Content-Type': 'application/x-www-form-urlencoded',
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.message).toMatch(/Content-Type must be application\/json/);
  });

  it('rejects bad subscriptions before any stream starts: no topic, a bad name, too many topics', async () => {
    const tooMany = Array.from({ length: 33 }, (_, i) => `t${i}`).join(',');
    for (const path of [
      '/api/events',
      '/api/events?topic=',
      '/api/events?topic=a%20b',
      `/api/stream/${tooMany}`,
    ]) {
      const res = await get(`${running.url}${path}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
    }
    const ok = await get(`${running.url}/api/events?topic=a&lastEventId=abc`);
    expect(ok.status).toBe(400);
  });
});
