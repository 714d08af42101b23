import net from 'node:net';
import { RunningApp, startApp } from './support/app';
import { request, waitUntil } from './support/http';
import { RecordingEventSource } from './support/sse-client';

/**
 * A POST that sends its headers and part of its body, then nothing: what a slow-body attack holds.
 * `answer` resolves with the status line the server wrote (if any) once it closes the connection.
 */
class SlowPost {
  readonly socket: net.Socket;
  received = '';
  readonly closed: Promise<string>;

  constructor(port: number, localAddress = '127.0.0.1') {
    this.socket = net.connect({ port, host: '127.0.0.1', localAddress });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => (this.received += chunk));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve(this.received)));
    this.socket.write(
      'POST /api/events/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"data":"',
    );
  }

  get status(): number | undefined {
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.received);
    return match ? Number(match[1]) : undefined;
  }
}

describe('slow requests: REQUEST_TIMEOUT_MS and MAX_REQUESTS_PER_IP', () => {
  let running: RunningApp;
  const posts: SlowPost[] = [];
  const sources: RecordingEventSource[] = [];

  afterEach(async () => {
    posts.splice(0).forEach((p) => p.socket.destroy());
    sources.splice(0).forEach((s) => s.close());
    await running.close();
  });

  it('holds at most MAX_REQUESTS_PER_IP slow POSTs per address, refuses the rest at once, and /health/live keeps answering', async () => {
    // A long timeout here, so what is held is decided by the cap alone (the next test cuts them).
    running = await startApp({ REQUEST_TIMEOUT_MS: '600000', MAX_REQUESTS_PER_IP: '50' });
    const port = Number(new URL(running.url).port);
    let closed = 0;
    for (let i = 0; i < 500; i++) {
      const post = new SlowPost(port);
      void post.closed.then(() => closed++);
      posts.push(post);
    }
    await waitUntil(() => closed === 450, '450 refusals', 30_000);
    const refused = posts.filter((p) => p.status !== undefined);
    const held = posts.filter((p) => p.status === undefined);
    expect(refused).toHaveLength(450);
    expect(refused.every((p) => p.status === 429)).toBe(true);
    expect(refused[0]!.received).toMatch(/MAX_REQUESTS_PER_IP/);
    expect(refused[0]!.received).toMatch(/Retry-After: \d+/i);
    expect(refused[0]!.received).toMatch(/Connection: close/i);

    // While 50 slow bodies are held: health answers; the capped address gets 429 for a normal
    // request; another address is not affected.
    expect((await request(`${running.url}/health/live`, 'GET')).status).toBe(200);
    expect((await request(`${running.url}/health/ready`, 'GET')).status).toBe(200);
    const capped = await request(`${running.url}/api/events/orders`, 'POST', { body: { data: 1 } });
    expect(capped.status).toBe(429);
    expect(await postFrom('127.0.0.2', port, '{"data":"elsewhere"}')).toMatch(/^HTTP\/1\.1 202 /);

    // A held request that goes away gives its slot back.
    held.slice(0, 10).forEach((p) => p.socket.destroy());
    await Promise.all(held.slice(0, 10).map((p) => p.closed));
    // (The server learns of the close a moment later: ask until it has, a bounded number of times.)
    let status = 0;
    for (let attempt = 0; attempt < 200 && status !== 202; attempt++) {
      status = (await request(`${running.url}/api/events/orders`, 'POST', { body: { data: 2 } }))
        .status;
    }
    expect(status).toBe(202);
  });

  it('cuts a request whose headers and body take longer than REQUEST_TIMEOUT_MS (408), and leaves open streams alone', async () => {
    running = await startApp({ REQUEST_TIMEOUT_MS: '1000' });
    const port = Number(new URL(running.url).port);
    // A stream opened before: its request is complete, so the timeout never applies to it.
    const stream = new RecordingEventSource(`${running.url}/api/events?topic=orders`);
    sources.push(stream);
    await stream.waitForOpen();
    const held = Array.from({ length: 50 }, () => new SlowPost(port));
    posts.push(...held);
    const cut = await Promise.all(held.map((p) => p.closed));
    expect(cut.every((text) => /^HTTP\/1\.1 408 /.test(text))).toBe(true);
    // The stream, idle all along and open longer than the timeout, is still live.
    const after = await request(`${running.url}/api/events/orders`, 'POST', {
      body: { data: 'after' },
    });
    expect(after.status).toBe(202);
    await stream.waitFor((events) => events.some((e) => e.json?.data === 'after'));
    expect(stream.opens).toBe(1);
  });

  it('bounds the whole request, not the silence: a body trickling in byte by byte is cut too', async () => {
    running = await startApp({ REQUEST_TIMEOUT_MS: '1000' });
    const port = Number(new URL(running.url).port);
    const post = new SlowPost(port);
    posts.push(post);
    const trickle = setInterval(() => post.socket.write('x'), 100);
    try {
      expect(await post.closed).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
    }
    // Negative control: the same request sent whole is accepted.
    const whole = await postFrom('127.0.0.1', port, '{"data":"whole"}');
    expect(whole).toMatch(/^HTTP\/1\.1 202 /);
  });
});

/** A complete POST /api/events/orders from `localAddress`; resolves with the raw answer. */
function postFrom(localAddress: string, port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (/\r\n\r\n/.test(text)) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write(
      `POST /api/events/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
