// `node bench/profile.mjs [heap|cpu|churn] [contender]`: where an idle connection's memory and one
// delivery's CPU go, for the figures in bench/README.md ("What a connection holds", "Where a
// delivery's CPU goes"). Contender: rivulet (default) or raw.
//
// heap: a heap snapshot with BENCH_PROFILE_BASE (50) connections open and one with 2,000 more
//       (both after a full GC); objects are grouped by constructor and the growth is divided by
//       the connections added: what one idle connection holds, item by item.
// cpu:  --cpu-prof while 1,000 subscribers receive a closed-loop burst; only the samples taken
//       during the burst count. Self time is grouped by function, and by where the code lives
//       (node:http and net, Rivulet, Nest, RxJS, garbage collection, ...), per delivery.
// churn: the same for connect / read the response head / disconnect cycles (the churn scenario).

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAll, sleep } from './lib/children.mjs';
import { CONTENDERS, buildRivulet, startServer, stopServer } from './lib/contenders.mjs';
import { subscribeTo, withClients } from './scenarios/helpers.mjs';

const mode = process.argv[2] ?? 'heap';
const contender = CONTENDERS[process.argv[3] ?? 'rivulet'];
const BASE = Number(process.env.BENCH_PROFILE_BASE ?? 50);
const ADDED = Number(process.env.BENCH_PROFILE_CONNECTIONS ?? 2000);

/** Waits until a new file shows up in `dir` and stops growing. */
async function newFile(dir, known, suffix) {
  for (let i = 0; i < 600; i++) {
    const file = readdirSync(dir).find((f) => f.endsWith(suffix) && !known.has(f));
    if (file) {
      let size = -1;
      for (;;) {
        await sleep(300);
        const now = readFileSync(join(dir, file)).length;
        if (now === size) break;
        size = now;
      }
      known.add(file);
      return join(dir, file);
    }
    await sleep(100);
  }
  throw new Error(`no ${suffix} appeared in ${dir}`);
}

/** The snapshot once Node has finished writing it (it writes in place, then closes the file). */
async function readSnapshot(file) {
  for (let i = 0; ; i++) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if (i >= 120) throw err;
      await sleep(1000);
    }
  }
}

/** Objects of a heap snapshot by "type name": count and self size. */
async function groups(file) {
  const snapshot = await readSnapshot(file);
  const { node_fields: fields, node_types: types } = snapshot.snapshot.meta;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const typeNames = types[typeAt];
  const out = new Map();
  const { nodes, strings } = snapshot;
  for (let i = 0; i < nodes.length; i += width) {
    const type = typeNames[nodes[i + typeAt]];
    let name = strings[nodes[i + nameAt]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
      name = '(string)';
    else if (type === 'code' || type === 'hidden') name = `(${type})`;
    else if (type === 'closure') name = `closure ${name || '(anonymous)'}`;
    else if (type === 'array') name = `(array) ${name}`;
    else if (type === 'number') name = '(heap number)';
    const key = `${type === 'object' ? '' : ''}${name}`;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + sizeAt];
    out.set(key, g);
  }
  return out;
}

async function heap() {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-heap-'));
  const known = new Set();
  const server = await startServer(contender, {
    NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`,
  });
  try {
    await withClients(1, async (clients) => {
      const snap = async () => {
        process.kill(server.pid, 'SIGWINCH'); // the preload's full GC
        await sleep(500);
        process.kill(server.pid, 'SIGUSR2');
        return newFile(dir, known, '.heapsnapshot');
      };
      await subscribeTo(clients, server, BASE);
      const before = await groups(await snap());
      const { open } = await subscribeTo(clients, server, BASE + ADDED);
      const after = await groups(await snap());
      const added = open - BASE;
      const rows = [];
      let total = 0;
      for (const [name, g] of after) {
        const b = before.get(name) ?? { count: 0, bytes: 0 };
        const bytes = (g.bytes - b.bytes) / added;
        const count = (g.count - b.count) / added;
        total += bytes;
        if (bytes >= 8 || count >= 0.9) rows.push({ name, count, bytes });
      }
      rows.sort((a, b) => b.bytes - a.bytes);
      console.log(`## ${contender.name}: heap held per idle connection (${added} connections)\n`);
      console.log('| object (constructor or kind) | per connection | bytes |');
      console.log('|---|---:|---:|');
      for (const r of rows.slice(0, 40))
        console.log(
          `| ${r.name.replace(/\|/g, '\\|')} | ${r.count.toFixed(2)} | ${r.bytes.toFixed(0)} |`,
        );
      console.log(`| **total** | | **${total.toFixed(0)}** |`);
    });
  } finally {
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

function category(frame) {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)' || functionName === '(idle)') return `V8 ${functionName}`;
  if (url.includes('/rxjs/')) return 'RxJS';
  if (url.includes('/@nestjs/')) return 'Nest';
  if (url.includes('/express/') || url.includes('/router/')) return 'Express';
  if (url.includes('/pino')) return 'pino';
  if (url.includes('/dist/') || url.includes('/src/') || url.includes('/bench/contenders/'))
    return 'server code (Rivulet or the baseline)';
  if (url.startsWith('node:_http') || url.startsWith('node:http')) return 'node:http';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream_base'))
    return 'node:net (socket writes)';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream'))
    return 'node streams';
  if (url.startsWith('node:')) return 'other node internals';
  if (url === '') return `native ${functionName || '(anonymous)'}`;
  return 'other JavaScript';
}

async function cpu(what = 'delivery') {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-cpu-'));
  const exitOnSigterm = contender.name === 'rivulet' ? {} : { BENCH_EXIT_ON_SIGTERM: '1' };
  const server = await startServer(contender, exitOnSigterm, [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    '--cpu-prof-interval=200',
  ]);
  /** @type {[number, number] | undefined} */
  let window;
  let delivered = 0;
  try {
    await withClients(1, async ([client]) => {
      if (what === 'churn') {
        const args = { port: server.port, path: contender.subscribePath, concurrency: 64 };
        await client.call('churn', { ...args, cycles: 500, maxMs: 5000 }, 20_000);
        const t0 = process.hrtime.bigint() / 1000n;
        const r = await client.call('churn', { ...args, cycles: 3000, maxMs: 20_000 }, 40_000);
        window = [Number(t0), Number(process.hrtime.bigint() / 1000n)];
        delivered = r.done;
        return;
      }
      const { open } = await subscribeTo([client], server, 1000);
      const publish = { port: server.port, path: contender.publishPath, subscribers: open };
      await client.call('publishBurst', { ...publish, count: 10, timeoutMs: 10_000 }, 40_000);
      const t0 = process.hrtime.bigint() / 1000n;
      const r = await client.call(
        'publishBurst',
        { ...publish, count: 200, timeoutMs: 30_000 },
        60_000,
      );
      window = [Number(t0), Number(process.hrtime.bigint() / 1000n)];
      delivered = r.delivered;
    });
    // The profile is written when the process exits on its own: SIGTERM is Rivulet's drain.
    process.kill(server.pid, 'SIGTERM');
    await Promise.race([server.child.exited, sleep(30_000)]);
  } finally {
    await stopServer(server);
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no .cpuprofile written (the server did not exit cleanly)');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  if (process.env.BENCH_PROFILE_KEEP) {
    writeFileSync(process.env.BENCH_PROFILE_KEEP, JSON.stringify({ window, profile }));
  }
  rmSync(dir, { recursive: true, force: true });
  if (!window) throw new Error('the measured window was never set');
  const [from, to] = window;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let t = profile.startTime;
  let sampled = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const next = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    const node = byId.get(profile.samples[i]);
    if (node.callFrame.functionName === '(idle)') continue;
    self.set(node, (self.get(node) ?? 0) + next);
    sampled += next;
  }
  const byFunction = new Map();
  const byCategory = new Map();
  for (const [node, us] of self) {
    const f = node.callFrame;
    const where = f.url
      ? `${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/(dist|bench)\//, '$1/')}:${f.lineNumber + 1}`
      : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const c = category(f);
    byCategory.set(c, (byCategory.get(c) ?? 0) + us);
  }
  const per = (us) => (delivered > 0 ? us / delivered : NaN);
  const unit = what === 'churn' ? 'connect/disconnect cycle' : 'delivery';
  const units = what === 'churn' ? 'cycles' : 'deliveries';
  console.log(
    `## ${contender.name}: CPU of one ${unit} (${delivered} ${units}` +
      `${what === 'churn' ? '' : ' to 1,000 subscribers'}, ` +
      `${(sampled / 1000).toFixed(0)} ms sampled on the main thread)\n`,
  );
  console.log(`| where | µs per ${unit} | share |`);
  console.log('|---|---:|---:|');
  for (const [c, us] of [...byCategory].sort((a, b) => b[1] - a[1]))
    console.log(`| ${c} | ${per(us).toFixed(2)} | ${((100 * us) / sampled).toFixed(1)}% |`);
  console.log(`| **total (main thread)** | **${per(sampled).toFixed(2)}** | |`);
  console.log(`\n| function (self time) | µs per ${unit} | share |`);
  console.log('|---|---:|---:|');
  for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.BENCH_PROFILE_ROWS ?? 25)))
    console.log(
      `| ${k.replace(/\|/g, '\\|')} | ${per(us).toFixed(2)} | ${((100 * us) / sampled).toFixed(1)}% |`,
    );
}

try {
  if (contender.name === 'rivulet') await buildRivulet();
  if (mode === 'heap') await heap();
  else if (mode === 'cpu') await cpu();
  else if (mode === 'churn') await cpu('churn');
  else throw new Error(`unknown mode ${mode}: heap or cpu`);
  killAll();
  process.exit(0);
} catch (err) {
  console.error(`profile: ${err.stack ?? err}`);
  killAll();
  process.exit(1);
}
