import { GenerationService } from '../src/ai/generation.service';
import { HttpStream } from './support/ai-client';
import { RunningApp, startApp } from './support/app';
import { AppProcess, buildAppOnce, ProcessExit } from './support/app-process';
import { post, request, waitUntil } from './support/http';
import { RedisServer } from './support/redis';
import { RecordingEventSource } from './support/sse-client';

/**
 * A store that fails, restarts or comes back empty never leaves a client hanging or misled: real
 * processes, real Redis servers killed and restarted, the real EventSource client.
 */

jest.setTimeout(90_000);

let entry = '';
beforeAll(async () => {
  entry = await buildAppOnce();
}, 120_000);

const sources: RecordingEventSource[] = [];
const open = (url: string, headers?: Record<string, string>) => {
  const source = new RecordingEventSource(url, headers ? { headers } : undefined);
  sources.push(source);
  return source;
};
afterEach(() => sources.splice(0).forEach((s) => s.close()));

/** Publishes `count` events to `topic`, numbered from `from`; returns their ids. */
async function publish(url: string, topic: string, from: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < from + count; n++) {
    const res = await post(`${url}/api/events/${topic}`, { data: { n } });
    expect(res.status).toBe(202);
    ids.push(res.json.id as string);
  }
  return ids;
}

/** The `n` of each data event a topic stream delivered, and any reset before them. */
const seen = (source: RecordingEventSource) =>
  source.events.map((e) => (e.json.type === 'reset' ? `reset:${e.json.reason}` : e.json.data.n));

const numeric = (ids: string[]) => ids.map((id) => BigInt(id));

describe('ids survive restarts: an id from before is answered with a reset, never a silent skip', () => {
  const resumeAfterRestart = async (
    url: string,
    before: string[],
    after: string[],
  ): Promise<RecordingEventSource> => {
    // Every new id is above every old one: ids keep increasing across the restart.
    expect(numeric(after)[0]! > numeric(before).at(-1)!).toBe(true);
    const resumed = open(`${url}/api/events?topic=t`, { 'Last-Event-ID': before[1]! });
    await resumed.waitFor((events) => events.length === after.length + 1);
    return resumed;
  };

  it('memory store: a real process restarted', async () => {
    const app = await AppProcess.create(entry, { STORE: 'memory' });
    try {
      await app.start();
      const before = await publish(app.url, 't', 1, 3);
      await app.stop();
      await app.start();
      const after = await publish(app.url, 't', 101, 3);
      const resumed = await resumeAfterRestart(app.url, before, after);
      // Without epochs, id before[1] would read as "after 2 of the new ones": only 103 would come.
      expect(seen(resumed)).toEqual(['reset:history_truncated', 101, 102, 103]);
      expect(resumed.events.slice(1).map((e) => e.lastEventId)).toEqual(after);
      // Control: a client that holds the newest id gets no reset and nothing again.
      const current = open(`${app.url}/api/events?topic=t`, { 'Last-Event-ID': after.at(-1)! });
      await current.waitForOpen();
      await publish(app.url, 't', 104, 1);
      await current.waitFor((events) => events.length === 1);
      expect(seen(current)).toEqual([104]);
    } finally {
      await app.stop();
    }
  });

  describe('Redis store', () => {
    let redis: RedisServer;
    beforeEach(async () => (redis = await RedisServer.start()));
    afterEach(() => redis.dispose());

    it('Redis wiped (restarted without persistence) under a running instance', async () => {
      const running = await startApp({ STORE: 'redis', REDIS_URL: redis.url });
      try {
        const before = await publish(running.url, 't', 1, 3);
        await redis.restart('SIGKILL'); // appendonly no: it comes back empty
        let after: string[] = [];
        // Appends fail with 503 until the instance has reconnected; then they go through.
        for (;;) {
          const res = await post(`${running.url}/api/events/t`, { data: { n: 101 } });
          if (res.status === 202) {
            after = [res.json.id as string];
            break;
          }
          expect(res.status).toBe(503);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        after.push(...(await publish(running.url, 't', 102, 2)));
        const resumed = await resumeAfterRestart(running.url, before, after);
        expect(seen(resumed)).toEqual(['reset:history_truncated', 101, 102, 103]);
      } finally {
        await running.close();
      }
    });

    it('Redis wiped while the instance was down too (a real process restarted)', async () => {
      const app = await AppProcess.create(entry, { STORE: 'redis', REDIS_URL: redis.url });
      try {
        await app.start();
        const before = await publish(app.url, 't', 1, 3);
        await app.stop();
        await redis.restart('SIGKILL');
        await app.start();
        const after = await publish(app.url, 't', 101, 3);
        const resumed = await resumeAfterRestart(app.url, before, after);
        expect(seen(resumed)).toEqual(['reset:history_truncated', 101, 102, 103]);
        // Control: the same store, not wiped, resumes exactly (no reset).
        const exact = open(`${app.url}/api/events?topic=t`, { 'Last-Event-ID': after[0]! });
        await exact.waitFor((events) => events.length === 2);
        expect(seen(exact)).toEqual([102, 103]);
      } finally {
        await app.stop();
      }
    });
  });
});

describe('SIGTERM with Redis down', () => {
  it('exits 0 within SHUTDOWN_GRACE_MS, with a stream open and the store unreachable', async () => {
    const redis = await RedisServer.start();
    const graceMs = 2000;
    const app = await AppProcess.create(entry, {
      STORE: 'redis',
      REDIS_URL: redis.url,
      SHUTDOWN_GRACE_MS: String(graceMs),
    });
    try {
      await app.start();
      const stream = open(`${app.url}/api/events?topic=t`);
      await stream.waitForOpen();
      await redis.stop('SIGKILL');
      // Readiness false: the instance knows the store is gone (its reader is reconnecting).
      for (;;) {
        const ready = await request(`${app.url}/health/ready`, 'GET');
        if (ready.status === 503) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // A bound far above the grace, so only a hang (the bug) fails this, never a slow machine.
      const exit = await Promise.race([
        app.stop('SIGTERM'),
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000).unref()),
      ]);
      expect(exit).toEqual<ProcessExit>({ code: 0, signal: null });
    } finally {
      await app.stop('SIGKILL');
      await redis.dispose();
    }
  });
});

describe('an AI generation when Redis fails mid-answer', () => {
  let redis: RedisServer;
  let running: RunningApp | undefined;
  beforeEach(async () => (redis = await RedisServer.start({ persistent: true })));
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await redis.dispose();
  });

  it('ends with a terminal error naming the store once Redis is back, for live and later readers', async () => {
    running = await startApp({ STORE: 'redis', REDIS_URL: redis.url, AI_DEMO_TOKEN_MS: '200' });
    const app = running;
    const live = new HttpStream(`${app.url}/api/ai/chat`, {
      method: 'POST',
      body: { messages: [{ role: 'user', content: 'Tell me about SSE' }] },
    });
    try {
      await live.waitFor((x) => x.frames().length >= 4, 20_000, 'start and three chunks');
      const generationId = live.frames()[0]!.data.generationId!;
      await redis.stop('SIGKILL');
      // The generation stops where the store failed (its next chunk cannot be written).
      const generations = app.app.get(GenerationService);
      await waitUntil(() => generations.runningCount === 0, 'the generation to stop', 20_000);
      expect(live.frames().some((f) => ['done', 'error'].includes(f.data.type))).toBe(false);
      await redis.start(); // from its append-only file: everything written before is there

      await live.waitForEnd(30_000);
      const terminal = live.frames().at(-1)!.data;
      expect(terminal).toMatchObject({ type: 'error', reason: 'store' });
      expect(terminal.message).toMatch(/store/);
      expect(terminal.message).not.toMatch(/AI provider/);

      // A reader from the start gets the whole answer up to there, then the same end.
      const later = new HttpStream(`${app.url}/api/ai/chat/${generationId}`);
      try {
        await later.waitForEnd(20_000);
        const types = later.frames().map((f) => f.data.type);
        expect(types[0]).toBe('start');
        expect(types.at(-1)).toBe('error');
        expect(types.filter((t) => t === 'error' || t === 'done')).toHaveLength(1);
        expect(later.frames().at(-1)!.data).toEqual(terminal);
      } finally {
        later.close();
      }
    } finally {
      live.close();
    }
  });
});
