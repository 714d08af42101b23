// Publish-to-receive latency at a steady rate. The payload carries `t`, the publisher's
// CLOCK_MONOTONIC in microseconds; sampled sockets (spread over connection order) record
// receive time minus t.

import { backgroundWindow } from '../lib/proc.mjs';
import { percentile } from '../lib/stats.mjs';
import { subscribeTo, withClients, withServer } from './helpers.mjs';

export async function latency(contender, cfg) {
  return withServer(contender, {}, (server) =>
    withClients(1, async (clients) => {
      const [client] = clients;
      const figures = {};
      const detail = { steps: [] };
      const publish = { port: server.port, path: contender.publishPath, rate: cfg.latencyRate };
      for (const n of cfg.latencySteps) {
        const { open, errors } = await subscribeTo(clients, server, n);
        await client.call('setSampling', { count: cfg.latencySampled });
        await client.call(
          'publishRate',
          { ...publish, count: cfg.latencyRate, subscribers: open },
          30_000,
        );
        await client.call('latencySamples');
        const count = Math.round(cfg.latencyRate * cfg.latencySeconds);
        const background = backgroundWindow([server.pid, client.pid]);
        const r = await client.call(
          'publishRate',
          { ...publish, count, subscribers: open },
          count * 1000 + 30_000,
        );
        const ms = (await client.call('latencySamples')).samplesUs.map((us) => us / 1000);
        const step = {
          subscribers: open,
          errors,
          ...r,
          samples: ms.length,
          p50: percentile(ms, 50),
          p90: percentile(ms, 90),
          p99: percentile(ms, 99),
          max: percentile(ms, 100),
          background: background(),
        };
        detail.steps.push(step);
        figures[`latency.p50@${n}`] = step.p50;
        figures[`latency.p99@${n}`] = step.p99;
      }
      return { figures, detail };
    }),
  );
}
