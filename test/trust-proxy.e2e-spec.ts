import { RunningApp, startApp } from './support/app';
import { request } from './support/http';
import { startNginx, type RunningNginx } from './support/nginx';
import { StreamReader, type StreamRequest } from './support/sse-client';

/**
 * Who the client is (TRUST_PROXY), what the proxy lets through (/metrics), what it writes down
 * (access tokens) and how every answer is typed (nosniff): the real app, alone and behind the
 * project's real nginx. Loopback has many addresses: a client that binds 127.0.0.2 is a different
 * client from nginx on 127.0.0.1, and nginx's `allow 127.0.0.1` does not cover it.
 */

jest.setTimeout(30_000);

const opened: StreamReader[] = [];

/** Opens a stream and resolves once its status and headers are in; the stream stays open. */
function openStream(url: string, options: StreamRequest = {}): Promise<StreamReader> {
  const stream = new StreamReader(url, options);
  opened.push(stream);
  return stream.responded();
}

/** Distinct forged addresses, as a client that wants to look like many clients would send. */
const forged = (i: number) => ({ 'X-Forwarded-For': `198.51.100.${i + 1}` });

afterEach(() => {
  opened.splice(0).forEach((s) => s.close());
});

describe('TRUST_PROXY: whose X-Forwarded-For counts', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('ignores X-Forwarded-For by default: forged addresses do not lift MAX_CONNECTIONS_PER_IP', async () => {
    running = await startApp({ MAX_CONNECTIONS_PER_IP: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await openStream(`${running.url}/api/events?topic=t`, { headers: forged(i) });
      statuses.push(s.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
  });

  it('control: from a TRUST_PROXY peer the forwarded address is the client, so each counts apart', async () => {
    running = await startApp({ MAX_CONNECTIONS_PER_IP: '3', TRUST_PROXY: '127.0.0.1' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await openStream(`${running.url}/api/events?topic=t`, {
        localAddress: '127.0.0.1',
        headers: forged(i),
      });
      statuses.push(s.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    // A peer outside the list is not believed, whatever it forwards.
    const untrusted: number[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await openStream(`${running.url}/api/events?topic=t`, {
        localAddress: '127.0.0.2',
        headers: forged(i),
      });
      untrusted.push(s.status);
    }
    expect(untrusted).toEqual([200, 200, 200, 429]);
  });

  it('refuses a TRUST_PROXY entry that is not an address or CIDR, naming the variable', async () => {
    await expect(startApp({ TRUST_PROXY: '10.0.0.0/8,not-an-address' })).rejects.toThrow(
      /TRUST_PROXY/,
    );
  });
});

describe('behind the project nginx (TRUST_PROXY = the nginx)', () => {
  let app: RunningApp;
  let nginx: RunningNginx;
  const port = (url: string) => Number(new URL(url).port);

  beforeAll(async () => {
    app = await startApp({ MAX_CONNECTIONS_PER_IP: '2', TRUST_PROXY: '127.0.0.1' });
    nginx = await startNginx({ upstreams: [port(app.url)] });
  });
  afterAll(async () => {
    await nginx?.stop();
    await app?.close();
  });

  it('counts each client by the address nginx saw: forged chains change nothing', async () => {
    const from2: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await openStream(`${nginx.url}/api/events?topic=t`, {
        localAddress: '127.0.0.2',
        headers: forged(i),
      });
      from2.push(s.status);
    }
    expect(from2).toEqual([200, 200, 429, 429, 429]);
    // Another client through the same nginx still gets in: the limit counts clients, not nginx.
    const other = await openStream(`${nginx.url}/api/events?topic=t`, {
      localAddress: '127.0.0.3',
    });
    expect(other.status).toBe(200);
  });

  const spellings = ['/metrics', '/METRICS', '/Metrics', '/metrics/', '/metrics/x', '/%6Detrics'];

  it.each(spellings)(
    'denies %s to a client nginx does not allow (403 from nginx)',
    async (path) => {
      const res = await request(`${nginx.url}${path}`, 'GET', { localAddress: '127.0.0.2' });
      expect(res.status).toBe(403);
      expect(res.body).not.toContain('rivulet_');
    },
  );

  it('control: the proxy host itself gets the metrics through the same rule', async () => {
    const res = await request(`${nginx.url}/metrics`, 'GET', { localAddress: '127.0.0.1' });
    expect(res.status).toBe(200);
    expect(res.body).toContain('rivulet_');
  });

  it('writes no access token into its access log, and still logs the request', async () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2VjcmV0LXNpZ25hdHVyZQ';
    await request(`${nginx.url}/api/chat/lobby/nope?case=log1&access_token=${token}&x=1`, 'GET');
    await request(
      `${nginx.url}/api/chat/lobby/nope?access_token=${token}&access_token=${token}2`,
      'GET',
    );
    await request(`${nginx.url}/api/chat/lobby/nope?case=log3&token=${token}`, 'GET');
    await request(`${nginx.url}/api/chat/lobby/nope?case=log4&ACCESS_TOKEN=${token}`, 'GET');
    // Spellings Express's query parser reads as access_token too.
    await request(`${nginx.url}/api/chat/lobby/nope?case=log6&access%5Ftoken=${token}`, 'GET');
    await request(`${nginx.url}/api/chat/lobby/nope?case=log7&access_token[]=${token}`, 'GET');
    await request(`${nginx.url}/api/chat/lobby/nope?case=log8&access_token%5B0%5D=${token}`, 'GET');
    const logs = nginx.logs();
    for (const tag of [
      'case=log1&access_token=[redacted] HTTP/1.1',
      'case=log3&token=[redacted]',
    ]) {
      expect(logs).toContain(tag);
    }
    expect(logs).toContain('nope?access_token=[redacted] HTTP/1.1');
    expect(logs).toContain('case=log4&ACCESS_TOKEN=[redacted]');
    expect(logs).toContain('case=log6&access%5Ftoken=[redacted]');
    expect(logs).toContain('case=log7&access_token[]=[redacted]');
    expect(logs).toContain('case=log8&access_token%5B0%5D=[redacted]');
    expect(logs).not.toContain(token);
    // Control: what is not a credential is logged as it came.
    await request(`${nginx.url}/api/chat/lobby/nope?case=log5&tokens=visible`, 'GET');
    expect(nginx.logs()).toContain('case=log5&tokens=visible HTTP/1.1');
  });
});

describe('strict routing in the app', () => {
  let running: RunningApp;
  beforeAll(async () => (running = await startApp()));
  afterAll(() => running.close());

  it.each(['/METRICS', '/Metrics', '/metrics/', '/health/ready/', '/HEALTH/live'])(
    'answers 404 to %s, another spelling of a route',
    async (path) => {
      const res = await request(`${running.url}${path}`, 'GET');
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ statusCode: 404, error: 'Not Found' });
    },
  );

  it('control: the routes themselves answer', async () => {
    expect((await request(`${running.url}/metrics`, 'GET')).status).toBe(200);
    expect((await request(`${running.url}/health/ready`, 'GET')).status).toBe(200);
    expect((await request(`${running.url}/`, 'GET')).status).toBe(200);
  });
});

describe('X-Content-Type-Options on every answer', () => {
  let running: RunningApp;
  beforeAll(async () => (running = await startApp({ AUTH_JWT_SECRET: 'x'.repeat(32) })));
  afterAll(() => running.close());

  it.each([
    ['a page', '/'],
    ['a script', '/rivulet-client.js'],
    ['a 404', '/no/such/route'],
    ['an API error (400)', '/api/events'],
    ['an auth error (401)', '/api/notifications/stream'],
    ['metrics', '/metrics'],
    ['health', '/health/live'],
  ])('%s carries nosniff', async (_what, path) => {
    const res = await request(`${running.url}${path}`, 'GET');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('a stream carries nosniff', async () => {
    const s = await openStream(`${running.url}/api/chat/lobby`);
    expect(s.status).toBe(200);
    expect(s.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves the client declarations (.d.ts) as text, not video/mp2t', async () => {
    const res = await request(`${running.url}/rivulet-client.d.ts`, 'GET');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toContain('declare');
  });
});
