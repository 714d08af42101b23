// Fan-out: server CPU per delivered event and deliveries per second, one topic, N subscribers.
// Publishing is closed-loop (at most `window` events outstanding per subscriber), so every
// contender runs at its own pace without unbounded queueing.

import { backgroundWindow, cpuSeconds } from '../lib/proc.mjs';
import { StepPlan, shortfall, subscribeTo, withClients, withServer } from './helpers.mjs';

export async function fanout(contender, cfg, budget) {
  return withServer(contender, {}, (server) =>
    withClients(1, async (clients) => {
      const [client] = clients;
      const figures = {};
      const detail = { steps: [] };
      const notes = [];
      const publish = { port: server.port, path: contender.publishPath };
      const plan = new StepPlan(budget, cfg.fanoutSteps);
      let before = 0;
      for (const [i, n] of cfg.fanoutSteps.entries()) {
        const opened = await subscribeTo(clients, server, n, plan.connectMs(i));
        plan.connected(opened, before);
        before = opened.open;
        const stepEnd = Date.now() + plan.measureMs(i);
        const { open, errors } = opened;
        const short = shortfall(n, opened);
        if (short) notes.push(`@${n}: ${short}`);
        const burst = (count, timeoutMs) =>
          client.call(
            'publishBurst',
            { ...publish, count, subscribers: open, timeoutMs },
            timeoutMs + 30_000,
          );
        await burst(cfg.warmupEvents, Math.max(2000, (stepEnd - Date.now()) * 0.2));
        const count = Math.max(cfg.warmupEvents, Math.ceil(cfg.fanoutDeliveries / open));
        const background = backgroundWindow([server.pid, client.pid]);
        const cpu0 = cpuSeconds(server.pid);
        const r = await burst(count, Math.max(2000, stepEnd - Date.now()));
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
          notes.push(
            `@${n}: time budget ran out, ${r.delivered} of ${count * open} deliveries measured`,
          );
      }
      return { figures, detail, notes };
    }),
  );
}
