import { MonitorService } from '../src/monitor/monitor.service';
import { startApp, RunningApp } from './support/app';
import { RecordingEventSource, StreamReader } from './support/sse-client';
import { until } from './support/wait';

describe('GET /api/monitor', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const raws: StreamReader[] = [];

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    raws.splice(0).forEach((r) => r.close());
    await running.close();
  });

  it('sends a sample at once and then every MONITOR_INTERVAL_MS, with connection counts and no ids', async () => {
    running = await startApp({ MONITOR_INTERVAL_MS: '40' });
    const chat = new RecordingEventSource(`${running.url}/api/chat/lobby`);
    sources.push(chat);
    await chat.waitForOpen();
    const raw = new StreamReader(`${running.url}/api/monitor`);
    raws.push(raw);
    await raw.waitFor((r) => r.frames().length >= 2, 10_000, "the raw stream's first sample");
    const es = new RecordingEventSource(`${running.url}/api/monitor`);
    sources.push(es);
    await es.waitFor((e) => e.length >= 3, 10_000, 'three samples');
    const sample = es.events[0]!.json;
    expect(sample).toEqual({
      cpu: {
        process: expect.any(Number),
        system: expect.any(Number),
        loadAverage: expect.any(Array),
        cores: expect.any(Number),
      },
      memory: expect.objectContaining({
        rss: expect.any(Number),
        heapUsed: expect.any(Number),
        systemTotal: expect.any(Number),
      }),
      disk: expect.objectContaining({ total: expect.any(Number), free: expect.any(Number) }),
      connections: { total: 3, byKind: { chat: 1, monitor: 2 } },
      timestamp: expect.stringMatching(/^\d{4}-/),
    });
    expect(es.events.every((e) => e.lastEventId === '')).toBe(true);
    await raw.waitFor((r) => r.frames().length >= 4);
    expect(raw.text).not.toMatch(/^id:/m);
    expect(raw.text).not.toMatch(/^event:/m);
  });

  it('shares one sampler: both connections get the same tick sample, and it stops with the last one', async () => {
    running = await startApp({ MONITOR_INTERVAL_MS: '30' });
    const monitor = running.app.get(MonitorService);
    const spy = jest.spyOn(monitor, 'sample');
    const a = new RecordingEventSource(`${running.url}/api/monitor`);
    const b = new RecordingEventSource(`${running.url}/api/monitor`);
    sources.push(a, b);
    await Promise.all([a.waitFor((e) => e.length >= 4), b.waitFor((e) => e.length >= 4)]);
    // Past each first (per-connection) sample, both streams carry the very same tick samples.
    const ticksOf = (s: RecordingEventSource) => s.events.slice(1).map((e) => e.data);
    const common = ticksOf(a).filter((d) => ticksOf(b).includes(d));
    expect(common.length).toBeGreaterThanOrEqual(2);
    expect(monitor.sampling).toBe(true);
    // One sample per tick for all connections, plus each connection's first: far fewer than one per frame.
    expect(spy.mock.calls.length).toBeLessThan(a.events.length + b.events.length);
    a.close();
    b.close();
    await until(() => !monitor.sampling, 'the shared timer to stop with the last monitor stream');
    const c = new RecordingEventSource(`${running.url}/api/monitor`);
    sources.push(c);
    await c.waitFor((e) => e.length >= 2);
    expect(monitor.sampling).toBe(true);
  });

  it('with MONITOR_INTERVAL_MS=0 sends only the first sample and keeps the stream open', async () => {
    running = await startApp({ MONITOR_INTERVAL_MS: '0', SSE_HEARTBEAT_MS: '100' });
    const raw = new StreamReader(`${running.url}/api/monitor`);
    raws.push(raw);
    await raw.waitFor((r) => r.text.includes(': ping'), 10_000, 'a heartbeat after the sample');
    expect(raw.frames().filter((f) => f.text.startsWith('data:'))).toHaveLength(1);
    expect(raw.ended).toBe(false);
  });
});
