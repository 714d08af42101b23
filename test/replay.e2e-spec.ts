import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { TickerService } from '../src/replay/ticker.service';
import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { startApp, RunningApp } from './support/app';
import { get, RecordingEventSource } from './support/sse-client';

describe('GET /events (ticker replay)', () => {
  let running: RunningApp;
  let ticker: TickerService;
  const sources: RecordingEventSource[] = [];
  const open = (url: string, init?: ConstructorParameters<typeof RecordingEventSource>[1]) => {
    const source = new RecordingEventSource(url, init);
    sources.push(source);
    return source;
  };

  /**
   * Ids start from the clock (a restart or wipe must not reuse them), so the n-th ticker message
   * of a test has id `base + n`: `base` is the id of one event written first, on another topic.
   */
  let base = 0n;
  const id = (n: number) => String(base + BigInt(n));

  beforeEach(async () => {
    running = await startApp({ STORE_RETENTION: '5' });
    ticker = running.app.get(TickerService);
    const first = await running.app.get<EventLog>(EVENT_LOG).append({
      topic: 'before-the-test',
      type: 'message',
      data: null,
    });
    base = BigInt(first.id);
  });

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  it('sends connected, then live messages with ids', async () => {
    const es = open(`${running.url}/events`);
    await es.waitFor((e) => e.some((x) => x.json?.type === 'connected'));
    await ticker.publish();
    await ticker.publish();
    await es.waitFor((e) => e.filter((x) => x.json?.type === 'message').length === 2);
    const live = es.events.filter((x) => x.json?.type === 'message');
    expect(live.map((x) => x.lastEventId)).toEqual([id(1), id(2)]);
    expect(live[0]!.json).toEqual({
      id: id(1),
      type: 'message',
      message: 'Server message #1',
      timestamp: expect.any(String),
    });
    // The connected message carries no id: it must not move the client's resume point.
    expect(es.events[0]!.lastEventId).toBe('');
  });

  it('resumes with the header: catch_up_start, missed events with originalType, catch_up_end, then live', async () => {
    for (let i = 0; i < 3; i++) await ticker.publish();
    const es = open(`${running.url}/events`, { headers: { 'Last-Event-ID': id(1) } });
    await es.waitFor((e) => e.some((x) => x.json?.type === 'catch_up_end'));
    await ticker.publish();
    await es.waitFor((e) => e.some((x) => x.json?.type === 'message'));
    expect(es.events.map((x) => x.json.type)).toEqual([
      'connected',
      'catch_up_start',
      'catch_up_message',
      'catch_up_message',
      'catch_up_end',
      'message',
    ]);
    expect(es.events[1]!.json).toMatchObject({ count: 2 });
    expect(es.events[2]!.json).toMatchObject({
      id: id(2),
      originalType: 'message',
      message: 'Server message #2',
    });
    // The eventsource package reports the id of each event itself (control frames: none).
    expect(es.events.map((x) => x.lastEventId)).toEqual(['', '', id(2), id(3), '', id(4)]);
    expect(es.events[4]!.json).toMatchObject({ syncCount: 2 });
  });

  it('resumes with the lastEventId query parameter (seed clients that cannot set headers)', async () => {
    for (let i = 0; i < 4; i++) await ticker.publish();
    const es = open(`${running.url}/events?lastEventId=${id(2)}`);
    await es.waitFor((e) => e.some((x) => x.json?.type === 'catch_up_end'));
    expect(
      es.events.filter((x) => x.json.type === 'catch_up_message').map((x) => x.lastEventId),
    ).toEqual([id(3), id(4)]);
  });

  it('reconnects after the server drops the connection and resumes with no gap and no duplicate', async () => {
    const es = open(`${running.url}/events`);
    await es.waitForOpen();
    for (let i = 0; i < 3; i++) await ticker.publish();
    await es.waitFor((e) => e.filter((x) => x.json?.type === 'message').length === 3);
    // Drop every stream from the server side, then publish while the client is away.
    const registry = running.app.get(ConnectionRegistry);
    registry.closeAll(() => '');
    for (let i = 0; i < 3; i++) await ticker.publish();
    await es.waitFor((e) => e.some((x) => x.json?.type === 'catch_up_end'));
    await ticker.publish();
    await es.waitFor((e) => e.some((x) => x.lastEventId === id(7)));
    const ids = es.events.filter((x) => x.lastEventId !== '' && x.json.id).map((x) => x.json.id);
    expect(ids).toEqual([id(1), id(2), id(3), id(4), id(5), id(6), id(7)]);
    expect(es.opens).toBe(2);
  });

  it('sends reset history_truncated and then every retained event when the id is older than retention', async () => {
    for (let i = 0; i < 10; i++) await ticker.publish(); // retention 5: events 1..5 are gone
    const es = open(`${running.url}/events`, { headers: { 'Last-Event-ID': id(2) } });
    await es.waitFor((e) => e.some((x) => x.json?.type === 'catch_up_end'));
    expect(es.events[1]!.json).toEqual({ type: 'reset', reason: 'history_truncated' });
    expect(es.events[1]!.lastEventId).toBe('');
    const replayed = es.events
      .filter((x) => x.json.type === 'catch_up_message')
      .map((x) => x.json.id);
    expect(replayed).toEqual([id(6), id(7), id(8), id(9), id(10)]);
  });

  it('sends reset unknown_id for an id newer than anything known, then live', async () => {
    await ticker.publish();
    const es = open(`${running.url}/events`, { headers: { 'Last-Event-ID': id(999) } });
    await es.waitFor((e) => e.some((x) => x.json?.type === 'reset'));
    await ticker.publish();
    await es.waitFor((e) => e.some((x) => x.json?.type === 'message'));
    expect(es.events.map((x) => x.json.type)).toEqual(['connected', 'reset', 'message']);
    expect(es.events[1]!.json.reason).toBe('unknown_id');
    expect(es.events[2]!.json.id).toBe(id(2));
  });

  it('answers 400 with a JSON body for a malformed Last-Event-ID, before any stream starts', async () => {
    for (const bad of ['abc', '-1', '1.5', '01', '1\r\ndata: x', '9'.repeat(40)]) {
      const res = await get(`${running.url}/events?lastEventId=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(JSON.parse(res.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    }
  });

  it('releases its log subscription and registry entry when the client disconnects', async () => {
    const log = running.app.get<EventLog>(EVENT_LOG);
    const registry = running.app.get(ConnectionRegistry);
    const clients = [open(`${running.url}/events`), open(`${running.url}/events`)];
    await Promise.all(clients.map((c) => c.waitFor((e) => e.length > 0)));
    expect(registry.size).toBe(2);
    expect(log.subscriberCount()).toBe(2);
    const closed = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (registry.size === 0) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    clients.forEach((c) => c.close());
    await closed;
    expect(log.subscriberCount()).toBe(0);
    expect(registry.stats.closedBy.client).toBe(2);
  });
});
