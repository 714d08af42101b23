import { AiMetrics } from '../src/ai/ai-metrics';
import { TickerService } from '../src/replay/ticker.service';
import { RunningApp, startApp } from './support/app';
import { parseExposition } from './support/metrics';
import { get, RawStream } from './support/sse-client';

describe('GET /metrics', () => {
  let running: RunningApp;
  const streams: RawStream[] = [];

  const scrape = async () => {
    const res = await get(`${running.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body);
  };

  beforeEach(async () => {
    running = await startApp({ SSE_HEARTBEAT_MS: '100' });
  });

  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    await running.close();
  });

  it('exposes process metrics and every Rivulet series at zero on a fresh instance', async () => {
    const m = await scrape();
    expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
    for (const name of [
      'rivulet_sse_streams_opened_total',
      'rivulet_sse_slow_consumer_disconnects_total',
      'rivulet_sse_heartbeats_total',
      'rivulet_events_delivered_total',
      'rivulet_events_replayed_total',
      'rivulet_events_published_total',
      'rivulet_event_log_append_failures_total',
      'rivulet_event_log_subscriptions',
      'rivulet_draining',
      'rivulet_ai_generations_started_total',
      'rivulet_ai_generations_total{outcome="completed"}',
      'rivulet_ai_aborts_total{reason="detached"}',
      'rivulet_sse_streams_closed_total{reason="slow_consumer"}',
    ]) {
      expect([name, m.get(name)]).toEqual([name, 0]);
    }
  });

  it('counts open streams by kind, published, delivered and replayed events, heartbeats and closes', async () => {
    const ticker = running.app.get(TickerService);
    const live = new RawStream(`${running.url}/events`);
    streams.push(live);
    await live.waitFor((s) => s.text.includes('"type":"connected"'), 5000, 'connected');
    await ticker.publish();
    await ticker.publish();
    await live.waitFor((s) => (s.text.match(/^id: /gm) ?? []).length === 2, 5000, 'two events');
    const firstId = /^id: (\d+)$/m.exec(live.text)![1]!;

    // A resume from the first: connected, catch_up_start, the second, catch_up_end, in one batch.
    const resumed = new RawStream(`${running.url}/events`, { 'Last-Event-ID': firstId });
    streams.push(resumed);
    await resumed.waitFor((s) => s.text.includes('catch_up_end'), 5000, 'catch_up_end');
    // Long enough (5 ms a character) to still be open at the first scrape.
    const typewriter = new RawStream(`${running.url}/api/stream?text=${'a'.repeat(400)}`);
    streams.push(typewriter);
    await typewriter.waitFor((s) => s.text.includes('"type":"chunk"'), 5000, 'typewriter chunk');
    // Both replay streams are quiet now: the shared tick pings them after SSE_HEARTBEAT_MS.
    await live.waitFor((s) => s.text.includes(': ping\n'), 5000, 'heartbeat');

    const m = await scrape();
    expect(m.get('rivulet_sse_open_streams{kind="replay"}')).toBe(2);
    expect(m.get('rivulet_sse_open_streams{kind="typewriter"}')).toBe(1);
    expect(m.get('rivulet_events_published_total')).toBe(2);
    expect(m.get('rivulet_events_replayed_total')).toBe(4);
    // The live stream got connected + 2 events; the typewriter its start and at least one chunk.
    expect(m.get('rivulet_events_delivered_total')).toBeGreaterThanOrEqual(5);
    expect(m.get('rivulet_sse_heartbeats_total')).toBeGreaterThanOrEqual(1);
    expect(m.get('rivulet_sse_streams_opened_total')).toBe(3);
    expect(m.get('rivulet_event_log_subscriptions')).toBe(2);

    // The typewriter stream completes by itself; closing the live one is a client close.
    await typewriter.waitFor((s) => s.ended, 5000, 'typewriter end');
    live.close();
    const deadline = Date.now() + 5000;
    let after = await scrape();
    while (
      after.get('rivulet_sse_streams_closed_total{reason="client"}') !== 1 &&
      Date.now() < deadline
    ) {
      after = await scrape();
    }
    expect(after.get('rivulet_sse_streams_closed_total{reason="client"}')).toBe(1);
    expect(after.get('rivulet_sse_streams_closed_total{reason="completed"}')).toBe(1);
    expect(after.get('rivulet_sse_open_streams{kind="replay"}')).toBe(1);
    // A kind seen once stays in the exposition at zero instead of vanishing.
    expect(after.get('rivulet_sse_open_streams{kind="typewriter"}')).toBe(0);
  });

  it('exposes the AI counters the AI module increments through AiMetrics', async () => {
    const metrics = running.app.get(AiMetrics);
    metrics.aiGenerationStarted();
    metrics.aiGenerationStarted();
    metrics.aiGenerationFinished('completed');
    metrics.aiGenerationFinished('aborted');
    metrics.aiUpstreamAborted('detached');
    const m = await scrape();
    expect(m.get('rivulet_ai_generations_started_total')).toBe(2);
    expect(m.get('rivulet_ai_generations_total{outcome="completed"}')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="aborted"}')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="failed"}')).toBe(0);
    expect(m.get('rivulet_ai_aborts_total{reason="detached"}')).toBe(1);
  });
});

describe('X-Request-Id', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp();
  });

  afterAll(() => running.close());

  it('echoes a well-formed incoming id', async () => {
    const res = await get(`${running.url}/health/live`, { 'X-Request-Id': 'edge-7f3a-0001' });
    expect(res.headers['x-request-id']).toBe('edge-7f3a-0001');
  });

  it('replaces a malformed id with a generated UUID', async () => {
    for (const bad of ['has space', 'a'.repeat(65), 'semi;colon', '{"json":1}']) {
      const res = await get(`${running.url}/health/live`, { 'X-Request-Id': bad });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('generates a different id for each request without one, on JSON errors and on streams too', async () => {
    const a = await get(`${running.url}/health/live`);
    const b = await get(`${running.url}/events?lastEventId=bad`);
    expect(b.status).toBe(400);
    const stream = new RawStream(`${running.url}/events`);
    try {
      await stream.waitFor((s) => s.status === 200, 5000, 'stream headers');
      const ids = [
        a.headers['x-request-id'],
        b.headers['x-request-id'],
        stream.headers['x-request-id'],
      ];
      for (const id of ids)
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Set(ids).size).toBe(3);
    } finally {
      stream.close();
    }
  });
});
