// Churn: many connect/disconnect cycles, then RSS, heap and open descriptors against the
// values before. A leak shows as handles or heap that do not come back.

import { sleep } from '../lib/children.mjs';
import { readMemory } from '../lib/contenders.mjs';
import { backgroundWindow, openFds } from '../lib/proc.mjs';
import { withClients, withServer } from './helpers.mjs';

export async function churn(contender, cfg, budget) {
  return withServer(contender, {}, (server) =>
    withClients(1, async ([client]) => {
      const args = {
        port: server.port,
        path: contender.subscribePath,
        concurrency: cfg.churnConcurrency,
      };
      await client.call('churn', { ...args, cycles: 500, maxMs: 5000 }, 20_000);
      await sleep(cfg.settleMs);
      const before = { ...(await readMemory(server)), fds: openFds(server.pid) };
      const maxMs = Math.max(1000, Math.min(cfg.churnMaxMs, budget.left() - 3000));
      const background = backgroundWindow([server.pid, client.pid]);
      const r = await client.call(
        'churn',
        { ...args, cycles: cfg.churnCycles, maxMs },
        maxMs + 30_000,
      );
      await sleep(Math.max(cfg.settleMs, 1000));
      const after = { ...(await readMemory(server)), fds: openFds(server.pid) };
      const figures = {
        'churn.cycles': r.done,
        'churn.rate': r.done / (r.ms / 1000),
        'churn.rss': after.rss - before.rss,
        'churn.heap': after.heapUsed - before.heapUsed,
        'churn.fds': after.fds - before.fds,
      };
      const mib = (b) => (Number.isFinite(b) ? (b / 1048576).toFixed(1) : 'n/a');
      const notes = [
        `before -> after: RSS ${mib(before.rss)} -> ${mib(after.rss)} MiB, ` +
          `heap ${mib(before.heapUsed)} -> ${mib(after.heapUsed)} MiB, open fds ${before.fds} -> ${after.fds}`,
      ];
      if (r.done < cfg.churnCycles) {
        notes.push(
          `${r.done} of ${cfg.churnCycles} cycles in ${(r.ms / 1000).toFixed(1)} s (time bound)`,
        );
      }
      if (r.failed > 0) notes.push(`${r.failed} cycles failed: ${JSON.stringify(r.errors)}`);
      return { figures, detail: { ...r, before, after, background: background() }, notes };
    }),
  );
}
