// Idle capacity: memory per held connection at each step, then connections held up to the
// open-file limit.

import { sleep } from '../lib/children.mjs';
import { readMemory } from '../lib/contenders.mjs';
import { openFds } from '../lib/proc.mjs';
import { perConnection, shortfall, subscribeTo, withClients, withServer } from './helpers.mjs';

export async function idle(contender, cfg, budget) {
  return withServer(contender, {}, (server) =>
    withClients(2, async (clients) => {
      const figures = {};
      const detail = { steps: [] };
      const notes = [];
      // Warm-up: lazy initialisation and JIT are not charged to the measured connections.
      await subscribeTo(clients, server, 50, 10_000);
      await Promise.all(clients.map((c) => c.call('closeAll')));
      await sleep(cfg.settleMs);
      const base = await readMemory(server);
      detail.baseline = base;
      const steps = [...cfg.idleSteps, cfg.idleMax];
      for (const [i, n] of steps.entries()) {
        // Connecting time is shared in proportion to the connections each step adds.
        const reserve = (steps.length - i) * (cfg.settleMs + 1500);
        const from = i === 0 ? 0 : steps[i - 1];
        const maxMs = ((budget.left() - reserve) * (n - from)) / (steps.at(-1) - from);
        const opened = await subscribeTo(clients, server, n, maxMs);
        const { open, errors } = opened;
        const short = shortfall(n, opened);
        if (short) notes.push(short);
        await sleep(i === steps.length - 1 ? Math.max(cfg.settleMs, 1000) : cfg.settleMs);
        const m = await readMemory(server);
        if (i < cfg.idleSteps.length) {
          detail.steps.push({ target: n, open, errors, ...m });
          figures[`idle.rss@${n}`] = perConnection(m.rss, base.rss, open);
          figures[`idle.heap@${n}`] = perConnection(m.heapUsed, base.heapUsed, open);
        } else {
          // Held: still open after the settle, as the load clients see it.
          const stats = await Promise.all(clients.map((c) => c.call('stats')));
          const held = stats.reduce((a, s) => a + s.open, 0);
          detail.max = { target: n, held, errors, fds: openFds(server.pid), ...m };
          // Connecting cut short by the time budget measures the machine, not the server.
          figures['idle.held'] = opened.notStarted > 0 ? NaN : held;
          if (opened.notStarted > 0)
            notes.push(`connections held: n/a, time ran out with ${held} open`);
        }
      }
      return { figures, detail, notes };
    }),
  );
}
