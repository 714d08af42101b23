import { RunningApp, startApp } from './support/app';
import { parseExposition } from './support/metrics';
import { get, request } from './support/http';
import { StreamReader } from './support/sse-client';

const CHAT = { messages: [{ role: 'user', content: 'What is SSE?' }] };

describe('AI metrics', () => {
  let running: RunningApp | undefined;
  const streams: StreamReader[] = [];

  const start = async (env: Record<string, string>) => {
    running = await startApp(env);
    return running;
  };
  const scrape = async (app: RunningApp) => parseExposition((await get(`${app.url}/metrics`)).body);
  const stream = (url: string) => {
    const s = new StreamReader(url, { method: 'POST', body: CHAT });
    streams.push(s);
    return s;
  };

  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    await running?.close();
    running = undefined;
  });

  it('counts a generation that completes: started 1, outcome completed 1, no abort', async () => {
    const app = await start({ AI_DEMO_TOKEN_MS: '0' });
    const s = stream(`${app.url}/api/ai/chat`);
    await s.waitForEnd();
    expect(s.dataFrames().at(-1)?.data).toEqual({ type: 'done' });
    const m = await scrape(app);
    expect(m.get('rivulet_ai_generations_started_total')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="completed"}')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="aborted"}')).toBe(0);
    expect(m.get('rivulet_ai_generations_total{outcome="failed"}')).toBe(0);
    for (const reason of ['cancelled', 'detached', 'shutdown']) {
      expect(m.get(`rivulet_ai_aborts_total{reason="${reason}"}`)).toBe(0);
    }
  });

  it('counts a cancelled generation once: outcome aborted 1, aborts{reason="cancelled"} 1', async () => {
    // One token every 10 s: the generation is still running when it is cancelled.
    const app = await start({ AI_DEMO_TOKEN_MS: '10000' });
    const s = stream(`${app.url}/api/ai/chat`);
    await s.waitFor((x) => x.dataFrames().length > 0, 10_000, 'start event');
    const id = s.dataFrames()[0]!.data.generationId!;
    expect((await request(`${app.url}/api/ai/chat/${id}`, 'DELETE')).status).toBe(202);
    // A second DELETE finds it finished: nothing more is counted.
    expect((await request(`${app.url}/api/ai/chat/${id}`, 'DELETE')).status).toBe(200);
    await s.waitForEnd();
    const m = await scrape(app);
    expect(m.get('rivulet_ai_generations_started_total')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="aborted"}')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="completed"}')).toBe(0);
    expect(m.get('rivulet_ai_aborts_total{reason="cancelled"}')).toBe(1);
    expect(m.get('rivulet_ai_aborts_total{reason="detached"}')).toBe(0);
  });

  it('counts a generation nobody reads after AI_DETACH_GRACE_MS as detached', async () => {
    const app = await start({ AI_DEMO_TOKEN_MS: '10000', AI_DETACH_GRACE_MS: '20' });
    const s = stream(`${app.url}/api/ai/chat`);
    await s.waitFor((x) => x.dataFrames().length > 0, 10_000, 'start event');
    s.close();
    let m = await scrape(app);
    for (let i = 0; i < 200 && m.get('rivulet_ai_aborts_total{reason="detached"}') !== 1; i++) {
      m = await scrape(app);
    }
    expect(m.get('rivulet_ai_aborts_total{reason="detached"}')).toBe(1);
    expect(m.get('rivulet_ai_generations_total{outcome="aborted"}')).toBe(1);
  });
});
