// Replay: publish 1 + N events, resume with Last-Event-ID of the first one, time until the Nth
// missed event is read (from before the TCP connect). Checks: all N, nothing else, no duplicate.

import { median } from '../lib/stats.mjs';
import { withClients, withServer } from './helpers.mjs';

export async function replay(contender, cfg, budget) {
  return withServer(contender, {}, (server) =>
    withClients(1, async ([client]) => {
      const publish = (count, inflight) =>
        client.call(
          'publishBurst',
          {
            port: server.port,
            path: contender.publishPath,
            count,
            subscribers: 0,
            inflight,
            collectIds: true,
            timeoutMs: budget.left() * 0.6,
          },
          budget.left() + 30_000,
        );
      // The marker first, alone, so every one of the next N comes after it in the log.
      const marker = (await publish(1, 1)).ids[0];
      const r = await publish(cfg.replayEvents, 4);
      if (r.timedOut) throw new Error(`only ${r.sent} events published within the time budget`);
      const ids = r.ids;
      if (typeof marker !== 'string' || ids.some((id) => typeof id !== 'string')) {
        throw new Error('publish did not return an id for every event');
      }
      const runs = [];
      for (let i = 0; i < cfg.replayRuns; i++) {
        runs.push(
          await client.call('replay', {
            port: server.port,
            path: contender.replayPath,
            lastEventId: marker,
            expectIds: ids,
          }),
        );
      }
      const bad = runs.find((x) => x.error || x.mismatch || x.received !== cfg.replayEvents);
      if (bad) {
        const why =
          bad.error ??
          (bad.mismatch
            ? `${bad.mismatch.why} id ${bad.mismatch.got} after ${bad.mismatch.at} events`
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
