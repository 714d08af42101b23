import { DurableStream, IdempotentProducer, type JsonBatch } from '@durable-streams/client';
import { AppProcess, buildAppOnce } from './support/app-process';
import { startApp, type RunningApp } from './support/app';
import { mintToken } from './support/http';
import { RedisServer } from './support/redis';
import { startTopology, type Topology } from './support/topology';

/**
 * The published Durable Streams client (@durable-streams/client, its own code) against real Rivulet
 * processes: across two instances on one Redis, through a kill -9 of the instance it was reading
 * from, in long-poll mode through the project nginx; and the access model on /v1/stream/*.
 * (The protocol's conformance suite itself runs under vitest: test/conformance/.)
 */

const DURABLE_ENV = { DURABLE_LONG_POLL_MS: '2000', TICKER_INTERVAL_MS: '0' };

/** Collects JSON items from a live client session until `count` arrived (or the test times out). */
function collect<T>(
  session: Awaited<ReturnType<DurableStream['stream']>>,
  count: number,
): { items: T[]; offsets: string[]; done: Promise<void> } {
  const items: T[] = [];
  const offsets: string[] = [];
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  session.subscribeJson<T>((batch: JsonBatch<T>) => {
    items.push(...batch.items);
    offsets.push(batch.offset);
    if (items.length >= count) release();
  });
  return { items, offsets, done };
}

describe('Durable Streams with the official client', () => {
  describe('two instances on one Redis', () => {
    let redis: RedisServer;
    let a: AppProcess;
    let b: AppProcess;

    beforeAll(async () => {
      redis = await RedisServer.start();
      const entry = await buildAppOnce();
      const env = { ...DURABLE_ENV, STORE: 'redis', REDIS_URL: redis.url };
      a = await AppProcess.create(entry, env);
      b = await AppProcess.create(entry, env);
      await Promise.all([a.start(), b.start()]);
    }, 120_000);

    afterAll(async () => {
      await a?.stop();
      await b?.stop();
      await redis?.stop();
    });

    it('appends on A are read on B: catch-up, then live over SSE', async () => {
      const path = `/v1/stream/chat/room-${Date.now()}`;
      const writer = await DurableStream.create({
        url: `${a.url}${path}`,
        contentType: 'application/json',
      });
      await writer.append(JSON.stringify({ n: 1 }));
      await writer.append(JSON.stringify({ n: 2 }));

      const reader = new DurableStream({ url: `${b.url}${path}` });
      const caughtUp = await reader.stream<{ n: number }>({ live: false });
      expect(await caughtUp.json()).toEqual([{ n: 1 }, { n: 2 }]);
      const saved = caughtUp.offset;

      const live = await reader.stream<{ n: number }>({ offset: saved, live: 'sse' });
      const got = collect<{ n: number }>(live, 2);
      await writer.append(JSON.stringify({ n: 3 }));
      await writer.append(JSON.stringify({ n: 4 }));
      await got.done;
      live.cancel();
      // Live on B, exactly what A appended after the saved offset: no gap, no duplicate.
      expect(got.items).toEqual([{ n: 3 }, { n: 4 }]);
      expect(live.live).toBe('sse');
    }, 30_000);

    it('an idempotent producer on A is deduplicated, and B reads each message once', async () => {
      const path = `/v1/stream/orders/producer-${Date.now()}`;
      const stream = await DurableStream.create({
        url: `${a.url}${path}`,
        contentType: 'application/json',
      });
      const producer = new IdempotentProducer(stream, 'order-service-1', { lingerMs: 0 });
      for (let i = 0; i < 5; i++) producer.append(JSON.stringify({ i }));
      await producer.flush();
      // A retry of a batch the server already has (same producer, epoch and sequence): 204, no copy.
      const retry = await fetch(`${a.url}${path}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Producer-Id': 'order-service-1',
          'Producer-Epoch': '0',
          'Producer-Seq': '0',
        },
        body: JSON.stringify([{ i: 0 }]),
      });
      expect(retry.status).toBe(204);
      await producer.close();
      const onB = new DurableStream({ url: `${b.url}${path}` });
      const res = await onB.stream<{ i: number }>({ live: false });
      expect(await res.json()).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
      expect(res.streamClosed).toBe(true);
    }, 30_000);

    it('resumes from a saved offset on A after B, the instance it read from, is killed (kill -9)', async () => {
      const path = `/v1/stream/jobs/resume-${Date.now()}`;
      const writer = await DurableStream.create({
        url: `${a.url}${path}`,
        contentType: 'application/json',
      });
      await writer.append(JSON.stringify({ step: 1 }));

      const onB = await new DurableStream({ url: `${b.url}${path}` }).stream<{ step: number }>({
        live: 'sse',
      });
      const first = collect<{ step: number }>(onB, 2);
      await writer.append(JSON.stringify({ step: 2 }));
      await first.done;
      const saved = first.offsets[first.offsets.length - 1]!;
      onB.cancel();

      expect(await b.stop('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
      await writer.append(JSON.stringify({ step: 3 }));
      await writer.append(JSON.stringify({ step: 4 }));

      // Negative control: B is really gone.
      await expect(fetch(`${b.url}${path}`)).rejects.toThrow();
      const resumed = await new DurableStream({ url: `${a.url}${path}` }).stream<{ step: number }>({
        offset: saved,
        live: false,
      });
      expect(first.items).toEqual([{ step: 1 }, { step: 2 }]);
      expect(await resumed.json()).toEqual([{ step: 3 }, { step: 4 }]);
      await b.start();
      // The restarted instance serves the same stream from the same offsets (state lives in Redis).
      const again = await new DurableStream({ url: `${b.url}${path}` }).stream<{ step: number }>({
        offset: saved,
        live: false,
      });
      expect(await again.json()).toEqual([{ step: 3 }, { step: 4 }]);
    }, 60_000);
  });

  describe('through the project nginx, two replicas on Redis', () => {
    let redis: RedisServer;
    let topology: Topology;

    beforeAll(async () => {
      redis = await RedisServer.start();
      topology = await startTopology({
        replicas: 2,
        env: { ...DURABLE_ENV, STORE: 'redis', REDIS_URL: redis.url },
      });
    }, 120_000);

    afterAll(async () => {
      await topology?.stop();
      await redis?.stop();
    });

    it('reads live in long-poll mode through nginx (least_conn spreads the polls over both replicas)', async () => {
      const url = `${topology.url}/v1/stream/feed/longpoll-${Date.now()}`;
      const stream = await DurableStream.create({ url, contentType: 'application/json' });
      await stream.append(JSON.stringify({ k: 'a' }));
      const session = await stream.stream<{ k: string }>({ live: 'long-poll' });
      const got = collect<{ k: string }>(session, 4);
      for (const k of ['b', 'c', 'd']) await stream.append(JSON.stringify({ k }));
      await got.done;
      session.cancel();
      expect(got.items).toEqual(['a', 'b', 'c', 'd'].map((k) => ({ k })));
      expect(session.live).toBe('long-poll');
      // Offsets only move forward, whichever replica answered.
      expect([...got.offsets].sort()).toEqual(got.offsets);
    }, 30_000);
  });

  describe('access', () => {
    const SECRET = 'durable-streams-test-secret-0123456789abcdef';
    let app: RunningApp;

    beforeAll(async () => {
      app = await startApp({ AUTH_JWT_SECRET: SECRET, PUBLIC_STREAMS: 'public/*' });
    });

    afterAll(async () => {
      await app?.close();
    });

    it('a token scoped to orders/* reads /v1/stream/orders/1 and gets 403 on /v1/stream/payroll/1', async () => {
      const writer = await mintToken(SECRET, {
        sub: 'svc',
        streams: { write: ['orders/*', 'payroll/*'] },
      });
      const reader = await mintToken(SECRET, { sub: 'ann', streams: { read: ['orders/*'] } });
      for (const path of ['orders/1', 'payroll/1']) {
        const created = await fetch(`${app.url}/v1/stream/${path}`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'text/plain' },
          body: `data of ${path}`,
        });
        expect(created.status).toBe(201);
      }
      const client = (path: string) =>
        new DurableStream({
          url: `${app.url}/v1/stream/${path}`,
          headers: { Authorization: `Bearer ${reader}` },
        });
      const orders = await client('orders/1').stream({ live: false });
      expect(await orders.text()).toBe('data of orders/1');
      await expect(client('payroll/1').stream({ live: false })).rejects.toMatchObject({
        status: 403,
      });

      const payroll = await fetch(`${app.url}/v1/stream/payroll/1`, {
        headers: { Authorization: `Bearer ${reader}` },
      });
      expect(payroll.status).toBe(403);
      expect(await payroll.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      // Reading does not grant writing.
      const append = await fetch(`${app.url}/v1/stream/orders/1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${reader}`, 'Content-Type': 'text/plain' },
        body: 'not allowed',
      });
      expect(append.status).toBe(403);
    });

    it('401 without a token, before the body is read or a live read starts; public patterns need none', async () => {
      const huge = 'x'.repeat(5 * 1024 * 1024);
      const put = await fetch(`${app.url}/v1/stream/orders/2`, {
        method: 'PUT',
        headers: { 'Content-Type': 'text/plain' },
        body: huge,
      });
      // Not 413: the access check answered before the (oversized) body was looked at.
      expect(put.status).toBe(401);
      const sse = await fetch(`${app.url}/v1/stream/orders/1?offset=-1&live=sse`);
      expect(sse.status).toBe(401);
      expect(sse.headers.get('content-type')).toContain('application/json');

      const writer = await mintToken(SECRET, { sub: 'svc', streams: { write: ['public/*'] } });
      await fetch(`${app.url}/v1/stream/public/news`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'text/plain' },
        body: 'hello',
      });
      const anonymous = await fetch(`${app.url}/v1/stream/public/news`);
      expect(anonymous.status).toBe(200);
      expect(await anonymous.text()).toBe('hello');
      // Public means readable, never writable.
      const anonymousWrite = await fetch(`${app.url}/v1/stream/public/news`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/plain' },
        body: 'spam',
      });
      expect(anonymousWrite.status).toBe(401);
    });

    it('a forged token is 401 and a body over DURABLE_MAX_BODY_BYTES is 413 (never truncated)', async () => {
      const forged = await mintToken('another-secret-0123456789abcdef0123', {
        streams: { read: ['*'] },
      });
      const res = await fetch(`${app.url}/v1/stream/orders/1`, {
        headers: { Authorization: `Bearer ${forged}` },
      });
      expect(res.status).toBe(401);

      const writer = await mintToken(SECRET, {
        sub: 'svc',
        streams: { write: ['orders/*'], read: ['orders/*'] },
      });
      const tooBig = await fetch(`${app.url}/v1/stream/orders/1`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'text/plain' },
        body: 'y'.repeat(app.config.durable.maxBodyBytes + 1),
      });
      expect(tooBig.status).toBe(413);
      const after = await fetch(`${app.url}/v1/stream/orders/1`, {
        headers: { Authorization: `Bearer ${writer}` },
      });
      expect(await after.text()).toBe('data of orders/1');
    });
  });
});
