import path from 'node:path';
import { signToken } from '../src/scripts/sign-token';
import { startApp, RunningApp } from './support/app';
import { REPO, run } from './support/deploy-files';
import { get, post } from './support/http';
import { RecordingEventSource } from './support/sse-client';

const SECRET = 'e2e-access-secret-0123456789abcdef';

describe('access control with AUTH_JWT_SECRET', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];

  beforeEach(async () => {
    running = await startApp({ AUTH_JWT_SECRET: SECRET, PUBLIC_TOPICS: 'ticker,chat:*,news.*' });
  });

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  const expectError = (
    res: { status: number; body: string; headers: Record<string, unknown> },
    status: number,
  ) => {
    expect(res.status).toBe(status);
    expect(String(res.headers['content-type'])).toMatch(/application\/json/);
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: status, message: expect.any(String) });
  };

  it('rejects a forged (wrong secret), an expired and an unscoped token: 401, 401, 403, before the stream', async () => {
    const url = `${running.url}/api/events?topic=orders`;
    const forged = await signToken('some-other-secret-0123456789abcdef', {
      sub: 'ann',
      subscribe: ['orders'],
    });
    const expired = await signToken(SECRET, { sub: 'ann', subscribe: ['orders'] }, '-1m');
    const unscoped = await signToken(SECRET, { sub: 'ann', subscribe: ['payments'] });
    const forgedRes = await get(url, { Authorization: `Bearer ${forged}` });
    expectError(forgedRes, 401);
    expect(JSON.parse(forgedRes.body).message).toBe('The access token is invalid');
    const expiredRes = await get(url, { Authorization: `Bearer ${expired}` });
    expectError(expiredRes, 401);
    expect(JSON.parse(expiredRes.body).message).toBe('The access token has expired');
    expectError(await get(url, { Authorization: `Bearer ${unscoped}` }), 403);
    expectError(await get(url), 401);
    expectError(await get(url, { Authorization: 'Basic YTpi' }), 401);
  });

  it('accepts what scripts/mint-token.mjs mints with the secret, and only that secret (the one minter)', async () => {
    const url = `${running.url}/api/events/orders`;
    const script = path.join(REPO, 'scripts/mint-token.mjs');
    const mint = async (secret: string) => {
      const result = await run(process.execPath, [script, secret, '--publish', 'orders*']);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      return result.stdout.trim();
    };
    const minted = await mint(SECRET);
    expect((await post(url, { data: 1 }, { Authorization: `Bearer ${minted}` })).status).toBe(202);
    const other = await mint('some-other-secret-0123456789abcdef');
    expectError(await post(url, { data: 1 }, { Authorization: `Bearer ${other}` }), 401);
  });

  it('accepts a scoped token from the header, the access_token query parameter or the cookie', async () => {
    const token = await signToken(SECRET, { sub: 'ann', subscribe: ['orders*'] });
    const viaHeader = new RecordingEventSource(`${running.url}/api/events?topic=orders.eu`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const viaQuery = new RecordingEventSource(
      `${running.url}/api/stream/orders.us?access_token=${token}`,
    );
    const viaCookie = new RecordingEventSource(`${running.url}/api/events?topic=orders`, {
      headers: { Cookie: `access_token=${token}` },
    });
    sources.push(viaHeader, viaQuery, viaCookie);
    await Promise.all(sources.map((s) => s.waitForOpen()));
  });

  it('leaves public topics open without a token, but not with a bad one, and never user topics', async () => {
    const ticker = new RecordingEventSource(`${running.url}/events`);
    const news = new RecordingEventSource(
      `${running.url}/api/events?topic=news.eu&topic=chat:lobby`,
    );
    sources.push(ticker, news);
    await Promise.all([ticker.waitForOpen(), news.waitForOpen()]);
    expectError(await get(`${running.url}/events`, { Authorization: 'Bearer not.a.token' }), 401);
    expectError(await get(`${running.url}/api/events?topic=news.eu&topic=orders`), 401);
    const everything = await signToken(SECRET, { sub: 'admin', subscribe: ['*'] });
    expectError(
      await get(`${running.url}/api/events?topic=user:ann`, {
        Authorization: `Bearer ${everything}`,
      }),
      403,
    );
    const ann = await signToken(SECRET, { sub: 'ann' });
    const own = new RecordingEventSource(
      `${running.url}/api/events?topic=user:ann&topic=broadcast`,
      {
        headers: { Authorization: `Bearer ${ann}` },
      },
    );
    sources.push(own);
    await own.waitForOpen();
  });

  it('requires a publish scope to publish: 401 without a token, 403 outside the scope, 202 inside', async () => {
    expectError(await post(`${running.url}/api/events/orders`, { data: 1 }), 401);
    const token = await signToken(SECRET, { sub: 'svc', publish: ['orders'] });
    const auth = { Authorization: `Bearer ${token}` };
    expectError(await post(`${running.url}/api/events/payments`, { data: 1 }, auth), 403);
    expect((await post(`${running.url}/api/events/orders`, { data: 1 }, auth)).status).toBe(202);
  });

  it('protects the monitor stream (not public by default) and leaves the typewriter open', async () => {
    expectError(await get(`${running.url}/api/monitor`), 401);
    const token = await signToken(SECRET, { sub: 'ops', subscribe: ['monitor'] });
    const monitor = new RecordingEventSource(`${running.url}/api/monitor?access_token=${token}`);
    const typewriter = new RecordingEventSource(`${running.url}/api/stream?text=hi`);
    sources.push(monitor, typewriter);
    await Promise.all([monitor.waitFor((e) => e.length > 0), typewriter.waitForOpen()]);
  });
});
