import http from 'node:http';
import https from 'node:https';
import { startNginx, testNginxConfig, type RunningNginx } from './support/nginx';
import { H2Stream } from './support/h2-stream';
import { SseUpstream, type Exchange } from './support/sse-upstream';
import { startTopology, type Topology } from './support/topology';
import type { WireFrame } from './support/wire-stream';

/**
 * The reference nginx config over TLS and HTTP/2 (listen.conf in the `ssl http2` form of Debian's
 * nginx 1.22), driven by node:http2, first in front of a scripted stand-in for the app
 * (test/support/sse-upstream.ts, which never sends X-Accel-Buffering), then in front of the built
 * app. Every streaming guarantee of the HTTP/1.1 tests (test/nginx.e2e-spec.ts) is checked again
 * over h2: no buffering, heartbeats through, typewriter pacing, no gzip on streams.
 */

jest.setTimeout(30_000);

const COUNT = 6;
/** A lockstep event that is not acknowledged within this is sent anyway (and the test fails). */
const ACK_FALLBACK_MS = 8000;
const READ_TIMEOUT_MS = 1000;
const HEARTBEAT_MS = 300;
const IDLE_MS = 3300;

/**
 * Lockstep: the stand-in writes event n+1 only once the client has received event n (the test
 * acknowledges it in process), so "each event reached the client before the next was written" is
 * decided by the order of events, not by timing. Were nginx to hold events back, no
 * acknowledgement would come; after ACK_FALLBACK_MS the stand-in writes on anyway and marks the
 * event `by: "timer"`, which the test rejects.
 */
const acks = new Map<string, () => void>();

function standIn(x: Exchange): void {
  const url = new URL(x.req.url ?? '/', 'http://upstream');
  switch (url.pathname) {
    case '/events':
    case '/api/stream':
    case '/api/ai/chat': {
      const key = url.searchParams.get('key') ?? '';
      const interval = Number(url.searchParams.get('interval') ?? 0);
      x.openStream();
      x.frame('retry: 1000\n: connected');
      const send = (seq: number, by: 'ack' | 'timer' | 'start') => {
        acks.delete(key);
        x.frame(`id: ${seq}\ndata: {"seq":${seq},"by":"${by}"}`);
        if (seq + 1 >= COUNT) {
          x.res.end();
          return;
        }
        if (interval > 0) {
          x.after(interval, () => send(seq + 1, 'timer'));
          return;
        }
        let sent = false;
        acks.set(key, () => {
          if (!sent) send(seq + 1, 'ack');
          sent = true;
        });
        x.after(ACK_FALLBACK_MS, () => {
          if (!sent) send(seq + 1, 'timer');
          sent = true;
        });
      };
      send(0, 'start');
      return;
    }
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
    case '/api/headers':
      x.res.writeHead(200, { 'Content-Type': 'application/json' });
      x.res.end(JSON.stringify(x.req.headers));
      return;
    default:
      x.res.writeHead(404, { 'Content-Type': 'application/json' });
      x.res.end('{"statusCode":404,"error":"Not Found","message":"no such path"}');
  }
}

interface Event {
  seq: number;
  by: string;
  read: number;
}

const eventsOf = (frames: WireFrame[]): Event[] =>
  frames
    .filter((f) => f.text.includes('data: '))
    .map((f) => ({
      ...(JSON.parse(f.text.slice(f.text.indexOf('data: ') + 6)) as { seq: number; by: string }),
      read: f.read,
    }));

/** Opens an h2 stream that acknowledges each lockstep event as it arrives. */
function lockstep(
  nginx: RunningNginx,
  key: string,
  request: { method?: string; path: string; body?: string },
) {
  const stream = new H2Stream(nginx.url, nginx.certificate, request);
  stream.onEachFrame((frame) => {
    if (frame.text.includes('data: ')) acks.get(key)?.();
  });
  return stream;
}

function get(
  url: string,
  ca?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.get(url, { ca, servername: 'localhost', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('nginx reference config over TLS and HTTP/2: nginx -t', () => {
  it('accepts the TLS server with `listen ... ssl http2` on this nginx', async () => {
    const result = await testNginxConfig({ upstreams: [3000], protocol: 'h2' });
    expect(result.output).toContain('test is successful');
    expect(result.ok).toBe(true);
  });

  it('control: refuses a TLS listener without a certificate (the TLS part is checked)', async () => {
    const result = await testNginxConfig({
      upstreams: [3000],
      protocol: 'h2',
      editServerConf: (conf) => conf.replace('include certificate.conf;', ''),
    });
    expect(result.ok).toBe(false);
    expect(result.output).toContain('no "ssl_certificate" is defined');
  });
});

describe('nginx reference config over TLS and HTTP/2', () => {
  let upstream: SseUpstream;
  let nginx: RunningNginx;

  beforeAll(async () => {
    upstream = await SseUpstream.start(standIn);
    nginx = await startNginx({
      upstreams: [upstream.port],
      protocol: 'h2',
      readTimeout: `${READ_TIMEOUT_MS}ms`,
    });
  });

  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
  });

  describe('TLS', () => {
    it('negotiates HTTP/2 by ALPN, over TLS 1.2 or later, and tells the app the scheme and host the client used', async () => {
      const stream = new H2Stream(nginx.url, nginx.certificate, { path: '/api/headers' });
      try {
        await stream.waitFor((s) => s.complete, 'the answer');
        expect(stream.alpnProtocol).toBe('h2');
        expect(['TLSv1.2', 'TLSv1.3']).toContain(stream.tlsVersion);
        const seen = JSON.parse(
          Buffer.concat(stream.reads.map((r) => r.bytes)).toString(),
        ) as Record<string, string>;
        expect(seen['x-forwarded-proto']).toBe('https');
        // HTTP/2 has no Host header: nginx takes the :authority the client sent (node:http2 sends
        // the TLS server name) for Host and X-Forwarded-Host alike.
        expect(seen.host).toBe('localhost');
        expect(seen['x-forwarded-host']).toBe(`localhost:${nginx.port}`);
      } finally {
        await stream.close();
      }
    });

    it('still serves HTTP/1.1 over TLS to a client that does not offer h2', async () => {
      const reply = await get(`${nginx.url}/nginx-health`, nginx.certificate);
      expect([reply.status, reply.body]).toEqual([200, 'ok\n']);
    });

    it('sends no Strict-Transport-Security by default (hsts.conf is off)', async () => {
      const reply = await get(`${nginx.url}/api/headers`, nginx.certificate);
      expect(reply.status).toBe(200);
      expect(reply.headers['strict-transport-security']).toBeUndefined();
    });

    it('control: with hsts.conf turned on, every answer carries it, streams included', async () => {
      const strict = await startNginx({
        upstreams: [upstream.port],
        protocol: 'h2',
        hsts: 'add_header Strict-Transport-Security "max-age=300" always;',
      });
      const stream = new H2Stream(strict.url, strict.certificate, {
        path: '/events?interval=10&key=hsts',
      });
      try {
        await stream.waitFor((s) => s.complete, 'the stream');
        expect(stream.header('strict-transport-security')).toBe('max-age=300');
        const missing = await get(`${strict.url}/nope`, strict.certificate);
        expect([missing.status, missing.headers['strict-transport-security']]).toEqual([
          404,
          'max-age=300',
        ]);
      } finally {
        await stream.close();
        await strict.stop();
      }
    });
  });

  describe('plain HTTP', () => {
    it('redirects every request to the same host, path and query on HTTPS', async () => {
      const reply = await get(`http://127.0.0.1:${nginx.redirectPort}/api/events?topic=a&topic=b`);
      expect(reply.status).toBe(301);
      expect(reply.headers.location).toBe(
        `https://127.0.0.1:${nginx.port}/api/events?topic=a&topic=b`,
      );
      expect(upstream.requestsTo('/api/events')).toHaveLength(0);
    });

    it('answers /nginx-health itself, for the container healthcheck', async () => {
      const reply = await get(`http://127.0.0.1:${nginx.redirectPort}/nginx-health`);
      expect([reply.status, reply.body]).toEqual([200, 'ok\n']);
    });
  });

  describe.each([
    ['GET', '/events'],
    ['GET', '/api/stream'],
    ['POST', '/api/ai/chat'],
  ])('%s %s over h2', (method, path) => {
    it('delivers each event in a DATA frame of its own before the app writes the next', async () => {
      const key = `${method}${path}`;
      const stream = lockstep(nginx, key, {
        method,
        path: `${path}?key=${encodeURIComponent(key)}`,
        ...(method === 'POST' ? { body: '{"messages":[{"role":"user","content":"hi"}]}' } : {}),
      });
      try {
        await stream.waitFor((s) => s.complete, 'the lockstep stream to complete', 20_000);
        expect(stream.status).toBe(200);
        expect(stream.header('content-type')).toBe('text/event-stream');
        const events = eventsOf(stream.frames);
        expect(events.map((e) => e.seq)).toEqual([...Array(COUNT).keys()]);
        // Every event after the first was written because the one before it had arrived.
        expect(events.slice(1).map((e) => e.by)).toEqual(Array(COUNT - 1).fill('ack'));
        expect(new Set(events.map((e) => e.read)).size).toBe(COUNT);
      } finally {
        await stream.close();
      }
    });
  });

  it('control: with nginx buffering over HTTP/1.0 to the app (its defaults), h2 gets the events in one burst at the end', async () => {
    const buffering = await startNginx({
      upstreams: [upstream.port],
      protocol: 'h2',
      editServerConf: (conf) =>
        conf
          .replace('proxy_buffering off;', 'proxy_buffering on;')
          .replace('proxy_http_version 1.1;', 'proxy_http_version 1.0;'),
    });
    const stream = new H2Stream(buffering.url, buffering.certificate, {
      path: '/api/stream?interval=100&key=burst',
    });
    try {
      await stream.waitFor((s) => s.complete, 'the buffered stream to complete');
      const events = eventsOf(stream.frames);
      expect(events.map((e) => e.seq)).toEqual([...Array(COUNT).keys()]);
      // Nothing came before the end: every event is in the last DATA frame(s), at least two per frame.
      expect(new Set(events.map((e) => e.read)).size).toBeLessThan(COUNT);
      expect(stream.frames[0]?.read).toBe(events[0]?.read);
    } finally {
      await stream.close();
      await buffering.stop();
    }
  });

  describe(`heartbeats against proxy_read_timeout ${READ_TIMEOUT_MS} ms, over h2`, () => {
    it('keeps a quiet stream open past the timeout thanks to `: ping`, and delivers the next event', async () => {
      const stream = new H2Stream(nginx.url, nginx.certificate, { path: '/api/idle?heartbeat=on' });
      try {
        await stream.waitFor((s) => s.complete, 'the event after the quiet spell', 15_000);
        const texts = stream.frames.map((f) => f.text);
        expect(texts.filter((t) => t === ': ping').length).toBeGreaterThanOrEqual(5);
        expect(texts.at(-1)).toBe('data: {"type":"after-idle"}');
      } finally {
        await stream.close();
      }
    });

    it('control: without heartbeats nginx cuts the same stream, and the event never arrives', async () => {
      const stream = new H2Stream(nginx.url, nginx.certificate, {
        path: '/api/idle?heartbeat=off',
      });
      try {
        await stream.waitForClose('nginx to cut the stream', 15_000);
        expect(stream.frames.map((f) => f.text)).toEqual([': connected']);
        expect(nginx.logs()).toContain('upstream timed out');
      } finally {
        await stream.close();
      }
    });
  });

  describe('compression over h2', () => {
    it('sends streams uncompressed to a client that accepts gzip', async () => {
      const stream = new H2Stream(nginx.url, nginx.certificate, {
        path: '/api/stream?interval=10&key=gzip',
        headers: { 'accept-encoding': 'gzip, deflate, br' },
      });
      try {
        await stream.waitFor((s) => s.complete, 'the stream');
        expect(stream.header('content-encoding')).toBeUndefined();
        expect(eventsOf(stream.frames).map((e) => e.seq)).toEqual([...Array(COUNT).keys()]);
      } finally {
        await stream.close();
      }
    });

    it('control: with gzip allowed on the stream location, the same h2 stream comes back compressed', async () => {
      const gzipping = await startNginx({
        upstreams: [upstream.port],
        protocol: 'h2',
        editServerConf: (conf) => conf.replace('gzip off;', 'gzip_types text/event-stream;'),
      });
      const stream = new H2Stream(gzipping.url, gzipping.certificate, {
        path: '/api/stream?interval=10&key=gzip-control',
        headers: { 'accept-encoding': 'gzip' },
      });
      try {
        await stream.waitFor((s) => s.complete, 'the stream');
        expect(stream.header('content-encoding')).toBe('gzip');
      } finally {
        await stream.close();
        await gzipping.stop();
      }
    });
  });
});

describe('the built app behind the reference nginx, over HTTP/2', () => {
  let topology: Topology;
  const json = (frame: WireFrame) => {
    const line = frame.text.split('\n').find((l) => l.startsWith('data: '));
    return line
      ? (JSON.parse(line.slice(6)) as { type?: string; char?: string; index?: number })
      : {};
  };

  beforeAll(async () => {
    topology = await startTopology({
      replicas: 1,
      env: { TYPEWRITER_INTERVAL_MS: '100', TICKER_INTERVAL_MS: '0' },
      nginx: { protocol: 'h2' },
    });
  });

  afterAll(async () => {
    await topology?.stop();
  });

  it('types one character per DATA frame, in order, uncompressed: the typewriter pacing survives h2', async () => {
    const stream = new H2Stream(topology.url, topology.nginx.certificate, {
      path: '/api/stream?text=rivulet',
      headers: { 'accept-encoding': 'gzip' },
    });
    try {
      await stream.waitFor((s) => s.complete, 'the typewriter to finish');
      expect(stream.status).toBe(200);
      expect(stream.header('content-encoding')).toBeUndefined();
      const chunks = stream.frames.filter((f) => json(f).type === 'chunk');
      expect(chunks.map((f) => json(f).char).join('')).toBe('rivulet');
      expect(chunks.map((f) => json(f).index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      // One by one, not in a burst at the end: no two characters share a DATA frame, and the
      // `start` event came in a frame before the first character's.
      expect(new Set(chunks.map((f) => f.read)).size).toBe(chunks.length);
      const start = stream.frames.find((f) => json(f).type === 'start');
      expect(start?.read).toBeLessThan(chunks[0]?.read ?? -1);
    } finally {
      await stream.close();
    }
  });

  it('resumes the typewriter after the Last-Event-ID sent over h2', async () => {
    const stream = new H2Stream(topology.url, topology.nginx.certificate, {
      path: '/api/stream?text=rivulet',
      headers: { 'last-event-id': '3' },
    });
    try {
      await stream.waitFor((s) => s.complete, 'the typewriter to finish');
      expect(
        stream.frames.filter((f) => json(f).type === 'chunk').map((f) => json(f).index),
      ).toEqual([4, 5, 6]);
    } finally {
      await stream.close();
    }
  });
});
