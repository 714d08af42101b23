import http from 'node:http';
import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { RunningApp, startApp } from './support/app';
import { mintToken, waitUntil } from './support/http';

const SECRET = 'admission-test-secret-of-at-least-32-bytes';

interface Answer {
  status: number;
  req: http.ClientRequest;
}

/** Sends `count` GETs at once (each on its own socket) and resolves with each one's status. */
function burst(url: string, count: number, headers: Record<string, string>): Promise<Answer[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Answer>((resolve, reject) => {
          const req = http.get(url, { headers, agent: false }, (res) => {
            // A refusal's JSON body is read to its end; an open stream stays open.
            if (res.statusCode !== 200) res.resume();
            resolve({ status: res.statusCode ?? 0, req });
          });
          req.on('error', reject);
        }),
    ),
  );
}

const countOf = (answers: Answer[], status: number) =>
  answers.filter((a) => a.status === status).length;

describe('connection limits hold under a burst of concurrent stream requests (auth on)', () => {
  let running: RunningApp;
  let open: Answer[] = [];

  afterEach(async () => {
    open.forEach((a) => a.req.destroy());
    open = [];
    await running.close();
  });

  const start = (env: Record<string, string>) =>
    startApp({ AUTH_JWT_SECRET: SECRET, MAX_REQUESTS_PER_IP: '1000', ...env });

  it('300 simultaneous GETs with MAX_CONNECTIONS_PER_IP=5 open exactly 5 streams; the rest get 429', async () => {
    running = await start({ MAX_CONNECTIONS_PER_IP: '5', MAX_CONNECTIONS: '10000' });
    const registry = running.app.get(ConnectionRegistry);
    // A token makes every request wait for its (asynchronous) verification before the stream opens.
    const token = await mintToken(SECRET, { sub: 'ann', subscribe: ['chat:*'] });
    const answers = await burst(`${running.url}/api/chat/lobby`, 300, {
      Authorization: `Bearer ${token}`,
    });
    open = answers.filter((a) => a.status === 200);
    expect(countOf(answers, 200)).toBe(5);
    expect(countOf(answers, 429)).toBe(295);
    expect(registry.size).toBe(5);
    expect(registry.countForIp('127.0.0.1')).toBe(5);

    // Closed: every slot comes back, and 5 can open again.
    open.forEach((a) => a.req.destroy());
    await waitUntil(() => registry.countForIp('127.0.0.1') === 0, 'the slots to be released');
    const again = await burst(`${running.url}/api/chat/lobby`, 20, {
      Authorization: `Bearer ${token}`,
    });
    open = again.filter((a) => a.status === 200);
    expect(countOf(again, 200)).toBe(5);
  });

  it('MAX_CONNECTIONS holds the same way (503), and refused or failed requests give their slot back', async () => {
    running = await start({ MAX_CONNECTIONS: '5', MAX_CONNECTIONS_PER_IP: '10000' });
    const registry = running.app.get(ConnectionRegistry);
    // Failed: a forged token is refused (401) after its slot was taken; nothing stays held.
    const forged = await burst(`${running.url}/api/chat/lobby`, 100, {
      Authorization: 'Bearer not.a.token',
    });
    expect(countOf(forged, 401) + countOf(forged, 503)).toBe(100);
    expect(countOf(forged, 401)).toBeGreaterThanOrEqual(5);
    await waitUntil(() => registry.countForIp('127.0.0.1') === 0, 'failed requests to release');

    const token = await mintToken(SECRET, { sub: 'ann', subscribe: ['chat:*'] });
    const answers = await burst(`${running.url}/api/chat/lobby`, 300, {
      Authorization: `Bearer ${token}`,
    });
    open = answers.filter((a) => a.status === 200);
    expect(countOf(answers, 200)).toBe(5);
    expect(countOf(answers, 503)).toBe(295);
    expect(registry.size).toBe(5);
  });

  it('negative control: with room for all, the same burst opens all 300 (the burst is concurrent)', async () => {
    running = await start({ MAX_CONNECTIONS_PER_IP: '300', MAX_CONNECTIONS: '10000' });
    const registry = running.app.get(ConnectionRegistry);
    const token = await mintToken(SECRET, { sub: 'ann', subscribe: ['chat:*'] });
    const answers = await burst(`${running.url}/api/chat/lobby`, 300, {
      Authorization: `Bearer ${token}`,
    });
    open = answers.filter((a) => a.status === 200);
    expect(countOf(answers, 200)).toBe(300);
    expect(registry.size).toBe(300);
  });
});
