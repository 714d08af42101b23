// The contenders: how to start each one, where it subscribes and publishes, how its memory is
// read. Each exposes the same two operations to the load client: an SSE subscribe URL and an HTTP
// POST publish URL taking `{"type","data"}`.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, fullOutputOf, sleep, spawnPinned, stop, waitForPort } from './children.mjs';
import { parseFrame } from './http-stream.mjs';
import { rssBytes } from './proc.mjs';

export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const PRELOAD = join(BENCH_DIR, 'lib', 'preload.cjs');
export const REPO_DIR = join(BENCH_DIR, '..');

const baseline = (name, file, why) => ({
  name,
  why,
  cwd: REPO_DIR,
  entry: join(BENCH_DIR, 'contenders', file),
  subscribePath: '/events',
  publishPath: '/publish',
  memory: 'stats',
  env: {},
  readyTimeoutMs: 10_000,
});

// Every configuration variable of the contract, removed from the inherited environment so the
// shell the benchmark runs in cannot change what is measured.
const RIVULET_VARIABLES = [
  'PORT',
  'CORS_ORIGINS',
  'CORS_CREDENTIALS',
  'STORE',
  'REDIS_URL',
  'STORE_RETENTION',
  'SSE_RETRY_MS',
  'SSE_HEARTBEAT_MS',
  'SSE_MAX_BUFFER_BYTES',
  'TICKER_INTERVAL_MS',
  'TYPEWRITER_INTERVAL_MS',
  'MONITOR_INTERVAL_MS',
  'AI_PROVIDER',
  'AI_BASE_URL',
  'AI_API_KEY',
  'AI_MODEL',
  'AI_DETACH_GRACE_MS',
  'AUTH_JWT_SECRET',
  'PUBLIC_TOPICS',
  'MAX_CONNECTIONS',
  'MAX_CONNECTIONS_PER_IP',
  'MAX_REQUESTS_PER_IP',
  'MAX_BODY_BYTES',
  'MAX_JSON_DEPTH',
  'REQUEST_TIMEOUT_MS',
  'STORE_MAX_BYTES',
  'AI_MAX_GENERATIONS_PER_USER',
  'AI_RETENTION_MS',
  'SHUTDOWN_GRACE_MS',
  'LOG_LEVEL',
  'NODE_ENV',
];

// Left out (once, for the rest of the run) if the app refuses to start with them.
const OPTIONAL_VARIABLES = ['MONITOR_INTERVAL_MS', 'TICKER_INTERVAL_MS'];

export function rivuletDir() {
  return process.env.BENCH_RIVULET_DIR || REPO_DIR;
}

export const CONTENDERS = {
  raw: baseline('raw', 'raw.mjs', 'node:http, a Set of responses, one write per client'),
  express: baseline('express', 'express.mjs', 'the common Express tutorial pattern, Express 5'),
  'better-sse': baseline('better-sse', 'better-sse.mjs', 'better-sse 0.16, one channel, broadcast'),
  rivulet: {
    name: 'rivulet',
    why: 'the real app, node dist/main.js',
    get cwd() {
      return rivuletDir();
    },
    get entry() {
      return join(rivuletDir(), 'dist', 'main.js');
    },
    subscribePath: '/api/events?topic=bench',
    publishPath: '/api/events/bench',
    replayPath: '/api/events?topic=bench',
    typewriterPath: '/api/stream',
    memory: 'metrics',
    env: {
      TICKER_INTERVAL_MS: '0',
      MONITOR_INTERVAL_MS: '0',
      LOG_LEVEL: 'warn',
      MAX_CONNECTIONS: '100000',
      MAX_CONNECTIONS_PER_IP: '100000',
      MAX_REQUESTS_PER_IP: '100000',
      STORE_RETENTION: '2000',
      SSE_HEARTBEAT_MS: '15000',
      NODE_ENV: 'development',
    },
    readyTimeoutMs: 30_000,
    droppedVariables: [],
  },
};

export const ALL_CONTENDERS = Object.keys(CONTENDERS);

function environment(contender, port, extraEnv) {
  const env = { ...process.env };
  if (contender.name === 'rivulet') for (const name of RIVULET_VARIABLES) delete env[name];
  Object.assign(env, contender.env, extraEnv, { PORT: String(port) });
  for (const name of contender.droppedVariables ?? []) delete env[name];
  return env;
}

async function startOnce(contender, extraEnv, nodeArgs = []) {
  const port = await freePort();
  const child = spawnPinned(
    SERVER_CPU,
    process.execPath,
    ['--expose-gc', ...nodeArgs, '-r', PRELOAD, contender.entry],
    { cwd: contender.cwd, env: environment(contender, port, extraEnv) },
  );
  try {
    await waitForPort(child, port, contender.readyTimeoutMs);
  } catch (err) {
    await stop(child);
    err.output = fullOutputOf(child);
    throw err;
  }
  return { contender, child, pid: child.pid, port };
}

/**
 * Starts a fresh server process for one scenario and waits until its port accepts. `nodeArgs`
 * go to node before the entry point (profiling flags).
 */
export async function startServer(contender, extraEnv = {}, nodeArgs = []) {
  try {
    return await startOnce(contender, extraEnv, nodeArgs);
  } catch (err) {
    const rejected = OPTIONAL_VARIABLES.filter(
      (name) => !contender.droppedVariables?.includes(name) && err.output?.includes(name),
    );
    if (contender.name !== 'rivulet' || rejected.length === 0) throw err;
    console.error(`rivulet: start-up rejected ${rejected.join(', ')}; starting without`);
    contender.droppedVariables.push(...rejected);
    return startOnce(contender, extraEnv, nodeArgs);
  }
}

export const stopServer = (server) => stop(server?.child);

/**
 * @param {number} port
 * @param {string} path
 * @param {{ method?: string, body?: unknown, headers?: Record<string, string>, timeoutMs?: number }} [options]
 */
export function httpRequest(
  port,
  path,
  { method = 'GET', body, headers = {}, timeoutMs = 5000 } = {},
) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        headers: payload
          ? {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(payload),
              ...headers,
            }
          : headers,
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Memory after a full GC: RSS from /proc always; heap from the baseline's /__stats, or from
 * Rivulet's Prometheus metrics (GC triggered through the preload's SIGWINCH handler).
 */
export async function readMemory(server) {
  let heapUsed = NaN;
  let connections;
  if (server.contender.memory === 'stats') {
    const res = await httpRequest(server.port, '/__stats');
    const stats = JSON.parse(res.text);
    heapUsed = stats.heapUsed;
    connections = stats.connections;
  } else {
    process.kill(server.pid, 'SIGWINCH');
    await sleep(300);
    try {
      const res = await httpRequest(server.port, '/metrics');
      const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})?\s+([0-9.eE+]+)/m.exec(res.text);
      if (res.status === 200 && m) heapUsed = Number(m[1]);
    } catch {
      // heap stays n/a
    }
  }
  return { rss: rssBytes(server.pid), heapUsed, connections };
}

// ---------------------------------------------------------------- rivulet: build and probe

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Runs `npm run build` in the Rivulet checkout unless dist/main.js is newer than every source. */
export async function buildRivulet() {
  const dir = rivuletDir();
  const main = join(dir, 'dist', 'main.js');
  if (process.env.BENCH_SKIP_BUILD === '1') {
    if (!existsSync(main)) throw new Error(`BENCH_SKIP_BUILD=1 but ${main} does not exist`);
    return 'build skipped (BENCH_SKIP_BUILD=1)';
  }
  if (!existsSync(join(dir, 'src'))) throw new Error(`no src/ in ${dir}, nothing to build`);
  const sources = ['src', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];
  const newestSource = Math.max(...sources.map((p) => newestMtime(join(dir, p))));
  if (existsSync(main) && statSync(main).mtimeMs >= newestSource) return 'dist/ up to date';
  const started = Date.now();
  await new Promise((resolve, reject) => {
    execFile(
      'npm',
      ['run', 'build'],
      { cwd: dir, timeout: 240_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve();
        // Without npm's own lines (the echoed script, warnings), the compiler's remain.
        const lines = `${stdout}\n${stderr}`
          .split('\n')
          .filter((l) => l.trim() !== '' && !l.startsWith('>') && !/^npm (warn|notice)/i.test(l));
        const first = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? err.message;
        reject(new Error(`npm run build failed: ${first.trim()}\n${lines.slice(-8).join('\n')}`));
      },
    );
  });
  if (!existsSync(main)) throw new Error('npm run build succeeded but dist/main.js is missing');
  return `built in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

/** Reads an SSE response through node:http until `until(frames)` is true or the timeout. */
function readStream(port, path, headers, until, timeoutMs = 3000) {
  return new Promise((resolve) => {
    const frames = [];
    let text = '';
    let status = 0;
    let contentType = '';
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ status, contentType, frames, error });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      status = res.statusCode;
      contentType = String(res.headers['content-type'] ?? '');
      if (status !== 200) return finish(`HTTP ${status}`);
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
        let end;
        while ((end = text.indexOf('\n\n')) !== -1) {
          frames.push(parseFrame(text.slice(0, end)));
          text = text.slice(end + 2);
        }
        if (until(frames)) finish();
      });
      res.on('end', () => finish('stream ended'));
    });
    req.on('error', (err) => finish(err.message));
  });
}

const dataFrames = (frames) => frames.filter((f) => f.data !== undefined && f.id !== undefined);

/**
 * Checks what the running Rivulet supports, so each scenario can say "not available (reason)"
 * instead of failing: subscribe + publish on a topic, replay by Last-Event-ID, the typewriter,
 * heap figures in /metrics.
 */
export async function probeRivulet(server) {
  const caps = {};
  const port = server.port;
  const { subscribePath, publishPath } = server.contender;
  const no = (reason) => ({ ok: false, reason });

  const live = readStream(port, subscribePath, {}, (f) => dataFrames(f).length >= 2);
  await sleep(300);
  const published = [];
  let publishError;
  for (let i = 0; i < 2; i++) {
    try {
      const res = await httpRequest(port, publishPath, {
        method: 'POST',
        body: { type: 'message', data: { seq: i, t: 0, probe: true } },
      });
      const id = res.status === 202 ? JSON.parse(res.text).id : undefined;
      if (typeof id !== 'string' || id === '') {
        publishError = `POST ${publishPath} answered ${res.status} ${res.text.slice(0, 80)}`;
        break;
      }
      published.push(id);
    } catch (err) {
      publishError = `POST ${publishPath}: ${err.message}`;
      break;
    }
  }
  const stream = await live;
  if (stream.status !== 200 || !stream.contentType.startsWith('text/event-stream')) {
    caps.subscribe = no(
      `GET ${subscribePath}: ${stream.error ?? `content-type ${stream.contentType}`}`,
    );
  } else caps.subscribe = { ok: true };

  if (publishError) caps.publish = no(publishError);
  else if (!caps.subscribe.ok) caps.publish = no('subscribe failed');
  else {
    const got = dataFrames(stream.frames);
    const payload = got[0] && JSON.parse(got[0].data);
    if (got.length < 2) caps.publish = no(`published events did not arrive (${stream.error})`);
    else if (payload?.data?.t === undefined)
      caps.publish = no(`unexpected payload ${got[0].data.slice(0, 80)}`);
    else caps.publish = { ok: true };
  }

  if (!caps.publish.ok) caps.replay = no('publish failed');
  else {
    const resumed = await readStream(
      port,
      subscribePath,
      { 'Last-Event-ID': published[0] },
      (f) => dataFrames(f).length >= 1,
    );
    const first = dataFrames(resumed.frames)[0];
    if (first?.id === published[1]) caps.replay = { ok: true };
    else caps.replay = no(`resume after ${published[0]} gave ${first?.id ?? resumed.error}`);
  }

  const tw = await readStream(
    port,
    `${server.contender.typewriterPath}?text=ab`,
    {},
    (f) => f.some((x) => x.data?.includes('"chunk"')),
    5000,
  );
  caps.typewriter = tw.frames.some((x) => x.data?.includes('"chunk"'))
    ? { ok: true }
    : no(`GET ${server.contender.typewriterPath}: ${tw.error ?? 'no chunk event'}`);

  const heap = await readMemory(server).catch(() => ({ heapUsed: NaN }));
  caps.heap = Number.isFinite(heap.heapUsed)
    ? { ok: true }
    : no('/metrics has no nodejs_heap_size_used_bytes');
  return caps;
}
