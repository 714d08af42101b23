import path from 'node:path';
import { REPO, run } from './support/deploy-files';
import { startTopology, type Topology } from './support/topology';
import { WireStream, type WireFrame } from './support/wire-stream';

/**
 * The built app (`node dist/main.js`, several processes) behind the real nginx with the reference
 * config: the stack of docker-compose.yml, on loopback. Needs `npm run build` first.
 */

jest.setTimeout(30_000);

const TYPEWRITER_INTERVAL_MS = 100;
const READ_TIMEOUT_MS = 1000;
const TICKER_INTERVAL_MS = 4000;

const json = (frame: WireFrame) => {
  const data = frame.text.split('\n').find((line) => line.startsWith('data: '));
  return data ? (JSON.parse(data.slice(6)) as Record<string, unknown>) : undefined;
};
const ofType = (frames: WireFrame[], type: string) => frames.filter((f) => json(f)?.type === type);

describe('two replicas of the built app behind the reference nginx', () => {
  let topology: Topology;

  beforeAll(async () => {
    topology = await startTopology({
      replicas: 2,
      env: { TYPEWRITER_INTERVAL_MS: String(TYPEWRITER_INTERVAL_MS), TICKER_INTERVAL_MS: '0' },
    });
    // The start includes compiling the app (buildAppOnce), slow when other suites compile too.
  }, 300_000);

  afterAll(async () => {
    await topology?.stop();
  });

  it('delivers the typewriter one character per read, spaced as the app sends them, uncompressed', async () => {
    const stream = new WireStream(topology.nginx.port, {
      path: '/api/stream?text=rivulet',
      headers: { 'Accept-Encoding': 'gzip' },
    });
    try {
      await stream.waitFor((s) => s.complete, 'the typewriter to finish');
      expect(stream.status).toBe(200);
      expect(stream.header('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.header('content-encoding')).toBeUndefined();
      expect(stream.header('x-request-id')).toMatch(/^[0-9a-f]{32}$/);

      const chunks = ofType(stream.frames, 'chunk');
      expect(chunks.map((f) => json(f)?.char).join('')).toBe('rivulet');
      expect(new Set(chunks.map((f) => f.read)).size).toBe(chunks.length);
      const gaps = chunks.slice(1).map((f, i) => f.at - (chunks[i]?.at ?? 0));
      const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)] ?? NaN;
      expect(median / TYPEWRITER_INTERVAL_MS).toBeGreaterThan(0.5);
      expect(median / TYPEWRITER_INTERVAL_MS).toBeLessThan(1.5);
    } finally {
      await stream.close();
    }
  });

  it("answers the image's healthcheck, and /health/ready through nginx", async () => {
    for (const replica of topology.replicas) {
      const check = await run(process.execPath, [path.join(REPO, 'scripts/healthcheck.mjs')], {
        env: { PORT: String(replica.port) },
      });
      expect([replica.port, check.code]).toEqual([replica.port, 0]);
    }
    const ready = await fetch(`${topology.url}/health/ready`);
    expect(ready.status).toBe(200);
    await ready.body?.cancel();
  });

  it('resumes the typewriter after the Last-Event-ID sent through nginx', async () => {
    const stream = new WireStream(topology.nginx.port, {
      path: '/api/stream?text=rivulet',
      headers: { 'Last-Event-ID': '3' },
    });
    try {
      await stream.waitFor((s) => s.complete, 'the typewriter to finish');
      expect(ofType(stream.frames, 'chunk').map((f) => json(f)?.index)).toEqual([4, 5, 6]);
    } finally {
      await stream.close();
    }
  });
});

describe(`the app's heartbeat against nginx's proxy_read_timeout (${READ_TIMEOUT_MS} ms)`, () => {
  // Ticks TICKER_INTERVAL_MS apart: longer than three read timeouts of silence but for heartbeats.
  const ticks = (s: WireStream) => ofType(s.frames, 'message');

  it('keeps /events open between two ticks when SSE_HEARTBEAT_MS is shorter than the timeout', async () => {
    const topology = await startTopology({
      replicas: 1,
      env: { SSE_HEARTBEAT_MS: '300', TICKER_INTERVAL_MS: String(TICKER_INTERVAL_MS) },
      nginx: { readTimeout: `${READ_TIMEOUT_MS}ms` },
    });
    const stream = new WireStream(topology.nginx.port, { path: '/events' });
    try {
      await stream.waitFor((s) => ticks(s).length >= 2, 'two ticks', 15_000);
      const [first, second] = ticks(stream);
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThan(3 * READ_TIMEOUT_MS);
      const pingsBetween = stream.frames.filter(
        (f) => f.text === ': ping' && f.at > (first?.at ?? 0) && f.at < (second?.at ?? 0),
      );
      expect(pingsBetween.length).toBeGreaterThanOrEqual(5);
    } finally {
      await stream.close();
      await topology.stop();
    }
  });

  it('control: with SSE_HEARTBEAT_MS above the timeout, nginx cuts the quiet stream', async () => {
    const topology = await startTopology({
      replicas: 1,
      env: { SSE_HEARTBEAT_MS: '60000', TICKER_INTERVAL_MS: String(TICKER_INTERVAL_MS) },
      nginx: { readTimeout: `${READ_TIMEOUT_MS}ms` },
    });
    const stream = new WireStream(topology.nginx.port, { path: '/events' });
    try {
      await stream.waitForClose('nginx to cut the stream', 15_000);
      expect(stream.complete).toBe(false);
      expect(ticks(stream).length).toBeLessThan(2);
      const silentFor = (stream.closedAt ?? 0) - (stream.reads[stream.reads.length - 1]?.at ?? 0);
      expect(silentFor).toBeGreaterThan(0.8 * READ_TIMEOUT_MS);
      expect(topology.nginx.logs()).toContain('upstream timed out');
    } finally {
      await stream.close();
      await topology.stop();
    }
  });
});
