// Typewriter through nginx: time to first byte and the regularity of the gaps between chunks,
// direct and through an nginx proxy. A buffering proxy shows as bursts: near-zero gaps between
// long ones.

import { ensureNginx, startNginx } from '../lib/nginx.mjs';
import { gaps, median, percentile, stddev } from '../lib/stats.mjs';
import { withClients, withServer } from './helpers.mjs';

function summarise(runs, expectedChunks) {
  const bad = runs.find((r) => r.error || !r.ended || r.chunkMs.length !== expectedChunks);
  if (bad)
    throw new Error(
      `typewriter stream incomplete: ${bad.error ?? `${bad.chunkMs.length}/${expectedChunks} chunks`}`,
    );
  const all = runs.flatMap((r) => gaps(r.chunkMs));
  return {
    ttfb: median(runs.map((r) => r.ttfbMs)),
    firstEvent: median(runs.map((r) => r.firstEventMs)),
    gapStd: stddev(all),
    gapSpread: percentile(all, 99) - percentile(all, 50),
    gapP50: percentile(all, 50),
    gapMin: percentile(all, 0),
    gapMax: percentile(all, 100),
  };
}

export async function typewriter(contender, cfg, budget) {
  const env = { TYPEWRITER_INTERVAL_MS: String(cfg.typewriterIntervalMs) };
  return withServer(contender, env, (server) =>
    withClients(1, async ([client]) => {
      const path = `${contender.typewriterPath}?text=${encodeURIComponent(cfg.typewriterText)}`;
      const read = (port) => {
        const timeoutMs = Math.max(1000, budget.left());
        return client.call('typewriter', { port, path, timeoutMs }, timeoutMs + 10_000);
      };
      const expected = cfg.typewriterText.length;
      const detail = { intervalMs: cfg.typewriterIntervalMs, chunks: expected };
      const notes = [];
      let proxy;
      try {
        proxy = await startNginx(await ensureNginx(), server.port);
        detail.nginxConfig = proxy.config;
        notes.push(`nginx config: ${proxy.config}`);
      } catch (err) {
        detail.nginx = `n/a: ${err.message}`;
        notes.push(`nginx n/a: ${err.message}`);
      }
      const figures = {};
      try {
        // Warm-up, then direct and proxied runs alternate so drift hits both alike.
        await read(server.port);
        if (proxy) await read(proxy.port);
        const runs = { direct: [], nginx: [] };
        for (let i = 0; i < cfg.typewriterRuns; i++) {
          runs.direct.push(await read(server.port));
          if (proxy) runs.nginx.push(await read(proxy.port));
        }
        for (const path of proxy ? ['direct', 'nginx'] : ['direct']) {
          const s = summarise(runs[path], expected);
          detail[path] = s;
          figures[`tw.ttfb.${path}`] = s.ttfb;
          figures[`tw.std.${path}`] = s.gapStd;
          figures[`tw.spread.${path}`] = s.gapSpread;
        }
      } finally {
        await proxy?.stop();
      }
      return { figures, detail, notes };
    }),
  );
}
