// Turns the figures of one run into markdown tables: every figure per contender with its ratio
// against raw node:http from the same run, then the targets with pass/fail.

const RAW = 'raw';
const RIVALS = ['express', 'better-sse'];

const short = (n) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/** Every figure the scenarios can produce, in display order. */
export function figureDefinitions(cfg) {
  const defs = [];
  const add = (scenario, key, label, unit, better, digits, extra = {}) =>
    defs.push({ scenario, key, label, unit, better, digits, ratio: true, ...extra });
  for (const n of cfg.idleSteps) {
    add('idle', `idle.rss@${n}`, `RSS per idle connection @${short(n)}`, 'KiB', 'lower', 2, {
      scale: 1 / 1024,
    });
    add('idle', `idle.heap@${n}`, `heap per idle connection @${short(n)}`, 'KiB', 'lower', 2, {
      scale: 1 / 1024,
    });
  }
  add('idle', 'idle.held', `connections held (asked ${cfg.idleMax})`, '', 'higher', 0, {
    level: true,
  });
  for (const n of cfg.fanoutSteps) {
    add('fanout', `fanout.cpu@${n}`, `server CPU per delivery @${short(n)}`, 'µs', 'lower', 3);
  }
  for (const n of cfg.fanoutSteps) {
    add('fanout', `fanout.rate@${n}`, `deliveries/s @${short(n)}`, 'k/s', 'higher', 1, {
      scale: 1 / 1000,
    });
  }
  for (const n of cfg.latencySteps) {
    const rate = cfg.latencyPlan?.[n]?.rate ?? cfg.latencyRate;
    for (const p of [50, 99]) {
      const label = `p${p} latency @${short(n)}, ${rate} ev/s`;
      add('latency', `latency.p${p}@${n}`, label, 'ms', 'lower', 2);
    }
  }
  add(
    'churn',
    'churn.cycles',
    `connect/disconnect cycles done (asked ${cfg.churnCycles})`,
    '',
    'higher',
    0,
    { level: true },
  );
  add('churn', 'churn.rate', 'cycles/s', '', 'higher', 0);
  add('churn', 'churn.rss', 'RSS after - before', 'KiB', 'lower', 0, {
    scale: 1 / 1024,
    ratio: false,
  });
  add('churn', 'churn.heap', 'heap after - before', 'KiB', 'lower', 0, {
    scale: 1 / 1024,
    ratio: false,
  });
  add('churn', 'churn.fds', 'open fds after - before', '', 'lower', 0, {
    ratio: false,
    level: true,
  });
  add(
    'replay',
    'replay.ms',
    `catch up ${cfg.replayEvents} missed events (median)`,
    'ms',
    'lower',
    2,
  );
  for (const path of ['direct', 'nginx']) {
    add('typewriter', `tw.ttfb.${path}`, `time to first byte, ${path}`, 'ms', 'lower', 2, {
      ratio: false,
    });
    add('typewriter', `tw.std.${path}`, `gap stddev, ${path}`, 'ms', 'lower', 2, { ratio: false });
    add('typewriter', `tw.spread.${path}`, `gap p99-p50, ${path}`, 'ms', 'lower', 2, {
      ratio: false,
    });
  }
  for (const [prefix, where] of [
    ['nginx', 'through nginx'],
    ['replicas', '3 replicas on Redis behind nginx'],
  ]) {
    for (const n of cfg.proxiedSteps ?? []) {
      const at = `@${short(n)}, ${where}`;
      add(
        'proxied',
        `${prefix}.cpu@${n}`,
        `CPU per delivery, all processes ${at}`,
        'µs',
        'lower',
        3,
        {
          ratio: false,
        },
      );
      add(
        'proxied',
        `${prefix}.appcpu@${n}`,
        `CPU per delivery, Rivulet only ${at}`,
        'µs',
        'lower',
        3,
        {
          ratio: false,
        },
      );
      add('proxied', `${prefix}.rate@${n}`, `deliveries/s ${at}`, 'k/s', 'higher', 1, {
        scale: 1 / 1000,
        ratio: false,
      });
    }
  }
  return defs;
}

export const SCENARIO_TITLES = {
  idle: 'Idle capacity',
  fanout: 'Fan-out (one topic, closed-loop burst)',
  latency: 'Publish-to-receive latency',
  churn: 'Churn',
  replay: 'Replay (Last-Event-ID)',
  typewriter: 'Typewriter, direct vs nginx',
  proxied:
    'Fan-out through nginx and through 3 replicas on Redis (no target; direct figures above)',
};

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

function fmt(def, v) {
  if (!finite(v)) return 'n/a';
  return (v * (def.scale ?? 1)).toFixed(def.digits);
}

function figure(results, scenario, contender, key) {
  return results[scenario]?.[contender]?.figures?.[key];
}

function cellOf(results, def, contender) {
  const entry = results[def.scenario]?.[contender];
  if (!entry) return 'not run';
  if (entry.na) return 'n/a';
  if (entry.error) return 'error';
  const v = entry.figures?.[def.key];
  let cell = fmt(def, v);
  const raw = figure(results, def.scenario, RAW, def.key);
  if (def.ratio && contender !== RAW && finite(v) && finite(raw) && raw !== 0) {
    cell += ` (${(v / raw).toFixed(2)}x)`;
  }
  return cell;
}

/** The figures of every scenario as markdown tables, with notes for n/a and errors. */
export function figureTables(results, contenders, cfg) {
  const defs = figureDefinitions(cfg);
  const out = [];
  for (const scenario of cfg.scenarios) {
    const rows = defs.filter((d) => d.scenario === scenario);
    const shown = contenders.filter((c) => results[scenario]?.[c] && !results[scenario][c].na);
    out.push(`### ${SCENARIO_TITLES[scenario]}`, '');
    if (shown.length === 0) {
      out.push('No contender supports or ran this scenario.', '');
    } else {
      out.push(`| figure | ${shown.join(' | ')} |`, `|---|${shown.map(() => '---:|').join('')}`);
      for (const def of rows) {
        if (shown.every((c) => !finite(figure(results, scenario, c, def.key)))) continue;
        const unit = def.unit ? ` (${def.unit})` : '';
        out.push(
          `| ${def.label}${unit} | ${shown.map((c) => cellOf(results, def, c)).join(' | ')} |`,
        );
      }
      out.push('');
    }
    if (scenario === 'latency') {
      for (const [n, p] of Object.entries(cfg.latencyPlan ?? {}))
        if (p.reason) out.push(`- @${short(Number(n))}: ${p.reason}`);
    }
    for (const c of contenders) {
      const entry = results[scenario]?.[c];
      if (entry?.na) out.push(`- ${c}: n/a (${entry.na})`);
      else if (entry?.error) out.push(`- ${c}: error: ${entry.error}`);
      for (const note of entry?.notes ?? []) out.push(`- ${c}: ${note}`);
    }
    if (out.at(-1) !== '') out.push('');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- targets

const verdict = (ok) => (ok ? 'PASS' : 'FAIL');

function ratioTarget(results, scenario, key, limit, contender) {
  const v = figure(results, scenario, contender, key);
  const raw = figure(results, scenario, RAW, key);
  if (!finite(v) || !finite(raw) || raw <= 0) return { text: 'n/a' };
  const ratio = v / raw;
  return { ok: ratio <= limit, text: `${ratio.toFixed(2)}x ${verdict(ratio <= limit)}` };
}

/** Churn: at least 0.7x raw's cycles/s, and every descriptor given back. */
function churnTarget(results, contender) {
  const rate = ratioTarget(results, 'churn', 'churn.rate', Infinity, contender);
  const v = figure(results, 'churn', contender, 'churn.rate');
  const raw = figure(results, 'churn', RAW, 'churn.rate');
  const fds = figure(results, 'churn', contender, 'churn.fds');
  if (!finite(v) || !finite(raw) || raw <= 0 || !finite(fds)) return { text: rate.text };
  const ok = v / raw >= 0.7 && fds <= 0;
  return { ok, text: `${(v / raw).toFixed(2)}x, fds ${fds >= 0 ? '+' : ''}${fds} ${verdict(ok)}` };
}

const HEADLINE = {
  idle: (cfg) => [
    ...cfg.idleSteps.flatMap((n) => [`idle.rss@${n}`, `idle.heap@${n}`]),
    'idle.held',
  ],
  fanout: (cfg) => cfg.fanoutSteps.flatMap((n) => [`fanout.cpu@${n}`, `fanout.rate@${n}`]),
  latency: (cfg) => cfg.latencySteps.map((n) => `latency.p99@${n}`),
  churn: () => ['churn.rate', 'churn.fds'],
};

/** Rivulet better than express and better-sse on every headline figure of a scenario. */
function aheadTarget(results, scenario, cfg, defs) {
  const keys = HEADLINE[scenario](cfg);
  const behind = Object.fromEntries(RIVALS.map((r) => [r, []]));
  let compared = 0;
  for (const key of keys) {
    const def = defs.find((d) => d.key === key);
    const mine = figure(results, scenario, 'rivulet', key);
    if (!finite(mine)) continue;
    for (const rival of RIVALS) {
      const theirs = figure(results, scenario, rival, key);
      if (!finite(theirs)) continue;
      compared++;
      const better = def.better === 'lower' ? mine < theirs : mine > theirs;
      if (!better && !(def.level && mine === theirs)) behind[rival].push(def.label);
    }
  }
  const lost = RIVALS.filter((r) => behind[r].length > 0).map(
    (r) => `vs ${r}: ${behind[r].join(', ')}`,
  );
  if (compared === 0) return { text: 'n/a' };
  return {
    ok: lost.length === 0,
    text: lost.length === 0 ? 'PASS' : `FAIL (behind ${lost.join('; ')})`,
  };
}

/** The targets, for Rivulet (and, for the ratio targets, the other contenders as a reference). */
export function targets(results, contenders, cfg) {
  const defs = figureDefinitions(cfg);
  const others = contenders.filter((c) => c !== RAW);
  const rows = [];
  const ratioRows = (label, scenario, keys, limit) => {
    if (!cfg.scenarios.includes(scenario)) return;
    for (const key of keys) {
      const def = defs.find((d) => d.key === key);
      const cells = Object.fromEntries(
        others.map((c) => [c, ratioTarget(results, scenario, key, limit, c)]),
      );
      rows.push({ target: `${label}: ${def.label}`, cells });
    }
  };
  ratioRows(
    'CPU/delivery <= 1.15x raw',
    'fanout',
    cfg.fanoutSteps.map((n) => `fanout.cpu@${n}`),
    1.15,
  );
  // RSS per idle connection: <= 1.3x raw from 10k connections up, <= 1.5x below (where the
  // process's fixed costs weigh more per connection).
  for (const n of cfg.idleSteps) {
    const limit = n >= 10_000 ? 1.3 : 1.5;
    ratioRows(`memory/idle conn <= ${limit}x raw`, 'idle', [`idle.rss@${n}`], limit);
  }
  ratioRows(
    'p99 <= 1.2x raw',
    'latency',
    cfg.latencySteps.map((n) => `latency.p99@${n}`),
    1.2,
  );
  if (cfg.scenarios.includes('churn')) {
    const cells = Object.fromEntries(others.map((c) => [c, churnTarget(results, c)]));
    rows.push({ target: 'churn >= 0.7x raw cycles/s, fds back to baseline', cells });
  }
  if (cfg.scenarios.includes('replay') && others.includes('rivulet')) {
    const ms = figure(results, 'replay', 'rivulet', 'replay.ms');
    const cell = finite(ms)
      ? { ok: ms < 20, text: `${ms.toFixed(1)} ms ${verdict(ms < 20)}` }
      : { text: 'n/a' };
    rows.push({ target: `replay of ${cfg.replayEvents} events < 20 ms`, cells: { rivulet: cell } });
  }
  if (others.includes('rivulet')) {
    for (const scenario of Object.keys(HEADLINE).filter((s) => cfg.scenarios.includes(s))) {
      rows.push({
        target: `rivulet ahead of express and better-sse: ${SCENARIO_TITLES[scenario]}`,
        cells: { rivulet: aheadTarget(results, scenario, cfg, defs) },
      });
    }
  }
  return rows;
}

export function targetTable(rows, contenders) {
  const others = contenders.filter((c) => c !== RAW);
  if (others.length === 0 || rows.length === 0) return 'No targets: only raw ran.\n';
  const out = [`| target | ${others.join(' | ')} |`, `|---|${others.map(() => '---|').join('')}`];
  for (const row of rows)
    out.push(`| ${row.target} | ${others.map((c) => row.cells[c]?.text ?? '').join(' | ')} |`);
  return out.join('\n') + '\n';
}
