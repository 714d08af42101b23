// Publish-to-receive latency at a steady rate. The payload carries `t`, the publisher's
// CLOCK_MONOTONIC in microseconds; sampled sockets (spread over connection order) record
// receive time minus t.
//
// The rate is cfg.latencyRate unless that asks for more than half of what raw node:http
// delivered in this run's fan-out scenario (planLatency): an overloaded reference would make
// every ratio a queue-length ratio. A contender that still cannot keep up is marked overloaded.

import { backgroundWindow } from '../lib/proc.mjs';
import { median, percentile } from '../lib/stats.mjs';
import { StepPlan, shortfall, subscribeTo, withClients, withServer } from './helpers.mjs';

const HEADROOM = 0.5;

/** The rate for each latency step, from raw's fan-out capacity at the nearest size. */
export function planLatency(cfg, rawFanout) {
  const plan = {};
  for (const n of cfg.latencySteps) {
    const sizes = cfg.fanoutSteps.filter((m) =>
      Number.isFinite(rawFanout?.figures?.[`fanout.rate@${m}`]),
    );
    plan[n] = { rate: cfg.latencyRate };
    if (sizes.length === 0) continue;
    const nearest = sizes.reduce((a, m) =>
      Math.abs(Math.log(m / n)) < Math.abs(Math.log(a / n)) ? m : a,
    );
    const capacity = rawFanout.figures[`fanout.rate@${nearest}`];
    const maxRate = (HEADROOM * capacity) / n;
    if (cfg.latencyRate <= maxRate) continue;
    const rate = Math.max(0.5, Math.floor(maxRate * 2) / 2);
    plan[n] = {
      rate,
      reason:
        `${cfg.latencyRate} ev/s x ${n} subscribers = ${cfg.latencyRate * n} deliveries/s, more than half of the ` +
        `${Math.round(capacity)}/s raw node:http delivered in fan-out; measured at ${rate} ev/s`,
    };
  }
  return plan;
}

export async function latency(contender, cfg, budget) {
  return withServer(contender, {}, (server) =>
    withClients(1, async (clients) => {
      const [client] = clients;
      const figures = {};
      const detail = { steps: [] };
      const notes = [];
      const plan = new StepPlan(budget, cfg.latencySteps);
      let before = 0;
      for (const [i, n] of cfg.latencySteps.entries()) {
        const rate = cfg.latencyPlan?.[n]?.rate ?? cfg.latencyRate;
        const period = 1000 / rate;
        const publish = { port: server.port, path: contender.publishPath, rate };
        const opened = await subscribeTo(clients, server, n, plan.connectMs(i));
        plan.connected(opened, before);
        before = opened.open;
        const stepEnd = Date.now() + plan.measureMs(i);
        const { open, errors } = opened;
        const short = shortfall(n, opened);
        if (short) notes.push(`@${n}: ${short}`);
        await client.call('setSampling', { count: cfg.latencySampled });
        const drainMs = 3000;
        // Two seconds of the same traffic first, so the window measures steady state, not the JIT
        // compiling each contender's publish path (a p99 of 60 events is its slowest one or two).
        const warmup = Math.max(4, Math.ceil(rate * cfg.latencyWarmupSeconds));
        await client.call(
          'publishRate',
          { ...publish, count: warmup, subscribers: open, drainMs },
          60_000,
        );
        await client.call('latencySamples');
        const available = (stepEnd - Date.now() - drainMs) / 1000;
        const wanted = Math.round(rate * Math.max(cfg.latencySeconds, 12 / rate));
        const count = Math.max(5, Math.min(wanted, Math.floor(rate * available)));
        const background = backgroundWindow([server.pid, client.pid]);
        const r = await client.call(
          'publishRate',
          { ...publish, count, subscribers: open, drainMs },
          count * period + drainMs + 30_000,
        );
        const ms = (await client.call('latencySamples')).samplesUs.map((us) => us / 1000);
        const third = Math.floor(ms.length / 3);
        const early = median(ms.slice(0, third));
        const late = median(ms.slice(-third));
        const step = {
          subscribers: open,
          rate,
          errors,
          ...r,
          samples: ms.length,
          p50: percentile(ms, 50),
          p90: percentile(ms, 90),
          p99: percentile(ms, 99),
          max: percentile(ms, 100),
          earlyP50: early,
          lateP50: late,
          background: background(),
        };
        // Behind: deliveries missing after the drain, or latency growing through the window.
        step.overloaded = !r.complete || late > 2 * early + period / 2;
        detail.steps.push(step);
        figures[`latency.p50@${n}`] = step.p50;
        figures[`latency.p99@${n}`] = step.p99;
        if (step.overloaded) {
          notes.push(
            `@${n}: overloaded at ${rate} ev/s (latency grew from ${early.toFixed(0)} to ${late.toFixed(0)} ms; ` +
              `${r.delivered} of ${r.expected} delivered ${(r.drainedMs / 1000).toFixed(1)} s after the last publish)`,
          );
        }
      }
      return { figures, detail, notes };
    }),
  );
}
