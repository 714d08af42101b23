import { startApp, RunningApp } from './support/app';
import { get } from './support/http';
import { RecordingEventSource, StreamReader } from './support/sse-client';

describe('GET /api/stream (typewriter)', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const streams: StreamReader[] = [];

  beforeAll(async () => {
    running = await startApp({ TYPEWRITER_INTERVAL_MS: '2', TYPEWRITER_MAX_TEXT: '50' });
  });
  afterEach(() => {
    sources.splice(0).forEach((s) => s.close());
    streams.splice(0).forEach((s) => s.close());
  });
  afterAll(() => running.close());

  it('sends the contract headers and opens with retry and a comment before any event', async () => {
    const stream = new StreamReader(`${running.url}/api/stream?text=hi`);
    streams.push(stream);
    await stream.waitFor((s) => s.ended, 5000, 'end of stream');
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(stream.headers['cache-control']).toMatch(/no-cache/);
    expect(stream.headers['cache-control']).toMatch(/no-transform/);
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers.connection).toBe('keep-alive');
    expect(stream.text.startsWith('retry: 50\n: connected\n\n')).toBe(true);
  });

  it('types start, one chunk per character with id = index, then end', async () => {
    const es = new RecordingEventSource(
      `${running.url}/api/stream?text=${encodeURIComponent('Hé 👋')}`,
    );
    sources.push(es);
    await es.waitFor((e) => e.some((x) => x.json?.type === 'end'));
    es.close();
    const [start, ...rest] = es.events.map((x) => x.json);
    expect(start).toEqual({ type: 'start', message: expect.any(String), total: 4 });
    const chunks = rest.filter((x) => x.type === 'chunk');
    expect(chunks).toEqual([
      { type: 'chunk', char: 'H', index: 0, total: 4 },
      { type: 'chunk', char: 'é', index: 1, total: 4 },
      { type: 'chunk', char: ' ', index: 2, total: 4 },
      { type: 'chunk', char: '👋', index: 3, total: 4 },
    ]);
    expect(es.events.filter((x) => x.json.type === 'chunk').map((x) => x.lastEventId)).toEqual([
      '0',
      '1',
      '2',
      '3',
    ]);
    expect(rest[rest.length - 1]).toMatchObject({ type: 'end' });
  });

  it('resumes from the character after Last-Event-ID, without a second start', async () => {
    const es = new RecordingEventSource(`${running.url}/api/stream?text=abcdef`, {
      headers: { 'Last-Event-ID': '2' },
    });
    sources.push(es);
    await es.waitFor((e) => e.some((x) => x.json?.type === 'end'));
    es.close();
    expect(es.events.map((x) => x.json.char ?? x.json.type)).toEqual(['d', 'e', 'f', 'end']);
  });

  it('answers 204 once the text is complete, so EventSource stops reconnecting', async () => {
    const res = await get(`${running.url}/api/stream?text=abc`, { 'Last-Event-ID': '2' });
    expect(res.status).toBe(204);
    // The real client: after `end` the server closes; the automatic reconnect gets 204 and stops.
    const es = new RecordingEventSource(`${running.url}/api/stream?text=ab`);
    sources.push(es);
    await es.waitFor(
      () => es.source.readyState === es.source.CLOSED,
      5000,
      'EventSource to give up',
    );
    expect(es.events.map((x) => x.json.type)).toEqual(['start', 'chunk', 'chunk', 'end']);
  });

  it('restarts with a reset for an index beyond the text', async () => {
    const es = new RecordingEventSource(`${running.url}/api/stream?text=ab`, {
      headers: { 'Last-Event-ID': '99' },
    });
    sources.push(es);
    await es.waitFor((e) => e.some((x) => x.json?.type === 'end'));
    expect(es.events.map((x) => x.json.type)).toEqual(['reset', 'start', 'chunk', 'chunk', 'end']);
  });

  it.each([
    ['an empty text', '?text=', /text must not be empty/],
    ['a text over TYPEWRITER_MAX_TEXT', `?text=${'x'.repeat(51)}`, /at most 50 characters/],
    ['a repeated text', '?text=a&text=b', /text must be given once/],
    ['a malformed Last-Event-ID', '?text=a&lastEventId=nope', /Last-Event-ID/],
  ])('rejects %s with a 400 JSON error', async (_what, query, message) => {
    const res = await get(`${running.url}/api/stream${query}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringMatching(message),
    });
  });
});
