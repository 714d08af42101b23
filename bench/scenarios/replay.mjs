// Replay: publish 1 + N events, resume with Last-Event-ID of the first one, time until the Nth
// missed event is read (from before the TCP connect). Checks order, no gap, no duplicate.

import { median } from '../lib/stats.mjs';
import { withClients, withServer } from './helpers.mjs';

export async function replay(contender, cfg, budget) {
  return withServer(contender, {}, (server) =>
    withClients(1, async ([client]) => {
      const r = await client.call(
        'publishBurst',
        {
          port: server.port,
          path: contender.publishPath,
          count: cfg.replayEvents + 1,
          subscribers: 0,
          inflight: 1,
          collectIds: true,
          timeoutMs: budget.left() * 0.6,
        },
        budget.left() + 30_000,
      );
      if (r.timedOut) throw new Error(`only ${r.sent} events published within the time budget`);
      const ids = r.ids;
      if (ids.some((id) => typeof id !== 'string'))
        throw new Error('publish did not return an id for every event');
      const runs = [];
      for (let i = 0; i < cfg.replayRuns; i++) {
        runs.push(
          await client.call('replay', {
            port: server.port,
            path: contender.replayPath,
            lastEventId: ids[0],
            expectIds: ids.slice(1),
          }),
        );
      }
      const bad = runs.find((x) => x.error || x.mismatch || x.received !== cfg.replayEvents);
      if (bad) {
        const why =
          bad.error ??
          (bad.mismatch
            ? `order/gap at ${JSON.stringify(bad.mismatch)}`
            : `${bad.received} events`);
        throw new Error(`replay incorrect: ${why}`);
      }
      const ms = runs.map((x) => x.ms);
      return {
        figures: { 'replay.ms': median(ms) },
        detail: {
          runs: ms,
          ttfbMs: runs.map((x) => x.ttfbMs),
          min: Math.min(...ms),
          max: Math.max(...ms),
        },
      };
    }),
  );
}
