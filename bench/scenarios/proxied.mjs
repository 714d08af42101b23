// Fan-out through the project nginx (one Rivulet behind it), and through nginx in front of three
// Rivulet replicas sharing one Redis (STORE=redis): the same closed-loop burst as `fanout`, with
// subscribers and publishes going through nginx. Rivulet only, reported next to the direct figures
// with no target. CPU per delivery counts every process of the topology (replicas, nginx master and
// workers, redis-server); the Rivulet processes alone are in the JSON.
//
// Sizes stay below what the project nginx holds: worker_connections 8192 per worker counts both
// sides of each stream, and every process here is under the 20,000 open-file limit.

import { readFileSync, readdirSync } from 'node:fs';
import { freePort, spawnPinned, stop, waitForPort } from '../lib/children.mjs';
import { SERVER_CPU, startServer, stopServer } from '../lib/contenders.mjs';
import { ensureNginx, startNginx } from '../lib/nginx.mjs';
import { backgroundWindow, cpuSeconds } from '../lib/proc.mjs';
import { Budget, StepPlan, shortfall, subscribeTo, withClients } from './helpers.mjs';

const REDIS_SERVER = '/usr/bin/redis-server';

/** Ids of `pid` and all its descendants (nginx workers are children of the master). */
function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

const cpuOf = (pids) =>
  pids.reduce((sum, pid) => {
    try {
      return sum + cpuSeconds(pid);
    } catch {
      return sum;
    }
  }, 0);

async function startRedis() {
  const port = await freePort();
  const child = spawnPinned(
    SERVER_CPU,
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {},
  );
  await waitForPort(child, port, 10_000);
  return { port, child, pid: child.pid };
}

/** Starts the topology: `replicas` Rivulet processes (on Redis when more than one), nginx in front. */
async function startTopology(contender, replicas) {
  const nginxBin = await ensureNginx();
  const parts = { servers: [], redis: undefined, nginx: undefined };
  try {
    let env = {};
    if (replicas > 1) {
      parts.redis = await startRedis();
      env = { STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${parts.redis.port}` };
    }
    for (let i = 0; i < replicas; i++) parts.servers.push(await startServer(contender, env));
    parts.nginx = await startNginx(
      nginxBin,
      parts.servers.map((s) => s.port),
    );
    return parts;
  } catch (err) {
    await stopTopology(parts);
    throw err;
  }
}

async function stopTopology(parts) {
  await parts.nginx?.stop();
  await Promise.all(parts.servers.map((s) => stopServer(s)));
  await stop(parts.redis?.child);
}

async function measure(contender, cfg, budget, replicas, prefix) {
  const parts = await startTopology(contender, replicas);
  try {
    return await withClients(1, async (clients) => {
      const [client] = clients;
      const figures = {};
      const detail = { nginxConfig: parts.nginx.config, steps: [] };
      const notes = [];
      const via = { contender, port: parts.nginx.port };
      const publish = { port: parts.nginx.port, path: contender.publishPath };
      const plan = new StepPlan(budget, cfg.proxiedSteps);
      let before = 0;
      for (const [i, n] of cfg.proxiedSteps.entries()) {
        const opened = await subscribeTo(clients, via, n, plan.connectMs(i));
        plan.connected(opened, before);
        before = opened.open;
        const stepEnd = Date.now() + plan.measureMs(i);
        const short = shortfall(n, opened);
        if (short) notes.push(`@${n}: ${short}`);
        const burst = (count, timeoutMs) =>
          client.call(
            'publishBurst',
            { ...publish, count, subscribers: opened.open, timeoutMs },
            timeoutMs + 30_000,
          );
        await burst(cfg.warmupEvents, Math.max(2000, (stepEnd - Date.now()) * 0.2));
        const count = Math.max(cfg.warmupEvents, Math.ceil(cfg.fanoutDeliveries / opened.open));
        const rivuletPids = parts.servers.map((s) => s.pid);
        const allPids = [
          ...rivuletPids,
          ...processTree(parts.nginx.pid),
          ...(parts.redis ? [parts.redis.pid] : []),
        ];
        const background = backgroundWindow([...allPids, client.pid]);
        const all0 = cpuOf(allPids);
        const rivulet0 = cpuOf(rivuletPids);
        const r = await burst(count, Math.max(2000, stepEnd - Date.now()));
        const allCpu = cpuOf(allPids) - all0;
        const rivuletCpu = cpuOf(rivuletPids) - rivulet0;
        delete r.ids;
        detail.steps.push({
          subscribers: opened.open,
          errors: opened.errors,
          topologyCpuS: allCpu,
          rivuletCpuS: rivuletCpu,
          ...r,
          background: background(),
        });
        if (r.delivered > 0) {
          figures[`${prefix}.cpu@${n}`] = (allCpu * 1e6) / r.delivered;
          figures[`${prefix}.appcpu@${n}`] = (rivuletCpu * 1e6) / r.delivered;
        }
        figures[`${prefix}.rate@${n}`] = r.delivered / (r.ms / 1000);
        if (r.timedOut)
          notes.push(
            `@${n}: time budget ran out, ${r.delivered} of ${count * opened.open} deliveries measured`,
          );
      }
      return { figures, detail, notes };
    });
  } finally {
    await stopTopology(parts);
  }
}

/** Both topologies, each with half of the budget. */
export async function proxied(contender, cfg, budget) {
  const one = await measure(contender, cfg, new Budget(budget.left() / 2), 1, 'nginx');
  let three;
  try {
    three = await measure(contender, cfg, budget, 3, 'replicas');
  } catch (err) {
    three = { figures: {}, detail: {}, notes: [`3 replicas on Redis: ${err.message}`] };
  }
  return {
    figures: { ...one.figures, ...three.figures },
    detail: { nginx: one.detail, replicas: three.detail },
    notes: [...one.notes.map((n) => `nginx ${n}`), ...three.notes.map((n) => `3 replicas ${n}`)],
  };
}
