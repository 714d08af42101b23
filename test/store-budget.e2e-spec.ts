import { readFileSync } from 'node:fs';
import http from 'node:http';
import { AppProcess, buildAppOnce } from './support/app-process';

const MiB = 1024 * 1024;
/** 720 bodies of 500 KB: 360 MB published, over 10 times the budget (few requests: quick to send). */
const COUNT = 720;
const BODY_CHARS = 500_000;
const BUDGET = 32 * MiB;
const FLOOD_ENV = { MAX_BODY_BYTES: String(MiB) };
/**
 * What the process may use beyond the budget and its start-up size: garbage V8 has not collected
 * yet (bodies parsed and dropped), request buffers, allocator slack. Measured at 90..160 MiB for
 * this flood whatever its length (the store itself holds about half its budget in real heap for
 * such text): it does not grow with what is published, while the control grows by all of it.
 */
const FIXED_OVERHEAD = 200 * MiB;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kib) throw new Error(`no VmRSS for ${pid}`);
  return Number(kib[1]) * 1024;
}

/** One POST on a kept-alive agent; resolves with its status. */
function publish(agent: http.Agent, url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Publishes `count` bodies of BODY_CHARS characters, each to a new topic (the flood), 8 at a time,
 * sampling the process's RSS along the way; resolves with the highest RSS seen.
 */
async function flood(app: AppProcess, count: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const filler = 'x'.repeat(BODY_CHARS);
  let next = 0;
  let peak = rssOf(app.pid!);
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const status = await publish(
        agent,
        `${app.url}/api/events/flood-${i}`,
        JSON.stringify({ data: { i, filler } }),
      );
      if (status !== 202) throw new Error(`publish ${i} answered ${status}`);
      if (i % 10 === 0) peak = Math.max(peak, rssOf(app.pid!));
    }
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    agent.destroy();
  }
  return Math.max(peak, rssOf(app.pid!));
}

describe('the memory store stays within STORE_MAX_BYTES under a flood (a real process, its RSS)', () => {
  let entry: string;
  const apps: AppProcess[] = [];

  beforeAll(async () => {
    entry = await buildAppOnce();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.stop()));
  });

  const start = async (env: Record<string, string>) => {
    const app = await AppProcess.create(entry, { LOG_LEVEL: 'warn', ...env });
    apps.push(app);
    await app.start();
    return app;
  };

  it('360 MB of bodies to new topics: RSS stays within the budget plus a fixed overhead, and old events are gone with a reset', async () => {
    const app = await start({ ...FLOOD_ENV, STORE_MAX_BYTES: String(BUDGET) });
    const baseline = rssOf(app.pid!);
    const peak = await flood(app, COUNT);
    process.stdout.write(
      `store-budget: RSS ${(baseline / MiB).toFixed(0)} MiB at start, peak ${(peak / MiB).toFixed(0)} MiB ` +
        `with STORE_MAX_BYTES=${BUDGET / MiB} MiB after ${COUNT} x ${BODY_CHARS / 1000} KB\n`,
    );
    expect(peak).toBeLessThanOrEqual(baseline + BUDGET + FIXED_OVERHEAD);
    // The first topics' events were evicted: resuming there says so (history_truncated).
    const resumed = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        `${app.url}/api/events?topic=flood-0&lastEventId=0`,
        { agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('history_truncated')) {
              req.destroy();
              resolve(text);
            }
          });
        },
      );
      req.on('error', reject);
    });
    expect(resumed).toMatch(/"type":"reset","reason":"history_truncated"/);
  }, 120_000);

  it('negative control: the same flood with a budget far above it grows RSS past that bound', async () => {
    const app = await start({ ...FLOOD_ENV, STORE_MAX_BYTES: String(64 * 1024 * MiB) });
    const baseline = rssOf(app.pid!);
    const peak = await flood(app, COUNT);
    process.stdout.write(
      `store-budget (control): RSS ${(baseline / MiB).toFixed(0)} MiB at start, peak ${(peak / MiB).toFixed(0)} MiB\n`,
    );
    expect(peak).toBeGreaterThan(baseline + BUDGET + FIXED_OVERHEAD);
  }, 120_000);
});
