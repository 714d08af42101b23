import { EventSource } from 'eventsource';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { startNginx, testNginxConfig, type RunningNginx } from './support/nginx';
import { SseUpstream, type Exchange } from './support/sse-upstream';
import { WireStream, type WireFrame } from './support/wire-stream';

/**
 * The reference nginx config (nginx/), run for real by Debian's nginx in front of a loopback
 * stand-in for the app (test/support/sse-upstream.ts). The stand-in never sends
 * X-Accel-Buffering, so what passes here is the config's own doing.
 */

// Streams here run for seconds; every wait inside a test has its own, shorter bound.
jest.setTimeout(30_000);

const PACED = { count: 8, intervalMs: 150 };
const READ_TIMEOUT_MS = 1000;
const HEARTBEAT_MS = 300;
/** How long the idle stream stays quiet (but for heartbeats) before its event: > 3 read timeouts. */
const IDLE_MS = 3300;
const BODY_LIMIT = 64 * 1024;
const PAGE = `<!doctype html><title>Rivulet</title>${'<p>demo page</p>\n'.repeat(300)}`;

/** The app stand-in: one script per path, chosen by the test through the URL. */
function standIn(name: string) {
  return (x: Exchange): void => {
    const url = new URL(x.req.url ?? '/', 'http://upstream');
    const method = x.req.method ?? 'GET';
    const json = (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      x.res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      x.res.end(JSON.stringify(body));
    };

    switch (url.pathname) {
      // Paced events, each carrying the time it was written: `id: n` + {"seq":n,"sentAt":t}.
      case '/events':
      case '/api/stream':
      case '/api/ai/chat': {
        const count = Number(url.searchParams.get('count') ?? PACED.count);
        const intervalMs = Number(url.searchParams.get('interval') ?? PACED.intervalMs);
        x.openStream();
        x.frame('retry: 1000\n: connected');
        const send = (seq: number) => {
          x.frame(`id: ${seq}\ndata: {"seq":${seq},"sentAt":${performance.now()}}`);
          if (seq + 1 < count) x.after(intervalMs, () => send(seq + 1));
          else x.res.end();
        };
        x.after(intervalMs, () => send(0));
        return;
      }
      // Quiet for IDLE_MS, with or without `: ping` heartbeats, then one event.
      case '/api/idle': {
        x.openStream();
        x.frame(': connected');
        if (url.searchParams.get('heartbeat') === 'on')
          x.every(HEARTBEAT_MS, () => x.frame(': ping'));
        x.after(IDLE_MS, () => {
          x.frame('data: {"type":"after-idle"}');
          x.res.end();
        });
        return;
      }
      // Echoes Last-Event-ID; also echoes an X-Request-Id of its own, which nginx must hide.
      case '/api/echo': {
        x.res.setHeader('X-Request-Id', 'from-the-app');
        x.openStream();
        x.frame(`data: ${JSON.stringify({ lastEventId: x.req.headers['last-event-id'] ?? null })}`);
        x.res.end();
        return;
      }
      // First connection: one event with id 7, then the stream ends and EventSource reconnects.
      case '/api/resume': {
        x.openStream();
        const lastEventId = x.req.headers['last-event-id'];
        if (lastEventId === undefined) {
          x.frame('retry: 50\nid: 7\ndata: {"type":"first"}');
          x.res.end();
        } else {
          x.frame(`data: ${JSON.stringify({ type: 'resumed', from: lastEventId })}`);
        }
        return;
      }
      // A stream that stays open until the client leaves.
      case '/api/hold':
        x.openStream();
        x.frame(': held');
        return;
      case '/api/ping':
        return json(200, { replica: name });
      case '/index.html':
        x.res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        x.res.end(PAGE);
        return;
      case '/metrics':
        x.res.writeHead(200, { 'Content-Type': 'text/plain' });
        x.res.end('rivulet_up 1\n');
        return;
      case '/health/ready':
        return json(200, { status: 'ok' });
      default:
        if (method === 'POST') return json(202, { id: '1', bytes: x.seen.body.length });
        return json(404, { statusCode: 404, error: 'Not Found', message: url.pathname });
    }
  };
}

interface Delivery {
  seq: number;
  sentAt: number;
  receivedAt: number;
  read: number;
}

/** The paced data frames as delivered: when each was sent upstream, when and in which read it arrived. */
function deliveries(frames: WireFrame[]): Delivery[] {
  return frames
    .filter((f) => f.text.includes('data: '))
    .map((f) => {
      const data = JSON.parse(f.text.slice(f.text.indexOf('data: ') + 6)) as {
        seq: number;
        sentAt: number;
      };
      return { seq: data.seq, sentAt: data.sentAt, receivedAt: f.at, read: f.read };
    });
}

/** What "one by one" means, measured: no two events in one TCP read, each one in before the next is sent. */
function pacing(d: Delivery[]) {
  const perRead = new Map<number, number>();
  for (const { read } of d) perRead.set(read, (perRead.get(read) ?? 0) + 1);
  const gaps = (key: 'sentAt' | 'receivedAt') =>
    d.slice(1).map((x, i) => x[key] - (d[i]?.[key] ?? 0));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const last = d[d.length - 1];
  return {
    mostEventsInOneRead: Math.max(...perRead.values()),
    eachInBeforeTheNextWasSent: d
      .slice(0, -1)
      .every((x, i) => x.receivedAt < (d[i + 1]?.sentAt ?? -Infinity)),
    firstInBeforeTheLastWasSent: (d[0]?.receivedAt ?? Infinity) < (last?.sentAt ?? -Infinity),
    /** median receive gap / median send gap: 1 when the spacing survives the proxy. */
    spacingRatio: median(gaps('receivedAt')) / median(gaps('sentAt')),
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    localAddress?: string;
    agent?: http.Agent;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: options.localAddress,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('nginx reference config: nginx -t', () => {
  it('accepts the real config pointed at a loopback upstream', async () => {
    const result = await testNginxConfig({ upstreams: [3000] });
    expect(result.output).toContain('syntax is ok');
    expect(result.output).toContain('test is successful');
    expect(result.ok).toBe(true);
  });

  it('rejects a broken config (control: the check can fail)', async () => {
    const result = await testNginxConfig({
      upstreams: [3000],
      editServerConf: (conf) => conf.replace('proxy_buffering off;', 'proxy_buffering sometimes;'),
    });
    expect(result.ok).toBe(false);
    expect(result.output).toContain('proxy_buffering');
  });
});

describe('nginx reference config: streaming and routing', () => {
  let upstream: SseUpstream;
  let nginx: RunningNginx;

  beforeAll(async () => {
    upstream = await SseUpstream.start(standIn('a'));
    nginx = await startNginx({ upstreams: [upstream.port] });
  });

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
  });

  describe.each([
    ['GET', '/events'],
    ['GET', '/api/stream'],
    ['POST', '/api/ai/chat'],
  ])('%s %s', (method, path) => {
    it('delivers each event on its own, as it is sent, spacing preserved', async () => {
      const stream = new WireStream(nginx.port, {
        method,
        path,
        ...(method === 'POST'
          ? {
              headers: { 'Content-Type': 'application/json' },
              body: '{"messages":[{"role":"user","content":"hi"}]}',
            }
          : {}),
      });
      try {
        await stream.waitFor((s) => s.complete, 'the paced stream to complete');
        expect(stream.status).toBe(200);
        expect(stream.header('content-type')).toBe('text/event-stream');

        const d = deliveries(stream.frames);
        expect(d.map((x) => x.seq)).toEqual([...Array(PACED.count).keys()]);
        const measured = pacing(d);
        expect(measured).toMatchObject({
          mostEventsInOneRead: 1,
          eachInBeforeTheNextWasSent: true,
          firstInBeforeTheLastWasSent: true,
        });
        expect(measured.spacingRatio).toBeGreaterThan(0.5);
        expect(measured.spacingRatio).toBeLessThan(1.5);
      } finally {
        await stream.close();
      }
    });
  });

  describe('request headers', () => {
    it('passes Last-Event-ID through to the app', async () => {
      const stream = new WireStream(nginx.port, {
        path: '/api/echo?case=leid',
        headers: { 'Last-Event-ID': '1700000000000-41' },
      });
      try {
        await stream.waitFor((s) => s.complete, 'the echo');
        expect(stream.frames.map((f) => f.text)).toContain(
          'data: {"lastEventId":"1700000000000-41"}',
        );
      } finally {
        await stream.close();
      }
    });

    it('lets the real EventSource resume: its reconnect carries Last-Event-ID through nginx', async () => {
      const source = new EventSource(`${nginx.url}/api/resume`);
      try {
        const resumed = await new Promise<string>((resolve, reject) => {
          source.onmessage = (event) => {
            const data = JSON.parse(event.data as string) as { type: string; from?: string };
            if (data.type === 'resumed') resolve(data.from ?? '');
          };
          setTimeout(
            () => reject(new Error('EventSource did not resume within 10 s')),
            10_000,
          ).unref();
        });
        expect(resumed).toBe('7');
        expect(upstream.requestsTo('/api/resume').map((r) => r.headers['last-event-id'])).toEqual([
          undefined,
          '7',
        ]);
      } finally {
        source.close();
      }
    });

    it('replaces the client X-Forwarded-For with the address nginx saw, sends -Proto/-Host and the Host', async () => {
      await request(`${nginx.url}/api/ping?case=fwd`, {
        headers: { 'X-Forwarded-For': '203.0.113.9' },
      });
      const seen = upstream.requests.find((r) => r.url === '/api/ping?case=fwd');
      expect(seen?.headers).toMatchObject({
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': `127.0.0.1:${nginx.port}`,
        host: '127.0.0.1',
      });
    });

    it('gives every request one X-Request-Id, shared by the app and the client', async () => {
      const fresh = await request(`${nginx.url}/api/echo?case=rid-new`);
      const kept = await request(`${nginx.url}/api/echo?case=rid-kept`, {
        headers: { 'X-Request-Id': 'trace-42-a' },
      });
      const replaced = await request(`${nginx.url}/api/echo?case=rid-bad`, {
        headers: { 'X-Request-Id': 'not.the-app:s<format>' },
      });
      const seen = (tag: string) =>
        upstream.requests.find((r) => r.url === `/api/echo?case=${tag}`);

      expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
      expect(seen('rid-new')?.headers['x-request-id']).toBe(fresh.headers['x-request-id']);
      expect(kept.headers['x-request-id']).toBe('trace-42-a');
      expect(seen('rid-kept')?.headers['x-request-id']).toBe('trace-42-a');
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
      expect(seen('rid-bad')?.headers['x-request-id']).toBe(replaced.headers['x-request-id']);
      // One header each way: the client's copy is replaced, the app's echo is hidden.
      const count = (raw: string[]) =>
        raw.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-request-id').length;
      expect(count(seen('rid-kept')?.rawHeaders ?? [])).toBe(1);
      expect(kept.headers['x-request-id']).not.toContain('from-the-app');
    });

    it('talks HTTP/1.1 to the app and reuses the upstream connection (keepalive, Connection "")', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let i = 0; i < 3; i++) {
          const reply = await request(`${nginx.url}/api/ping?case=keepalive`, {
            agent,
            headers: { Connection: 'keep-alive' },
          });
          expect(reply.status).toBe(200);
        }
      } finally {
        agent.destroy();
      }
      const seen = upstream.requests.filter((r) => r.url === '/api/ping?case=keepalive');
      expect(seen).toHaveLength(3);
      expect(seen.map((r) => r.httpVersion)).toEqual(['1.1', '1.1', '1.1']);
      expect(seen.map((r) => r.headers.connection)).toEqual([undefined, undefined, undefined]);
      expect(new Set(seen.map((r) => r.remotePort)).size).toBe(1);
    });
  });

  describe('request bodies', () => {
    it.each(['/api/events/demo', '/api/notifications', '/api/chat/lobby/message', '/api/ai/chat'])(
      'POST %s over 64 KiB gets 413 with a JSON body from nginx; the app never sees it',
      async (path) => {
        const tooBig = await request(`${nginx.url}${path}?case=too-big`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: Buffer.alloc(BODY_LIMIT + 1, 'a'),
        });
        expect(tooBig.status).toBe(413);
        expect(tooBig.headers['content-type']).toBe('application/json');
        expect(JSON.parse(tooBig.body.toString())).toMatchObject({
          statusCode: 413,
          error: 'Payload Too Large',
        });
        expect(upstream.requests.filter((r) => r.url === `${path}?case=too-big`)).toHaveLength(0);
      },
    );

    it('passes a body of exactly 64 KiB to the app (the limit matches MAX_BODY_BYTES)', async () => {
      const atLimit = await request(`${nginx.url}/api/events/demo?case=at-limit`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.alloc(BODY_LIMIT, 'a'),
      });
      expect(atLimit.status).toBe(202);
      expect(JSON.parse(atLimit.body.toString())).toMatchObject({ bytes: BODY_LIMIT });
    });
  });

  describe('compression', () => {
    it.each(['/events', '/api/stream'])(
      'sends %s uncompressed to a client that accepts gzip',
      async (path) => {
        const stream = new WireStream(nginx.port, {
          path: `${path}?count=3&interval=20`,
          headers: { 'Accept-Encoding': 'gzip, deflate, br' },
        });
        try {
          await stream.waitFor((s) => s.complete, 'the stream to complete');
          expect(stream.header('content-encoding')).toBeUndefined();
          expect(deliveries(stream.frames).map((x) => x.seq)).toEqual([0, 1, 2]);
        } finally {
          await stream.close();
        }
      },
    );

    it('control: with gzip allowed on the stream location, the same stream comes back compressed', async () => {
      const gzipping = await startNginx({
        upstreams: [upstream.port],
        editServerConf: (conf) => conf.replace('gzip off;', 'gzip_types text/event-stream;'),
      });
      const stream = new WireStream(gzipping.port, {
        path: '/api/stream?count=3&interval=20',
        headers: { 'Accept-Encoding': 'gzip, deflate, br' },
      });
      try {
        await stream.waitFor((s) => s.complete, 'the stream to complete');
        expect(stream.header('content-encoding')).toBe('gzip');
      } finally {
        await stream.close();
        await gzipping.stop();
      }
    });

    it('compresses a page for the same client (control: gzip is on where it should be)', async () => {
      const page = await request(`${nginx.url}/index.html`, {
        headers: { 'Accept-Encoding': 'gzip' },
      });
      expect(page.headers['content-encoding']).toBe('gzip');
      expect(page.headers.vary).toBe('Accept-Encoding');
      expect(gunzipSync(page.body).toString()).toBe(PAGE);
    });
  });

  describe('health and metrics', () => {
    it("answers /nginx-health itself and proxies the app's /health/ready", async () => {
      const own = await request(`${nginx.url}/nginx-health`);
      expect([own.status, own.body.toString()]).toEqual([200, 'ok\n']);
      const ready = await request(`${nginx.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(upstream.requestsTo('/health/ready')).toHaveLength(1);
    });

    it('serves /metrics to the proxy host only', async () => {
      const local = await request(`${nginx.url}/metrics?case=local`);
      expect([local.status, local.body.toString()]).toEqual([200, 'rivulet_up 1\n']);
      // 127.0.0.2 is loopback too, but not the address the config allows.
      const other = await request(`${nginx.url}/metrics?case=other`, { localAddress: '127.0.0.2' });
      expect(other.status).toBe(403);
      expect(upstream.requests.filter((r) => r.url === '/metrics?case=other')).toHaveLength(0);
    });
  });
});

describe("nginx reference config: negative control with nginx's defaults (buffering on, HTTP/1.0 upstream)", () => {
  let upstream: SseUpstream;
  let nginx: RunningNginx;

  beforeAll(async () => {
    upstream = await SseUpstream.start(standIn('a'));
    nginx = await startNginx({
      upstreams: [upstream.port],
      editServerConf: (conf) =>
        conf
          .replace('proxy_buffering off;', 'proxy_buffering on;')
          .replace('proxy_http_version 1.1;', 'proxy_http_version 1.0;'),
    });
  });

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
  });

  it('the same stream arrives merged and late, and the one-by-one check catches it', async () => {
    const stream = new WireStream(nginx.port, { path: '/api/stream' });
    try {
      await stream.waitFor((s) => s.complete, 'the buffered stream to complete');
      const d = deliveries(stream.frames);
      expect(d.map((x) => x.seq)).toEqual([...Array(PACED.count).keys()]);
      const measured = pacing(d);
      expect(measured).toMatchObject({
        eachInBeforeTheNextWasSent: false,
        firstInBeforeTheLastWasSent: false,
      });
      expect(measured.mostEventsInOneRead).toBeGreaterThan(1);
    } finally {
      await stream.close();
    }
  });
});

describe('nginx reference config: a client that stops reading', () => {
  /** What the app stand-in managed to hand to nginx while the client reads nothing. */
  interface Flood {
    accepted: number;
    /** All FLOOD_BYTES were taken by nginx. */
    finished: boolean;
    /** The app's writes have been blocked (no 'drain') for STALL_MS: the backpressure reached it. */
    stalled: boolean;
  }
  const FLOOD_BYTES = 64 * 1024 * 1024;
  const STALL_MS = 300;
  const FRAME = `data: ${'x'.repeat(16 * 1024 - 8)}\n\n`;

  let flood: Flood;
  let changed: () => void;
  let upstream: SseUpstream;

  beforeAll(async () => {
    upstream = await SseUpstream.start((x) => {
      x.openStream();
      const pump = () => {
        while (flood.accepted < FLOOD_BYTES) {
          flood.accepted += FRAME.length;
          if (!x.res.write(FRAME)) {
            x.after(STALL_MS, () => {
              flood.stalled = x.res.writableNeedDrain;
              changed();
            });
            x.res.once('drain', pump);
            return;
          }
        }
        x.res.end();
        flood.finished = true;
        changed();
      };
      pump();
    });
  });

  afterAll(async () => {
    await upstream?.close();
  });

  /** Connects, sends the request and reads nothing until `resume()`. */
  function stalledClient(port: number) {
    let received = 0;
    let complete!: () => void;
    const completed = new Promise<void>((resolve) => (complete = resolve));
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write('GET /api/flood HTTP/1.1\r\nHost: test\r\n\r\n'),
    );
    socket.pause();
    let tail = Buffer.alloc(0);
    socket.on('data', (bytes: Buffer) => {
      received += bytes.length;
      tail = Buffer.concat([tail, bytes]).subarray(-5);
      if (tail.toString('latin1') === '0\r\n\r\n') complete();
    });
    return {
      received: () => received,
      resume: () => socket.resume(),
      completed,
      close: () => new Promise<void>((resolve) => socket.destroy().once('close', () => resolve())),
    };
  }

  /** Resolves once the flood is in the given state. */
  function floodReaches(state: 'finished' | 'stalled'): Promise<void> {
    return new Promise((resolve) => {
      changed = () => {
        if (flood[state]) resolve();
      };
    });
  }

  it("stalls the app's writes, so its slow-consumer limit can act; nothing is lost once the client reads", async () => {
    flood = { accepted: 0, finished: false, stalled: false };
    const stalled = floodReaches('stalled');
    const nginx = await startNginx({ upstreams: [upstream.port] });
    const client = stalledClient(nginx.port);
    try {
      await stalled;
      expect(flood.finished).toBe(false);
      expect(flood.accepted).toBeLessThan(FLOOD_BYTES / 2);
      expect(client.received()).toBe(0);

      client.resume();
      await client.completed;
      expect(client.received()).toBeGreaterThan(FLOOD_BYTES);
      expect(nginx.logs()).not.toContain('buffered to a temporary file');
    } finally {
      await client.close();
      await nginx.stop();
    }
  });

  it('control: with proxy_buffering on, nginx soaks the whole flood into a temp file and the app never notices', async () => {
    flood = { accepted: 0, finished: false, stalled: false };
    const finished = floodReaches('finished');
    const nginx = await startNginx({
      upstreams: [upstream.port],
      editServerConf: (conf) => conf.replace('proxy_buffering off;', 'proxy_buffering on;'),
    });
    const client = stalledClient(nginx.port);
    try {
      await finished;
      expect(flood.accepted).toBe(FLOOD_BYTES);
      expect(client.received()).toBe(0);
      expect(nginx.logs()).toContain('an upstream response is buffered to a temporary file');
    } finally {
      await client.close();
      await nginx.stop();
    }
  });
});

describe(`nginx reference config: proxy_read_timeout ${READ_TIMEOUT_MS} ms, heartbeat ${HEARTBEAT_MS} ms`, () => {
  let upstream: SseUpstream;
  let nginx: RunningNginx;

  beforeAll(async () => {
    upstream = await SseUpstream.start(standIn('a'));
    nginx = await startNginx({ upstreams: [upstream.port], readTimeout: `${READ_TIMEOUT_MS}ms` });
  });

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
  });

  it('keeps a quiet stream open past the timeout thanks to heartbeats, and still delivers the next event', async () => {
    const stream = new WireStream(nginx.port, { path: '/api/idle?heartbeat=on' });
    try {
      await stream.waitFor(
        (s) => s.frames.some((f) => f.text.includes('after-idle')),
        'the event after the idle period',
      );
      const event = stream.frames.find((f) => f.text.includes('after-idle'));
      const pings = stream.frames.filter((f) => f.text === ': ping').length;
      expect((event?.at ?? 0) - stream.openedAt).toBeGreaterThan(3 * READ_TIMEOUT_MS);
      expect(pings).toBeGreaterThanOrEqual(Math.floor(IDLE_MS / HEARTBEAT_MS) - 2);
      await stream.waitFor((s) => s.complete, 'the stream to complete');
    } finally {
      await stream.close();
    }
  });

  it('control: without heartbeats nginx cuts the same stream after proxy_read_timeout', async () => {
    const stream = new WireStream(nginx.port, { path: '/api/idle?heartbeat=off' });
    try {
      await stream.waitForClose('nginx to close the silent stream');
      expect(stream.complete).toBe(false);
      expect(stream.frames.map((f) => f.text)).toEqual([': connected']);
      const lastByteAt = stream.reads[stream.reads.length - 1]?.at ?? 0;
      const silentFor = (stream.closedAt ?? 0) - lastByteAt;
      expect(silentFor).toBeGreaterThan(0.8 * READ_TIMEOUT_MS);
      expect(silentFor).toBeLessThan(IDLE_MS);
      const seen = upstream.requestsTo('/api/idle').find((r) => r.url.endsWith('heartbeat=off'));
      await seen?.closed;
      expect(seen?.abortedByPeer).toBe(true);
      expect(nginx.logs()).toContain('upstream timed out');
    } finally {
      await stream.close();
    }
  });
});

describe('nginx reference config: least_conn over two replicas', () => {
  let a: SseUpstream;
  let b: SseUpstream;

  beforeAll(async () => {
    a = await SseUpstream.start(standIn('a'));
    b = await SseUpstream.start(standIn('b'));
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  /** Holds one stream open, then sends 4 short requests on fresh connections; returns where they went. */
  async function shortRequestsBesideAnOpenStream(nginx: RunningNginx, tag: string) {
    const held = new WireStream(nginx.port, { path: `/api/hold?case=${tag}` });
    try {
      await held.waitFor((s) => s.frames.length > 0, 'the held stream to open');
      const holder = a.requests.some((r) => r.url === `/api/hold?case=${tag}`) ? 'a' : 'b';
      const went: string[] = [];
      for (let i = 0; i < 4; i++) {
        const reply = await request(`${nginx.url}/api/ping`);
        went.push((JSON.parse(reply.body.toString()) as { replica: string }).replica);
      }
      return { holder, went };
    } finally {
      await held.close();
    }
  }

  it('sends new requests to the replica without the open stream', async () => {
    const nginx = await startNginx({ upstreams: [a.port, b.port] });
    try {
      const { holder, went } = await shortRequestsBesideAnOpenStream(nginx, 'least-conn');
      expect(went).toHaveLength(4);
      expect(went.filter((replica) => replica === holder)).toEqual([]);
    } finally {
      await nginx.stop();
    }
  });

  it('control: with round-robin some of them land on the busy replica', async () => {
    const nginx = await startNginx({
      upstreams: [a.port, b.port],
      editServerConf: (conf) => conf.replace(/^\s*least_conn;$/m, ''),
    });
    try {
      const { holder, went } = await shortRequestsBesideAnOpenStream(nginx, 'round-robin');
      expect(went.filter((replica) => replica === holder).length).toBeGreaterThan(0);
    } finally {
      await nginx.stop();
    }
  });
});
