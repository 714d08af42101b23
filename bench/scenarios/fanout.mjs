// Fan-out: server CPU per delivered event and deliveries per second, one topic, N subscribers.
// Publishing is closed-loop (at most `window` events outstanding per subscriber), so every
// contender runs at its own pace without unbounded queueing.

import { backgroundWindow, cpuSeconds } from '../lib/proc.mjs';
import { subscribeTo, withClients, withServer } from './helpers.mjs';

export async function fanout(contender, cfg) {
  return withServer(contender, {}, (server) =>
    withClients(1, async (clients) => {
      const [client] = clients;
      const figures = {};
      const detail = { steps: [] };
      const publish = { port: server.port, path: contender.publishPath };
      for (const n of cfg.fanoutSteps) {
        const { open, errors } = await subscribeTo(clients, server, n);
        const timeoutMs = cfg.fanoutStepMaxMs;
        await client.call(
          'publishBurst',
          { ...publish, count: cfg.warmupEvents, subscribers: open, timeoutMs },
          timeoutMs + 10_000,
        );
        const count = Math.max(cfg.warmupEvents, Math.ceil(cfg.fanoutDeliveries / open));
        const background = backgroundWindow([server.pid, client.pid]);
        const cpu0 = cpuSeconds(server.pid);
        const r = await client.call(
          'publishBurst',
          { ...publish, count, subscribers: open, timeoutMs },
          timeoutMs + 10_000,
        );
        const cpu = cpuSeconds(server.pid) - cpu0;
        delete r.ids;
        detail.steps.push({
          subscribers: open,
          errors,
          serverCpuS: cpu,
          ...r,
          serverBusy: cpu / (r.ms / 1000),
          clientBusy: r.clientCpuMs / r.ms,
          background: background(),
        });
        figures[`fanout.cpu@${n}`] = r.delivered > 0 ? (cpu * 1e6) / r.delivered : NaN;
        figures[`fanout.rate@${n}`] = r.delivered / (r.ms / 1000);
        if (r.timedOut)
          detail.steps.at(-1).note =
            `${r.delivered}/${r.expected} delivered before the step's time limit`;
      }
      return { figures, detail };
    }),
  );
}
