// `npm run bench`: starts each contender on loopback (pinned to CPU 0), drives it with the load
// client (pinned to CPU 1), prints markdown tables of figures and ratios against raw node:http,
// and writes bench/results/<timestamp>.json and bench/results/latest.md.
//
// BENCH_QUICK=1 runs a small smoke version. See bench/README.md for every knob.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, sleep } from './lib/children.mjs';
import {
  ALL_CONTENDERS,
  CLIENT_CPU,
  CONTENDERS,
  buildRivulet,
  probeRivulet,
  rivuletDir,
  startServer,
  stopServer,
} from './lib/contenders.mjs';
import { CLK_TCK, backgroundWindow, fdLimit } from './lib/proc.mjs';
import { ensureNginx } from './lib/nginx.mjs';
import { figureTables, targetTable, targets } from './lib/report.mjs';
import { churn } from './scenarios/churn.mjs';
import { Budget } from './scenarios/helpers.mjs';
import { fanout } from './scenarios/fanout.mjs';
import { idle } from './scenarios/idle.mjs';
import { latency, planLatency } from './scenarios/latency.mjs';
import { proxied } from './scenarios/proxied.mjs';
import { replay } from './scenarios/replay.mjs';
import { typewriter } from './scenarios/typewriter.mjs';

const SCENARIOS = { idle, fanout, latency, churn, replay, typewriter, proxied };

// Longest each scenario may take per contender (seconds). When the run is behind its deadline,
// every remaining scenario gets the same fraction of its cap, so none is dropped outright.
const CAPS_S = {
  full: { idle: 50, fanout: 50, latency: 55, churn: 30, replay: 20, typewriter: 40, proxied: 60 },
  quick: { idle: 10, fanout: 10, latency: 8, churn: 6, replay: 8, typewriter: 10, proxied: 16 },
};

const TYPEWRITER_TEXT =
  'Server-Sent Events keep one response open and write frames as things happen; a proxy must not hold them back.';

function list(name, fallback) {
  const v = process.env[name];
  return v
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : fallback;
}
function numbers(name, fallback) {
  return list(name, null)?.map(Number) ?? fallback;
}
function number(name, fallback) {
  return process.env[name] ? Number(process.env[name]) : fallback;
}

function loadConfig() {
  const quick = process.env.BENCH_QUICK === '1';
  const cfg = {
    quick,
    contenders: list('BENCH_CONTENDERS', ALL_CONTENDERS),
    scenarios: list('BENCH_SCENARIOS', Object.keys(SCENARIOS)),
    settleMs: 500,
    idleSteps: numbers('BENCH_IDLE_STEPS', quick ? [200, 1000] : [1000, 10000]),
    idleMax: number('BENCH_IDLE_MAX', quick ? 2000 : 19000),
    fanoutSteps: numbers('BENCH_FANOUT_STEPS', quick ? [200, 1000] : [1000, 5000, 10000]),
    fanoutDeliveries: number('BENCH_FANOUT_DELIVERIES', quick ? 20_000 : 250_000),
    proxiedSteps: numbers('BENCH_PROXIED_STEPS', quick ? [200] : [1000, 3000]),
    warmupEvents: 10,
    latencySteps: numbers('BENCH_LATENCY_STEPS', quick ? [200, 1000] : [1000, 10000]),
    latencyRate: number('BENCH_LATENCY_RATE', 10),
    latencySeconds: number('BENCH_LATENCY_SECONDS', quick ? 1.5 : 10),
    latencyWarmupSeconds: number('BENCH_LATENCY_WARMUP_SECONDS', quick ? 0.5 : 2),
    latencySampled: 100,
    churnCycles: number('BENCH_CHURN_CYCLES', quick ? 2_000 : 100_000),
    churnMaxMs: number('BENCH_CHURN_MAX_MS', quick ? 2_000 : 20_000),
    churnConcurrency: 64,
    replayEvents: 1000,
    replayRuns: quick ? 3 : 5,
    typewriterText: quick ? TYPEWRITER_TEXT.slice(0, 30) : TYPEWRITER_TEXT,
    typewriterIntervalMs: 20,
    typewriterRuns: quick ? 1 : 3,
    deadlineMs: number('BENCH_DEADLINE_S', quick ? 120 : 520) * 1000,
    slackMs: (quick ? 20 : 80) * 1000,
    capsS: CAPS_S[quick ? 'quick' : 'full'],
  };
  const unknown = [
    ...cfg.contenders.filter((c) => !CONTENDERS[c]),
    ...cfg.scenarios.filter((s) => !SCENARIOS[s]),
  ];
  if (unknown.length > 0) throw new Error(`unknown contender or scenario: ${unknown.join(', ')}`);
  if (!cfg.contenders.includes('raw'))
    console.error('bench: raw is not selected, so there are no ratios');
  if (Math.max(cfg.idleMax, ...cfg.idleSteps) > 19_500)
    throw new Error('idle sizes above 19,500 hit the 20k fd limit of the server');
  if (Math.max(...cfg.fanoutSteps, ...cfg.latencySteps) > 19_000)
    throw new Error('fan-out and latency sizes above 19,000 hit the 20k fd limit');
  if (Math.max(...cfg.proxiedSteps) > 6_000)
    throw new Error('proxied sizes above 6,000 exceed what the project nginx holds per worker');
  return cfg;
}

const log = (...args) => console.error(...args);

/** Builds, starts and probes Rivulet once, to know which scenarios it can run. */
async function prepareRivulet() {
  const contender = CONTENDERS.rivulet;
  let built;
  try {
    built = await buildRivulet();
  } catch (err) {
    return { ok: false, reason: err.message.split('\n')[0].slice(0, 200), detail: err.message };
  }
  let server;
  try {
    server = await startServer(contender);
    const caps = await probeRivulet(server);
    return { ok: true, built, caps, dropped: contender.droppedVariables };
  } catch (err) {
    return {
      ok: false,
      reason: `start-up failed: ${err.message.split('\n')[0].slice(0, 200)}`,
      detail: err.message,
    };
  } finally {
    await stopServer(server);
  }
}

const NEEDS = {
  idle: 'subscribe',
  fanout: 'publish',
  latency: 'publish',
  churn: 'subscribe',
  replay: 'replay',
  typewriter: 'typewriter',
  proxied: 'publish',
};

/** Why `contender` cannot run `scenario`, or undefined when it can. */
function notApplicable(scenario, name, availability) {
  if (name !== 'rivulet') {
    if (scenario === 'replay') return 'no replay support in this contender';
    if (scenario === 'typewriter' || scenario === 'proxied') return 'Rivulet-only scenario';
    return undefined;
  }
  const a = availability.rivulet;
  if (!a.ok) return `rivulet not available: ${a.reason}`;
  const cap = a.caps[NEEDS[scenario]];
  return cap.ok ? undefined : `rivulet not available: ${cap.reason}`;
}

function summary(figures) {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${Number.isFinite(v) ? +v.toPrecision(4) : 'n/a'}`)
    .join(' ');
}

/** Every measurement window's background figures, wherever they sit in the results. */
function windows(value, out = []) {
  if (value && typeof value === 'object') {
    if (typeof value.foreignCores === 'number') out.push(value);
    else for (const v of Object.values(value)) windows(v, out);
  }
  return out;
}

function backgroundLine(run, results) {
  const worst = Math.max(0, ...windows(results).map((w) => w.foreignCores));
  const text =
    `Other processes on the machine used ${run.foreignCores.toFixed(2)} cores on average during the run ` +
    `(${worst.toFixed(2)} at most in one measurement window).`;
  if (run.foreignCores > 0.1 || worst > 0.25) {
    return `**Warning: the machine was not quiet.** ${text} Figures from such a run are skewed; rerun on an idle machine.`;
  }
  return `${text} The machine was quiet.`;
}

/** With BENCH_WAIT_QUIET_S, waits (up to that long) until other processes use < 0.1 core. */
async function waitForQuiet() {
  const limitS = number('BENCH_WAIT_QUIET_S', 0);
  const until = Date.now() + limitS * 1000;
  while (Date.now() < until) {
    const window = backgroundWindow([]);
    await sleep(2000);
    const { foreignCores } = window();
    if (foreignCores < 0.1) return;
    log(`bench: waiting for a quiet machine (others use ${foreignCores.toFixed(2)} cores)`);
  }
  if (limitS > 0) log('bench: the machine did not get quiet; running anyway');
}

async function main() {
  await waitForQuiet();
  const started = Date.now();
  const runBackground = backgroundWindow([]);
  const cfg = loadConfig();
  try {
    // The harness itself stays off the server's core.
    execFileSync('taskset', ['-a', '-p', '-c', String(CLIENT_CPU), String(process.pid)], {
      stdio: 'ignore',
    });
  } catch {
    log('bench: could not pin the harness to CPU 1');
  }
  const meta = {
    startedAt: new Date(started).toISOString(),
    mode: cfg.quick ? 'quick' : 'full',
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    clkTck: CLK_TCK,
    fdLimit: fdLimit(process.pid),
    rivuletDir: rivuletDir(),
  };
  log(
    `bench: ${meta.mode} run, node ${meta.node}, ${meta.cpus} cpus, server on CPU 0, clients on CPU ${CLIENT_CPU}`,
  );

  const availability = {};
  for (const name of cfg.contenders) {
    if (name !== 'rivulet') {
      availability[name] = { ok: true };
      continue;
    }
    log('bench: preparing rivulet (build if stale, start, probe endpoints)');
    availability.rivulet = await prepareRivulet();
    const a = availability.rivulet;
    if (!a.ok) console.log(`rivulet: not available (${a.reason})`);
    else {
      const missing = Object.entries(a.caps).filter(([, c]) => !c.ok);
      log(
        `rivulet: ${a.built}; ${missing.length === 0 ? 'every probe passed' : 'partly available'}`,
      );
      for (const [cap, c] of missing) console.log(`rivulet: ${cap} not available (${c.reason})`);
    }
  }
  const needsNginx =
    (cfg.scenarios.includes('typewriter') && availability.rivulet?.caps?.typewriter.ok) ||
    (cfg.scenarios.includes('proxied') && availability.rivulet?.caps?.publish.ok);
  if (needsNginx) {
    // Before the clock of any scenario starts: this may run apt-get.
    await ensureNginx().catch((err) => log(`bench: nginx n/a: ${err.message}`));
  }

  const tasks = cfg.scenarios.flatMap((scenario) =>
    cfg.contenders
      .filter((name) => !notApplicable(scenario, name, availability))
      .map((name) => ({ scenario, name })),
  );
  const deadline = started + cfg.deadlineMs;
  let pendingCapS = tasks.reduce((a, t) => a + cfg.capsS[t.scenario], 0);

  const results = {};
  for (const scenario of cfg.scenarios) {
    results[scenario] = {};
    if (scenario === 'latency') {
      cfg.latencyPlan = planLatency(cfg, results.fanout?.raw);
      for (const [n, p] of Object.entries(cfg.latencyPlan))
        if (p.reason) log(`bench: latency @${n}: ${p.reason}`);
    }
    for (const name of cfg.contenders) {
      const na = notApplicable(scenario, name, availability);
      if (na) {
        results[scenario][name] = { na };
        continue;
      }
      const capS = cfg.capsS[scenario];
      const fairS = ((deadline - Date.now()) / 1000) * (capS / pendingCapS);
      pendingCapS -= capS;
      // Behind schedule every task still gets an eighth of its cap; past the hard limit (the
      // deadline plus the slack those eighths need) the rest is skipped.
      const budgetS = Math.max(capS / 8, Math.min(capS, fairS));
      if (Date.now() > deadline + cfg.slackMs) {
        results[scenario][name] = {
          na: `skipped: run time limit of ${(cfg.deadlineMs + cfg.slackMs) / 1000} s`,
        };
        log(`bench: ${scenario} / ${name} skipped (run time limit)`);
        continue;
      }
      const t0 = Date.now();
      log(`bench: ${scenario} / ${name} (up to ${budgetS.toFixed(0)} s) ...`);
      try {
        const budget = new Budget(budgetS * 1000);
        results[scenario][name] = await SCENARIOS[scenario](CONTENDERS[name], cfg, budget);
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        log(
          `bench: ${scenario} / ${name} done in ${secs} s: ${summary(results[scenario][name].figures)}`,
        );
      } catch (err) {
        results[scenario][name] = { error: err.message.split('\n')[0].slice(0, 300) };
        log(`bench: ${scenario} / ${name} failed: ${err.stack ?? err}`);
      }
    }
  }

  const targetRows = targets(results, cfg.contenders, cfg);
  const totalS = (Date.now() - started) / 1000;
  const background = runBackground();
  const contenderLines = cfg.contenders.map((name) => {
    const a = availability[name];
    const state = a.ok ? '' : ` — not available (${a.reason})`;
    return `- **${name}**: ${CONTENDERS[name].why}${state}`;
  });
  const md = [
    `## Rivulet benchmark, ${meta.startedAt} (${meta.mode} run, ${totalS.toFixed(0)} s)`,
    '',
    `Node ${meta.node}, ${meta.cpus} × ${meta.cpuModel}. Each server pinned to CPU 0, load clients and nginx to CPU ${CLIENT_CPU}; ` +
      'a fresh server process per scenario; ratios are against raw node:http in this run.',
    '',
    backgroundLine(background, results),
    '',
    ...contenderLines,
    '',
    figureTables(results, cfg.contenders, cfg),
    '### Targets',
    '',
    targetTable(targetRows, cfg.contenders),
  ].join('\n');
  console.log(md);

  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = meta.startedAt.replace(/[:.]/g, '-');
  const json = {
    meta: { ...meta, durationS: totalS, background },
    config: cfg,
    availability,
    results,
    targets: targetRows,
  };
  writeFileSync(join(dir, `${stamp}.json`), JSON.stringify(json, null, 2));
  writeFileSync(join(dir, 'latest.md'), md);
  log(
    `bench: wrote bench/results/${stamp}.json and bench/results/latest.md (${totalS.toFixed(0)} s total)`,
  );
}

main()
  .then(() => {
    killAll();
    process.exit(0);
  })
  .catch((err) => {
    console.error(`bench: ${err.stack ?? err}`);
    killAll();
    process.exit(1);
  });
