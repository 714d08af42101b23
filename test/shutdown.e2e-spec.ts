import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { buildAppOnce } from './support/app-process';
import { get, JsonResponse } from './support/http';
import { StreamReader } from './support/sse-client';

const ROOT = path.resolve(__dirname, '..');
/** The compiled app (buildAppOnce: the tests' own build, never racing `npm run build` over dist/). */
let mainJs = '';
const GRACE_MS = 3000;
const RETRY_MS = 200;

interface Started {
  child: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `node <build>/main.js` on a free loopback port; resolves once it logs its address. */
function startProcess(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [mainJs], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        const address = /listening on (http:\/\/[\d.]+:\d+)/.exec(line);
        if (address) resolve({ child, url: address[1]!, lines, exited });
      }
    });
    void exited.then(({ code }) =>
      reject(new Error(`exited with ${code} before listening: ${stderr}`)),
    );
  });
}

describe('graceful shutdown of a real process (SIGTERM)', () => {
  let started: Started | undefined;
  const streams: StreamReader[] = [];

  beforeAll(async () => {
    mainJs = await buildAppOnce();
  }, 120_000);

  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    if (started && started.child.exitCode === null && started.child.signalCode === null) {
      started.child.kill('SIGKILL');
      await started.exited;
    }
    started = undefined;
  });

  it('turns readiness false, ends every stream with a jittered retry hint, then exits 0', async () => {
    started = await startProcess({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      TICKER_INTERVAL_MS: '0',
      MONITOR_INTERVAL_MS: '0',
      SSE_RETRY_MS: String(RETRY_MS),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
    });
    const { child, url, lines, exited } = started;
    expect((await get(`${url}/health/ready`)).status).toBe(200);

    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const stream = new StreamReader(`${url}/events`);
      streams.push(stream);
      stream.request.once('response', (res) => res.once('end', () => order.push(`end ${i}`)));
    }
    await Promise.all(
      streams.map((s) => s.waitFor((x) => x.text.includes(': connected'), 5000, 'open')),
    );
    void exited.then(() => order.push('exit'));

    child.kill('SIGTERM');

    // Readiness goes false at once and stays reachable while the streams are drained (they are
    // ended over the first half of SHUTDOWN_GRACE_MS). Poll, bounded, until the 503 shows up.
    let ready: JsonResponse | undefined;
    for (let attempt = 0; attempt < 200 && ready?.status !== 503; attempt++) {
      ready = await get(`${url}/health/ready`);
    }
    expect(ready?.status).toBe(503);
    expect(JSON.parse(ready!.body)).toMatchObject({ error: { shutdown: { status: 'down' } } });
    // A new stream is refused while draining, with a hint of when to retry (elsewhere).
    const refused = await get(`${url}/events`);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();

    await Promise.all(streams.map((s) => s.waitFor((x) => x.ended, GRACE_MS + 5000, 'stream end')));
    for (const stream of streams) {
      const last = /: shutdown\nretry: (\d+)\n\n$/.exec(stream.text);
      expect(last).not.toBeNull();
      const retry = Number(last![1]);
      expect(retry).toBeGreaterThanOrEqual(RETRY_MS);
      expect(retry).toBeLessThanOrEqual(2 * RETRY_MS);
    }

    const { code, signal } = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    // Every stream was ended by the server before the process went away.
    expect(order.slice(0, 3).sort()).toEqual(['end 0', 'end 1', 'end 2']);
    expect(order[3]).toBe('exit');

    // Structured logs: every stdout line is one JSON object; the drain and the streams are in them.
    const records = lines
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.some((r) => /draining: 3 open stream/.test(String(r.msg)))).toBe(true);
    expect(records.some((r) => /drained 3 stream/.test(String(r.msg)))).toBe(true);
    const streamLogs = records.filter(
      (r) =>
        (r.req as { url?: string } | undefined)?.url === '/events' && r.msg === 'request completed',
    );
    expect(
      streamLogs.filter((r) => (r.res as { statusCode: number }).statusCode === 200),
    ).toHaveLength(3);
    // Probes are logged at debug: none of them at info.
    expect(
      records.some((r) => (r.req as { url?: string } | undefined)?.url === '/health/ready'),
    ).toBe(false);
  }, 60_000);
});
