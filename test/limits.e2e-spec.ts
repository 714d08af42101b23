import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { startApp, RunningApp } from './support/app';
import { post, waitUntil } from './support/http';
import { get, RecordingEventSource } from './support/sse-client';

describe('limits: MAX_CONNECTIONS, MAX_CONNECTIONS_PER_IP, MAX_BODY_BYTES', () => {
  let running: RunningApp;
  const sources: RecordingEventSource[] = [];
  const open = (url: string, headers?: Record<string, string>) => {
    const source = new RecordingEventSource(url, headers ? { headers } : undefined);
    sources.push(source);
    return source;
  };

  afterEach(async () => {
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  it('answers 503 with Retry-After past MAX_CONNECTIONS, and accepts again once a client leaves', async () => {
    running = await startApp({ MAX_CONNECTIONS: '2', MAX_CONNECTIONS_PER_IP: '10' });
    const registry = running.app.get(ConnectionRegistry);
    const first = open(`${running.url}/api/events?topic=a`);
    const second = open(`${running.url}/api/chat/lobby`);
    await Promise.all([first.waitForOpen(), second.waitForOpen()]);
    const refused = await get(`${running.url}/api/events?topic=b`);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(refused.body)).toMatchObject({
      statusCode: 503,
      message: expect.stringMatching(/MAX_CONNECTIONS/),
    });
    first.close();
    await waitUntil(() => registry.size === 1, 'the closed stream to be released');
    const third = open(`${running.url}/api/events?topic=b`);
    await third.waitForOpen();
    expect(registry.size).toBe(2);
  });

  it('answers 429 past MAX_CONNECTIONS_PER_IP for that address only, and accepts again once it leaves', async () => {
    // The test client plays a trusted proxy (TRUST_PROXY) forwarding two different clients.
    running = await startApp({
      MAX_CONNECTIONS: '100',
      MAX_CONNECTIONS_PER_IP: '2',
      TRUST_PROXY: '127.0.0.1',
    });
    const registry = running.app.get(ConnectionRegistry);
    const client = { 'X-Forwarded-For': '10.1.1.1' };
    const first = open(`${running.url}/api/events?topic=a`, client);
    const second = open(`${running.url}/events`, client);
    await Promise.all([first.waitForOpen(), second.waitForOpen()]);
    const refused = await get(`${running.url}/api/chat/lobby`, client);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toMatchObject({
      statusCode: 429,
      message: expect.stringMatching(/PER_IP/),
    });
    // Another address (behind the same trusted proxy) is not affected.
    const other = open(`${running.url}/api/chat/lobby`, { 'X-Forwarded-For': '10.2.2.2' });
    await other.waitForOpen();
    second.close();
    await waitUntil(
      () => registry.countForIp('10.1.1.1') === 1,
      'the closed stream to be released',
    );
    const again = open(`${running.url}/api/chat/lobby`, client);
    await again.waitForOpen();
  });

  it('answers 413 for a body over MAX_BODY_BYTES and 400 for a body that is not JSON', async () => {
    running = await startApp({ MAX_BODY_BYTES: '200' });
    const big = await post(`${running.url}/api/events/t`, { data: 'x'.repeat(300) });
    expect(big.status).toBe(413);
    expect(big.json).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: expect.any(String),
    });
    const chat = await post(`${running.url}/api/chat/lobby/message`, {
      user: 'u',
      text: 'x'.repeat(300),
    });
    expect(chat.status).toBe(413);
    expect((await post(`${running.url}/api/events/t`, { data: 'x'.repeat(100) })).status).toBe(202);
    const notJson = await post(`${running.url}/api/notifications`, '{title: nope}');
    expect(notJson.status).toBe(400);
    expect(notJson.json.message).toMatch(/not valid JSON/);
    const noBody = await post(`${running.url}/api/events/t`, '', {
      'Content-Type': 'application/json',
    });
    expect(noBody.status).toBe(400);
    expect(noBody.json.message).toMatch(/data: is required/);
    const text = await post(`${running.url}/api/chat/lobby/message`, 'hello', {
      'Content-Type': 'text/plain',
    });
    expect(text.status).toBe(400);
    expect(text.json.message).toMatch(/Content-Type must be application\/json/);
  });
});
