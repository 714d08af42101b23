import { randomUUID } from 'node:crypto';
import { GenerationService } from '../src/ai/generation.service';
import { HttpStream } from './support/ai-client';
import { RunningApp, startApp } from './support/app';
import { JsonResponse, mintToken, request } from './support/http';

const SECRET = 'e2e-ai-access-secret-0123456789abcdef';
const CHAT = { messages: [{ role: 'user', content: 'What is SSE?' }] };

describe('access to AI generations with AUTH_JWT_SECRET', () => {
  let running: RunningApp | undefined;
  const streams: HttpStream[] = [];

  const start = async (env: Record<string, string> = {}) => {
    running = await startApp(env);
    return running;
  };
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const stream = (url: string, options?: ConstructorParameters<typeof HttpStream>[1]) => {
    const s = new HttpStream(url, options);
    streams.push(s);
    return s;
  };
  /** Starts a generation with POST and returns its id once the `start` event arrived. */
  const startGeneration = async (app: RunningApp, token: string) => {
    const s = stream(`${app.url}/api/ai/chat`, {
      method: 'POST',
      body: CHAT,
      headers: bearer(token),
    });
    await s.waitFor((x) => x.frames().length > 0, 10_000, 'start event');
    expect(s.status).toBe(200);
    return { stream: s, id: s.frames()[0]!.data.generationId! };
  };
  const expectError = (res: JsonResponse, status: number) => {
    expect(res.status).toBe(status);
    expect(String(res.headers['content-type'])).toMatch(/application\/json/);
    expect(res.json).toMatchObject({ statusCode: status, message: expect.any(String) });
  };

  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    await running?.close();
    running = undefined;
  });

  describe('with a secret', () => {
    // Slow demo tokens: generations are still running while the test reads and cancels them.
    const env = { AUTH_JWT_SECRET: SECRET, AI_DEMO_TOKEN_MS: '10000' };

    it('answers 401 without a token on every AI endpoint, before any stream or generation', async () => {
      const app = await start(env);
      const id = randomUUID();
      expectError(await request(`${app.url}/api/ai/chat?message=hi`, 'GET'), 401);
      expectError(await request(`${app.url}/api/ai/chat`, 'POST', { body: CHAT }), 401);
      expectError(await request(`${app.url}/api/ai/chat/${id}`, 'GET'), 401);
      expectError(await request(`${app.url}/api/ai/chat/${id}`, 'DELETE'), 401);
      const forged = await mintToken('another-secret-0123456789abcdef', {
        sub: 'ann',
        publish: ['ai:*'],
      });
      expectError(
        await request(`${app.url}/api/ai/chat`, 'POST', { body: CHAT, headers: bearer(forged) }),
        401,
      );
      expect(app.app.get(GenerationService).runningCount).toBe(0);
    });

    it('answers 403 to a token whose publish scope does not cover every ai: topic', async () => {
      const app = await start(env);
      for (const publish of [[], ['chat:*'], [`ai:${randomUUID()}`], ['ai:0*']]) {
        const token = await mintToken(SECRET, { sub: 'ann', subscribe: ['*'], publish });
        expectError(
          await request(`${app.url}/api/ai/chat`, 'POST', { body: CHAT, headers: bearer(token) }),
          403,
        );
        expectError(
          await request(`${app.url}/api/ai/chat?message=hi&access_token=${token}`, 'GET'),
          403,
        );
      }
      expect(app.app.get(GenerationService).runningCount).toBe(0);
    });

    it('lets the owner resume and cancel with no subscribe scope, and keeps the owner off the wire', async () => {
      const app = await start(env);
      const ann = await mintToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
      const { stream: first, id } = await startGeneration(app, ann);
      expect(first.frames()[0]!.data).toEqual({ type: 'start', generationId: id });
      const startId = first.frames()[0]!.id!;

      const byId = stream(`${app.url}/api/ai/chat/${id}`, { headers: bearer(ann) });
      await byId.waitFor((x) => x.frames().length > 0, 10_000, 'replayed start');
      expect(byId.status).toBe(200);
      expect(byId.frames()[0]!.data).toEqual({ type: 'start', generationId: id });

      // The seed reconnect: same URL, Last-Event-ID, the token in the query (EventSource style).
      const seed = stream(`${app.url}/api/ai/chat?message=x&access_token=${ann}`);
      await seed.waitFor((x) => x.frames().length > 0, 10_000, 'seed start');
      const seedId = seed.frames()[0]!.data.generationId!;
      const seedStartId = seed.frames()[0]!.id!;
      const reconnect = stream(`${app.url}/api/ai/chat?message=x&access_token=${ann}`, {
        headers: { 'Last-Event-ID': seedStartId },
      });
      const other = await mintToken(SECRET, { sub: 'bob', publish: ['ai:*'] });
      const stranger = await request(
        `${app.url}/api/ai/chat?message=x&access_token=${other}`,
        'GET',
        {
          headers: { 'Last-Event-ID': seedStartId },
        },
      );
      // "Not yours" is answered exactly like "nobody asked that": the reconnect reveals nothing.
      expectError(stranger, 404);
      const nobody = await request(
        `${app.url}/api/ai/chat?message=never%20asked&access_token=${other}`,
        'GET',
        { headers: { 'Last-Event-ID': seedStartId } },
      );
      expectError(nobody, 404);
      expect(stranger.json).toEqual(nobody.json);
      expect(startId).not.toBe(seedStartId);

      expect(
        (await request(`${app.url}/api/ai/chat/${seedId}`, 'DELETE', { headers: bearer(ann) }))
          .status,
      ).toBe(202);
      await reconnect.waitForEnd();
      expect(reconnect.status).toBe(200);
      expect(reconnect.frames().map((f) => f.data)).toEqual([
        { type: 'error', message: 'cancelled', reason: 'cancelled' },
      ]);
    });

    it('refuses another user without scope (403), and grants subscribe / publish scopes on ai:<id>', async () => {
      const app = await start(env);
      const ann = await mintToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
      const { id } = await startGeneration(app, ann);
      const url = `${app.url}/api/ai/chat/${id}`;

      const bob = await mintToken(SECRET, {
        sub: 'bob',
        subscribe: ['chat:*'],
        publish: ['chat:*'],
      });
      expectError(await request(url, 'GET', { headers: bearer(bob) }), 403);
      expectError(await request(url, 'DELETE', { headers: bearer(bob) }), 403);
      // A service token (no sub) is never an owner.
      const service = await mintToken(SECRET, { publish: ['chat:*'] });
      expectError(await request(url, 'GET', { headers: bearer(service) }), 403);
      // Another user's unknown generation: 403 before anything says whether it exists.
      expectError(
        await request(`${app.url}/api/ai/chat/${randomUUID()}`, 'GET', { headers: bearer(bob) }),
        403,
      );

      const reader = await mintToken(SECRET, { sub: 'carol', subscribe: [`ai:${id}`] });
      const read = stream(url, { headers: bearer(reader) });
      await read.waitFor((x) => x.frames().length > 0, 10_000, 'reader start');
      expect(read.status).toBe(200);
      // Reading is not cancelling.
      expectError(await request(url, 'DELETE', { headers: bearer(reader) }), 403);

      // Publish scopes never reach someone else's generation: `ai:*` is what every starter holds.
      for (const publish of [['ai:*'], [`ai:${id}`], ['*']]) {
        const starter = await mintToken(SECRET, { sub: 'dave', publish, subscribe: ['*'] });
        expectError(await request(url, 'DELETE', { headers: bearer(starter) }), 403);
      }
      expect(app.app.get(GenerationService).runningCount).toBe(1);

      const admin = await mintToken(SECRET, { sub: 'erin', admin: true });
      expect((await request(url, 'DELETE', { headers: bearer(admin) })).status).toBe(202);
      await read.waitForEnd();
      expect(read.frames().at(-1)?.data).toMatchObject({ type: 'error', reason: 'cancelled' });
    });

    it("lets an admin token read another user's generation without a subscribe scope", async () => {
      const app = await start(env);
      const ann = await mintToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
      const { id } = await startGeneration(app, ann);
      const url = `${app.url}/api/ai/chat/${id}`;
      const notAdmin = await mintToken(SECRET, { sub: 'erin', admin: false });
      expectError(await request(url, 'GET', { headers: bearer(notAdmin) }), 403);
      const admin = await mintToken(SECRET, { sub: 'erin', admin: true });
      const read = stream(url, { headers: bearer(admin) });
      await read.waitFor((x) => x.frames().length > 0, 10_000, 'admin start');
      expect(read.status).toBe(200);
    });

    it("never puts the owner in a generation's events, whoever reads the topic", async () => {
      const app = await start(env);
      const ann = await mintToken(SECRET, { sub: 'ann-the-owner', publish: ['ai:*'] });
      const { id } = await startGeneration(app, ann);
      // A subscriber of every ai: topic, through the generic multiplexed endpoint.
      const watcher = await mintToken(SECRET, { sub: 'bob', subscribe: ['ai:*'] });
      const raw = stream(`${app.url}/api/events?topic=ai:${id}`, {
        headers: { ...bearer(watcher), 'Last-Event-ID': '0' },
      });
      await raw.waitFor((x) => x.frames().length > 0, 10_000, 'raw start');
      expect(raw.status).toBe(200);
      const startFrame = raw.frames().find((f) => (f.data as { type?: string }).type === 'start');
      expect(startFrame?.data).toMatchObject({ topic: `ai:${id}`, type: 'start' });
      expect(JSON.stringify(raw.frames())).not.toContain('ann-the-owner');
      // The owner is still known where it is needed: ann may cancel, bob may not.
      const url = `${app.url}/api/ai/chat/${id}`;
      expectError(await request(url, 'DELETE', { headers: bearer(watcher) }), 403);
      expect((await request(url, 'DELETE', { headers: bearer(ann) })).status).toBe(202);
    });

    it("refuses a publisher writing into a generation's topic through the generic endpoint", async () => {
      const app = await start(env);
      const ann = await mintToken(SECRET, { sub: 'ann', publish: ['ai:*'] });
      const { stream: first, id } = await startGeneration(app, ann);
      const mallory = await mintToken(SECRET, { sub: 'mallory', publish: ['ai:*'] });
      const forged = { type: 'error', data: { type: 'error', message: 'x', reason: 'cancelled' } };
      expectError(
        await request(`${app.url}/api/events/ai:${id}`, 'POST', {
          body: forged,
          headers: bearer(mallory),
        }),
        400, // ai: topics are written by the AI endpoints only
      );
      // Control: the same body to an ordinary topic is accepted (the refusal is about ai:).
      const other = await mintToken(SECRET, { sub: 'mallory', publish: ['news'] });
      const ok = await request(`${app.url}/api/events/news`, 'POST', {
        body: forged,
        headers: bearer(other),
      });
      expect(ok.status).toBe(202);
      expect(app.app.get(GenerationService).runningCount).toBe(1);
      expect(first.frames().every((f) => f.data.type !== 'error')).toBe(true);
    });
  });

  describe('in open mode (no AUTH_JWT_SECRET)', () => {
    it('needs no token to start, read and cancel, and ignores one', async () => {
      const app = await start({ AI_DEMO_TOKEN_MS: '10000' });
      const s = stream(`${app.url}/api/ai/chat`, {
        method: 'POST',
        body: CHAT,
        headers: bearer('garbage'),
      });
      await s.waitFor((x) => x.frames().length > 0, 10_000, 'start event');
      const id = s.frames()[0]!.data.generationId!;
      const read = stream(`${app.url}/api/ai/chat/${id}`);
      await read.waitFor((x) => x.frames().length > 0, 10_000, 'reader start');
      expect(read.status).toBe(200);
      expect((await request(`${app.url}/api/ai/chat/${id}`, 'DELETE')).status).toBe(202);
      await read.waitForEnd();
    });
  });

  it('answers 503 with Retry-After past AI_MAX_GENERATIONS', async () => {
    const app = await start({ AI_DEMO_TOKEN_MS: '10000', AI_MAX_GENERATIONS: '1' });
    const s = stream(`${app.url}/api/ai/chat`, { method: 'POST', body: CHAT });
    await s.waitFor((x) => x.frames().length > 0, 10_000, 'start event');
    const refused = await request(`${app.url}/api/ai/chat`, 'POST', { body: CHAT });
    expectError(refused, 503);
    expect(refused.headers['retry-after']).toBe('2'); // SSE_RETRY_MS=50 in tests: ceil(0.05) + 1
  });
});
