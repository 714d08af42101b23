// Idle capacity: memory per held connection at each step, then connections held up to the
// open-file limit.

import { sleep } from '../lib/children.mjs';
import { readMemory } from '../lib/contenders.mjs';
import { openFds } from '../lib/proc.mjs';
import { perConnection, subscribeTo, withClients, withServer } from './helpers.mjs';

export async function idle(contender, cfg) {
  return withServer(contender, {}, (server) =>
    withClients(2, async (clients) => {
      const figures = {};
      const detail = { steps: [] };
      // Warm-up: lazy initialisation and JIT are not charged to the measured connections.
      await subscribeTo(clients, server, 50);
      await Promise.all(clients.map((c) => c.call('closeAll')));
      await sleep(cfg.settleMs);
      const base = await readMemory(server);
      detail.baseline = base;
      for (const n of cfg.idleSteps) {
        const { open, errors } = await subscribeTo(clients, server, n);
        await sleep(cfg.settleMs);
        const m = await readMemory(server);
        detail.steps.push({ target: n, open, errors, ...m });
        figures[`idle.rss@${n}`] = perConnection(m.rss, base.rss, open);
        figures[`idle.heap@${n}`] = perConnection(m.heapUsed, base.heapUsed, open);
      }
      const { errors } = await subscribeTo(clients, server, cfg.idleMax);
      await sleep(Math.max(cfg.settleMs, 1000));
      const stats = await Promise.all(clients.map((c) => c.call('stats')));
      const held = stats.reduce((a, s) => a + s.open, 0);
      const m = await readMemory(server);
      detail.max = { target: cfg.idleMax, held, errors, fds: openFds(server.pid), ...m };
      figures['idle.held'] = held;
      return { figures, detail };
    }),
  );
}
