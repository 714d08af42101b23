import http from 'node:http';
import { SseRouteListener } from '../src/sse/sse-route-listener';
import { startApp, RunningApp } from './support/app';

/** Status and headers of a GET (a stream is closed as soon as its headers arrive). */
function head(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      req.destroy();
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
  });
}

describe('Stream routes served below Express (SseRouteListener)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(() => running.close());

  it('serves every GET stream route and leaves POST streams and every other route to Express', () => {
    const paths = running.app.get(SseRouteListener).paths;
    expect(paths).toEqual(
      expect.arrayContaining([
        '/events',
        '/api/stream',
        '/api/events',
        '/api/stream/:channels',
        '/api/notifications/stream',
        '/api/chat/:roomId',
        '/api/monitor',
        '/api/ai/chat',
        '/api/ai/chat/:generationId',
        '/api/ai/sdk/chat/:chatId/stream',
      ]),
    );
    // Negative controls: a POST-only stream route and plain routes are not in the table.
    expect(paths).not.toContain('/api/ai/sdk/chat');
    expect(paths).not.toContain('/health/live');
    expect(paths).not.toContain('/api/events/:topic');
  });

  it('follows the case and trailing-slash rules of the Express routes', async () => {
    for (const [stream, plain] of [
      ['/api/events/?topic=a', '/health/live/'],
      ['/API/EVENTS?topic=a', '/HEALTH/LIVE'],
    ] as const) {
      const [s, p] = await Promise.all([
        head(`${running.url}${stream}`),
        head(`${running.url}${plain}`),
      ]);
      expect({ path: stream, found: s.status !== 404 }).toEqual({
        path: stream,
        found: p.status !== 404,
      });
    }
  });

  it('echoes X-Request-Id on the stream, on a 204 and on an error before the stream', async () => {
    const stream = await head(`${running.url}/api/events?topic=a`, {
      'X-Request-Id': 'rid-stream',
    });
    expect(stream.status).toBe(200);
    expect(stream.headers['x-request-id']).toBe('rid-stream');
    // The typewriter read to its last index has nothing left: 204.
    const done = await head(`${running.url}/api/stream?text=ab`, {
      'Last-Event-ID': '1',
      'X-Request-Id': 'rid-done',
    });
    expect(done.status).toBe(204);
    expect(done.headers['x-request-id']).toBe('rid-done');
    const refused = await head(`${running.url}/api/events?topic=a&lastEventId=bad`, {
      'X-Request-Id': 'rid-bad',
    });
    expect(refused.status).toBe(400);
    expect(refused.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(refused.headers['x-request-id']).toBe('rid-bad');
  });
});
