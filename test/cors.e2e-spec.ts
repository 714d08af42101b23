import { startApp, RunningApp } from './support/app';
import { request } from './support/http';

describe('CORS', () => {
  describe('with exact origins and credentials', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startApp({
        CORS_ORIGINS: 'https://app.example,http://localhost:5173',
        CORS_CREDENTIALS: 'true',
      });
    });
    afterAll(() => running.close());

    it('answers a preflight from an allowed origin, allowing Last-Event-ID and Authorization', async () => {
      const res = await request(`${running.url}/events`, 'OPTIONS', {
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers':
            'last-event-id,authorization,cache-control,content-type',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(',');
      expect(allowed).toEqual(
        expect.arrayContaining(['last-event-id', 'authorization', 'cache-control', 'content-type']),
      );
      expect(res.headers.vary).toMatch(/Origin/);
    });

    it('gives a disallowed origin no Access-Control-Allow-Origin, on preflight and on the stream', async () => {
      const preflight = await request(`${running.url}/events`, 'OPTIONS', {
        headers: {
          Origin: 'https://evil.example',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'last-event-id',
        },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const simple = await request(`${running.url}/api/stream?text=a`, 'GET', {
        headers: {
          Origin: 'https://app.example.evil.com',
        },
      });
      expect(simple.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('puts the allowed origin on the event stream itself', async () => {
      const res = await request(`${running.url}/api/stream?text=ab`, 'GET', {
        headers: {
          Origin: 'http://localhost:5173',
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(res.headers['access-control-expose-headers']).toMatch(/Retry-After/);
    });
  });

  describe('with "*" and no credentials', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startApp({ CORS_ORIGINS: '*' });
    });
    afterAll(() => running.close());

    it('allows any origin without credentials', async () => {
      const res = await request(`${running.url}/events`, 'OPTIONS', {
        headers: {
          Origin: 'https://anywhere.example',
          'Access-Control-Request-Method': 'GET',
        },
      });
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    });
  });

  describe('with no CORS_ORIGINS (same-origin only)', () => {
    let running: RunningApp;
    beforeAll(async () => {
      running = await startApp({});
    });
    afterAll(() => running.close());

    it('allows no cross-origin caller', async () => {
      const res = await request(`${running.url}/events`, 'OPTIONS', {
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'GET',
        },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    });
  });
});
