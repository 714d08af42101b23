import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import type { AddressInfo } from 'node:net';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.factory';
import { loadConfig } from '../src/config/app-config';
import { InMemoryEventLog } from '../src/event-log/in-memory-event-log';
import { MeteredEventLog } from '../src/event-log/metered-event-log';
import { DrainService } from '../src/lifecycle/drain.service';
import { RunningApp, startApp, TEST_ENV } from './support/app';
import { get } from './support/http';
import { StreamReader } from './support/sse-client';

/** An in-memory store whose reachability the test controls (the Redis-down case has its own suite). */
class SwitchableEventLog extends InMemoryEventLog {
  health: 'up' | 'down' | 'throws' = 'up';

  override isHealthy(): Promise<boolean> {
    if (this.health === 'throws') return Promise.reject(new Error('ECONNREFUSED'));
    return Promise.resolve(this.health === 'up');
  }
}

describe('health probes', () => {
  describe('with a healthy store', () => {
    let running: RunningApp;
    const streams: StreamReader[] = [];

    beforeEach(async () => {
      running = await startApp();
    });

    afterEach(async () => {
      streams.splice(0).forEach((s) => s.close());
      await running.close();
    });

    it('GET /health/live answers 200 with a terminus body', async () => {
      const res = await get(`${running.url}/health/live`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(res.body)).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
    });

    it('GET /health/ready answers 200 with the store and the drain state up', async () => {
      const res = await get(`${running.url}/health/ready`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({
        status: 'ok',
        info: { shutdown: { status: 'up' }, event_log: { status: 'up' } },
        error: {},
        details: { shutdown: { status: 'up' }, event_log: { status: 'up' } },
      });
    });

    it('while draining: not ready (503), still live, new streams refused with Retry-After, open streams kept', async () => {
      const open = new StreamReader(`${running.url}/events`);
      streams.push(open);
      await open.waitFor((s) => s.text.includes(': connected'), 5000, 'stream open');

      running.app.get(DrainService).beginDrain();

      const ready = await get(`${running.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({
        status: 'error',
        error: { shutdown: { status: 'down', message: expect.stringContaining('draining') } },
        info: { event_log: { status: 'up' } },
      });
      expect((await get(`${running.url}/health/live`)).status).toBe(200);

      const refused = await get(`${running.url}/events`);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('2'); // SSE_RETRY_MS=50 -> ceil(0.05) + 1
      expect(JSON.parse(refused.body)).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'This instance is shutting down; retry on another instance',
      });
      expect(open.ended).toBe(false);
    });

    it('app.close() ends open streams with a retry hint between SSE_RETRY_MS and twice that', async () => {
      const open = new StreamReader(`${running.url}/events`);
      streams.push(open);
      await open.waitFor((s) => s.text.includes(': connected'), 5000, 'stream open');
      const closing = running.close();
      await open.waitFor((s) => s.ended, 5000, 'stream end');
      await closing;
      const retry = /: shutdown\nretry: (\d+)\n\n$/.exec(open.text);
      expect(retry).not.toBeNull();
      expect(Number(retry![1])).toBeGreaterThanOrEqual(50);
      expect(Number(retry![1])).toBeLessThanOrEqual(100);
      running = await startApp(); // afterEach closes this one
    });
  });

  describe('when the store is unreachable', () => {
    let app: NestExpressApplication;
    let url: string;
    const store = new SwitchableEventLog(100);

    beforeAll(async () => {
      const config = loadConfig(TEST_ENV);
      const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
        .overrideProvider(MeteredEventLog)
        .useValue(new MeteredEventLog(store))
        .compile();
      app = moduleRef.createNestApplication<NestExpressApplication>({
        forceCloseConnections: true,
        bodyParser: false,
        bufferLogs: true,
      });
      app.useLogger(app.get(Logger));
      configureApp(app, config);
      await app.listen(0, '127.0.0.1');
      url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    });

    afterAll(() => app.close());

    it('turns readiness false while the store reports unhealthy or fails, and true again when it is back', async () => {
      expect((await get(`${url}/health/ready`)).status).toBe(200);

      store.health = 'down';
      const down = await get(`${url}/health/ready`);
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body)).toMatchObject({
        status: 'error',
        error: { event_log: { status: 'down', message: 'event log store unreachable' } },
        info: { shutdown: { status: 'up' } },
      });
      // Liveness does not depend on the store: restarting the process would not bring Redis back.
      expect((await get(`${url}/health/live`)).status).toBe(200);

      store.health = 'throws';
      expect((await get(`${url}/health/ready`)).status).toBe(503);

      store.health = 'up';
      expect((await get(`${url}/health/ready`)).status).toBe(200);
    });
  });
});
