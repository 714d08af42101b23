// Load client. Runs as a child of bench/run.mjs (pinned to its own core) and takes commands over
// the IPC channel. It holds many SSE subscriptions on raw sockets, counts event frames with a
// byte scanner, samples publish-to-receive latency on a few sockets, and publishes over HTTP.
//
// An "event frame" is a frame whose first byte is not ':' (comment) and not 'r' (a retry hint):
// the connect preamble and heartbeats are not counted, so deliveries are events only.

import http from 'node:http';
import net from 'node:net';
import { HttpStream, SseFrameReader, requestHead } from './lib/http-stream.mjs';

const HOST = '127.0.0.1';
const NL = 10;
const COLON = 58;
const LETTER_R = 114;
const FRAME_END = Buffer.from('\n\n');
const T_FIELD = Buffer.from('"t":');
const CONNECT_TIMEOUT_MS = 20_000;

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Every subscription reads into this one buffer (net's `onread`), skipping the stream machinery:
// reads are handled synchronously, so sharing it is safe and keeps the client's cost per read low.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function connectRaw(port, onData) {
  return net.connect({
    host: HOST,
    port,
    noDelay: true,
    onread: { buffer: READ_BUFFER, callback: (n, buf) => onData(buf.subarray(0, n)) },
  });
}

/** A promise that settles with `value` after `ms`, for bounding waits. */
const after = (ms, value) => new Promise((r) => setTimeout(r, Math.max(0, ms), value));

/** Counters shared by every subscription of this process. */
const totals = {
  events: 0,
  open: 0,
  droppedAfterOpen: 0,
  latency: [],
  target: Infinity,
  onTarget: null,
};

function countEvent() {
  if (++totals.events >= totals.target) {
    const fire = totals.onTarget;
    totals.target = Infinity;
    totals.onTarget = null;
    if (fire) fire();
  }
}

/** Resolves true once `target` events were counted in total, false on timeout. */
function waitEvents(target, timeoutMs) {
  if (totals.events >= target) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        totals.target = Infinity;
        totals.onTarget = null;
        resolve(false);
      },
      Math.max(0, timeoutMs),
    );
    totals.target = target;
    totals.onTarget = () => {
      clearTimeout(timer);
      resolve(true);
    };
  });
}

class Subscription extends HttpStream {
  constructor(port, path, headers, onSettled) {
    super();
    this.state = 'connecting';
    this.sampled = false;
    this.events = 0;
    this.frameFirst = -1;
    this.lastNL = false;
    this.onSettled = onSettled;
    this.timer = setTimeout(() => this.fail('timeout'), CONNECT_TIMEOUT_MS);
    const sock = connectRaw(port, (buf) => this.onData(buf));
    this.sock = sock;
    sock.on('connect', () => sock.write(requestHead(HOST, port, path, headers)));
    sock.on('error', (err) =>
      this.fail(/** @type {NodeJS.ErrnoException} */ (err).code || err.message),
    );
    sock.on('close', () => this.onClose());
  }

  settle(ok, reason) {
    if (!this.onSettled) return;
    clearTimeout(this.timer);
    const cb = this.onSettled;
    this.onSettled = null;
    cb(ok, reason);
  }

  fail(reason) {
    if (this.state === 'connecting') {
      this.state = 'failed';
      this.settle(false, reason);
    }
    this.sock.destroy();
  }

  onHead() {
    if (this.status !== 200) {
      this.fail(`http_${this.status}`);
      return;
    }
    this.state = 'open';
    totals.open++;
    this.settle(true);
  }

  onClose() {
    if (this.state === 'open') {
      totals.open--;
      if (!this.closing) totals.droppedAfterOpen++;
    }
    if (this.state === 'connecting') this.fail('closed');
    this.state = 'closed';
  }

  onData(buf) {
    if (this.sampled && this.headerDone) this.sample(buf);
    this.feed(buf);
  }

  /** Latency: every `"t":<microseconds>` in the bytes just received, against the clock now. */
  sample(buf) {
    let pos = buf.indexOf(T_FIELD);
    if (pos === -1) return;
    const now = nowUs();
    while (pos !== -1) {
      let i = pos + T_FIELD.length;
      let t = 0;
      let digits = 0;
      while (i < buf.length && buf[i] >= 48 && buf[i] <= 57) {
        t = t * 10 + (buf[i] - 48);
        i++;
        digits++;
      }
      // A number cut by the end of the read is skipped rather than misread.
      if (digits > 0 && i < buf.length) totals.latency.push(now - t);
      pos = buf.indexOf(T_FIELD, i);
    }
  }

  body(buf, from, to) {
    let pos = from;
    if (this.lastNL && buf[pos] === NL) {
      this.endFrame();
      pos++;
    }
    this.lastNL = false;
    while (pos < to) {
      if (this.frameFirst === -1) this.frameFirst = buf[pos];
      const end = buf.indexOf(FRAME_END, pos);
      if (end === -1 || end + 2 > to) {
        this.lastNL = buf[to - 1] === NL;
        return;
      }
      this.endFrame();
      pos = end + 2;
    }
  }

  endFrame() {
    const first = this.frameFirst;
    this.frameFirst = -1;
    if (first !== COLON && first !== LETTER_R && first !== -1) {
      this.events++;
      countEvent();
    }
  }

  close() {
    this.closing = true;
    this.sock.destroy();
  }
}

let subscriptions = [];

/** Opens `count` subscriptions, `concurrency` connecting at a time; none started after `maxMs`. */
function subscribe({ port, path, headers = {}, count, concurrency = 200, maxMs = 120_000 }) {
  const started = Date.now();
  const deadline = started + maxMs;
  const errors = {};
  let launched = 0;
  let settled = 0;
  let opened = 0;
  return new Promise((resolve) => {
    const done = () =>
      resolve({
        opened,
        failed: settled - opened,
        notStarted: count - launched,
        errors,
        ms: Date.now() - started,
      });
    const onSettled = (ok, reason) => {
      settled++;
      if (ok) opened++;
      else errors[reason] = (errors[reason] || 0) + 1;
      launch();
    };
    const launch = () => {
      const open = Date.now() < deadline;
      while (open && launched < count && launched - settled < concurrency) {
        launched++;
        subscriptions.push(new Subscription(port, path, headers, onSettled));
      }
      if (settled === launched && (launched === count || !open)) done();
    };
    launch();
  });
}

function openSubscriptions() {
  return subscriptions.filter((s) => s.state === 'open');
}

/** Marks `count` open subscriptions, spread evenly over connection order, for latency sampling. */
function setSampling({ count }) {
  for (const s of subscriptions) s.sampled = false;
  const open = openSubscriptions();
  const n = Math.min(count, open.length);
  for (let i = 0; i < n; i++) open[Math.floor((i * open.length) / n)].sampled = true;
  totals.latency = [];
  return { sampled: n };
}

async function closeAll() {
  const closing = subscriptions.filter((s) => s.state !== 'closed');
  await Promise.all(
    closing.map(
      (s) =>
        new Promise((resolve) => {
          s.sock.once('close', resolve);
          s.close();
        }),
    ),
  );
  subscriptions = [];
  return { closed: closing.length };
}

// ---------------------------------------------------------------- publishing

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function post(port, path, body) {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      {
        host: HOST,
        port,
        path,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, text }));
        res.on('error', (err) => resolve({ status: 0, text: err.message }));
      },
    );
    req.on('error', (err) =>
      resolve({ status: 0, text: /** @type {NodeJS.ErrnoException} */ (err).code || err.message }),
    );
    req.end(payload);
  });
}

function eventBody(seq) {
  return { type: 'message', data: { seq, t: nowUs(), msg: 'benchmark payload 0123456789' } };
}

function idOf(text) {
  try {
    return JSON.parse(text).id;
  } catch {
    return undefined;
  }
}

/**
 * Closed-loop burst: publish `count` events as fast as deliveries keep up, with at most `window`
 * events outstanding per subscriber and `inflight` publish requests open, then wait for every
 * delivery (`subscribers` per event) or the deadline.
 */
async function publishBurst({
  port,
  path,
  count,
  subscribers,
  window = 8,
  inflight = 2,
  timeoutMs = 30_000,
  collectIds = false,
}) {
  const base = totals.events;
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const deadline = Date.now() + timeoutMs;
  const statuses = {};
  const ids = collectIds ? new Array(count) : undefined;
  const pending = new Set();
  let sent = 0;
  let timedOut = false;
  for (let i = 0; i < count; i++) {
    if (subscribers > 0 && i > window) {
      const ok = await waitEvents(base + (i - window) * subscribers, deadline - Date.now());
      if (!ok) {
        timedOut = true;
        break;
      }
    }
    while (pending.size >= inflight) {
      if ((await Promise.race([...pending, after(deadline - Date.now(), 'late')])) === 'late')
        break;
    }
    if (pending.size >= inflight || Date.now() >= deadline) {
      timedOut = true;
      break;
    }
    const p = post(port, path, eventBody(i)).then((r) => {
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (ids) ids[i] = idOf(r.text);
      pending.delete(p);
    });
    pending.add(p);
    sent++;
  }
  await Promise.race([Promise.all(pending), after(deadline - Date.now())]);
  if (!timedOut && subscribers > 0) {
    timedOut = !(await waitEvents(base + sent * subscribers, deadline - Date.now()));
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return {
    sent,
    statuses,
    delivered: totals.events - base,
    expected: sent * subscribers,
    timedOut,
    ms,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    ids,
  };
}

/** Open-loop steady rate: `count` events at `rate` per second, then wait for the deliveries. */
async function publishRate({ port, path, rate, count, subscribers, drainMs = 5_000 }) {
  const base = totals.events;
  const period = 1000 / rate;
  const started = performance.now();
  const statuses = {};
  const pending = [];
  for (let i = 0; i < count; i++) {
    const due = started + i * period;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post(port, path, eventBody(i)).then((r) => {
        statuses[r.status] = (statuses[r.status] || 0) + 1;
      }),
    );
  }
  const lastSent = performance.now();
  await Promise.race([Promise.all(pending), after(drainMs)]);
  const complete = await waitEvents(
    base + count * subscribers,
    drainMs - (performance.now() - lastSent),
  );
  const drainedMs = performance.now() - lastSent;
  return {
    sent: count,
    statuses,
    delivered: totals.events - base,
    expected: count * subscribers,
    complete,
    drainedMs,
  };
}

function latencySamples() {
  const samples = totals.latency;
  totals.latency = [];
  return { samplesUs: samples };
}

// ---------------------------------------------------------------- churn

function churnCycle(port, head, done) {
  const stream = new HttpStream();
  const sock = connectRaw(port, (buf) => {
    if (stream.feed(buf)) finish(stream.status === 200, `http_${stream.status}`);
  });
  let finished = false;
  const finish = (ok, reason) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    sock.destroy();
    done(ok, reason);
  };
  const timer = setTimeout(() => finish(false, 'timeout'), 10_000);
  sock.on('connect', () => sock.write(head));
  sock.on('error', (err) =>
    finish(false, /** @type {NodeJS.ErrnoException} */ (err).code || err.message),
  );
  sock.on('close', () => finish(false, 'closed'));
}

/** Connect, read the stream's response head, disconnect; `cycles` times or until `maxMs`. */
function churn({ port, path, cycles, concurrency = 64, maxMs }) {
  const head = requestHead(HOST, port, path);
  const started = Date.now();
  const deadline = started + maxMs;
  const errors = {};
  let launched = 0;
  let active = 0;
  let ok = 0;
  let failed = 0;
  return new Promise((resolve) => {
    const launch = () => {
      while (active < concurrency && launched < cycles && Date.now() < deadline) {
        launched++;
        active++;
        churnCycle(port, head, onDone);
      }
      if (active === 0) resolve({ done: ok, failed, errors, ms: Date.now() - started });
    };
    const onDone = (success, reason) => {
      active--;
      if (success) ok++;
      else {
        failed++;
        errors[reason] = (errors[reason] || 0) + 1;
      }
      launch();
    };
    launch();
  });
}

// ---------------------------------------------------------------- single full-parse streams

/** Opens one stream and hands each parsed frame, with its receive time in ms, to `onFrame`. */
function openFrameStream({ port, path, headers = {}, timeoutMs }, onFrame) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const result = { ttfbMs: undefined, status: 0, error: undefined };
    let finished = false;
    const finish = (error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      result.error = error;
      sock.destroy();
      resolve(result);
    };
    const reader = new SseFrameReader((frame) => {
      if (onFrame(frame, performance.now() - t0)) finish(undefined);
    });
    reader.onHead = () => {
      result.status = reader.status;
      if (reader.status !== 200) finish(`http_${reader.status}`);
    };
    reader.onEnd = () => finish('stream ended');
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const sock = net.connect({ host: HOST, port, noDelay: true });
    sock.on('connect', () => sock.write(requestHead(HOST, port, path, headers)));
    sock.on('data', (buf) => {
      if (result.ttfbMs === undefined) result.ttfbMs = performance.now() - t0;
      reader.feed(buf);
    });
    sock.on('error', (err) =>
      finish(/** @type {NodeJS.ErrnoException} */ (err).code || err.message),
    );
    sock.on('close', () => finish('closed'));
  });
}

/**
 * Resume from `lastEventId` and time until every one of `expectIds` arrived. Checks that nothing
 * else, and nothing twice, came first (ids are opaque, so the order is the server's to define).
 */
async function replay({ port, path, lastEventId, expectIds, timeoutMs = 10_000 }) {
  const expected = new Set(expectIds);
  const seen = new Set();
  let mismatch;
  let doneMs;
  const r = await openFrameStream(
    { port, path, headers: { 'Last-Event-ID': lastEventId }, timeoutMs },
    (frame, ms) => {
      if (frame.id === undefined) return false;
      if (!expected.has(frame.id) || seen.has(frame.id)) {
        mismatch ??= {
          at: seen.size,
          got: frame.id,
          why: seen.has(frame.id) ? 'duplicate' : 'unexpected',
        };
        return true;
      }
      seen.add(frame.id);
      if (seen.size === expected.size) {
        doneMs = ms;
        return true;
      }
      return false;
    },
  );
  return { ...r, received: seen.size, mismatch, ms: doneMs };
}

/** Read a typewriter stream to its end event; returns the receive time of every chunk. */
async function typewriter({ port, path, timeoutMs = 30_000 }) {
  const chunkMs = [];
  let firstEventMs;
  let ended = false;
  const r = await openFrameStream({ port, path, timeoutMs }, (frame, ms) => {
    if (frame.data === undefined) return false;
    if (firstEventMs === undefined) firstEventMs = ms;
    let type;
    try {
      type = JSON.parse(frame.data).type;
    } catch {
      return false;
    }
    if (type === 'chunk') chunkMs.push(ms);
    if (type === 'end') ended = true;
    return ended;
  });
  return { ...r, firstEventMs, chunkMs, ended };
}

// ---------------------------------------------------------------- command loop

const commands = {
  subscribe,
  setSampling,
  closeAll,
  publishBurst,
  publishRate,
  latencySamples,
  churn,
  replay,
  typewriter,
  stats: () => ({
    open: totals.open,
    events: totals.events,
    droppedAfterOpen: totals.droppedAfterOpen,
    rss: process.memoryUsage().rss,
  }),
};

process.on('message', async ({ id, cmd, args }) => {
  try {
    const handler = commands[cmd];
    if (!handler) throw new Error(`unknown command ${cmd}`);
    const result = await handler(args ?? {});
    process.send({ id, ok: true, result });
  } catch (err) {
    process.send({ id, ok: false, error: String(err?.stack ?? err) });
  }
});

// The harness owns this process: when it goes away, so do we.
process.on('disconnect', () => process.exit(0));
