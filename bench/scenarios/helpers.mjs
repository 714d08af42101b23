// Scaffolding shared by the scenarios: a fresh server per scenario, load clients on the other
// core, and subscriptions spread over clients below the per-process open-file limit.

import { LoadClient, stop } from '../lib/children.mjs';
import { CLIENT_CPU, startServer, stopServer } from '../lib/contenders.mjs';

/** Sockets one load client may hold: the hard limit is 20,000 files per process. */
export const SOCKETS_PER_CLIENT = 9_750;

export async function withServer(contender, extraEnv, fn) {
  const server = await startServer(contender, extraEnv);
  try {
    return await fn(server);
  } finally {
    await stopServer(server);
  }
}

export async function withClients(count, fn) {
  const clients = Array.from({ length: count }, () => new LoadClient(CLIENT_CPU));
  try {
    return await fn(clients);
  } finally {
    await Promise.all(clients.map((c) => stop(c.child)));
  }
}

/**
 * Opens subscriptions until `target` are open in total, filling each client up to
 * SOCKETS_PER_CLIENT. Returns the number open afterwards and the failures by reason.
 */
export async function subscribeTo(clients, server, target, concurrency = 200) {
  const errors = {};
  const open = await Promise.all(clients.map((c) => c.call('stats').then((s) => s.open)));
  let total = open.reduce((a, b) => a + b, 0);
  const calls = [];
  let missing = target - total;
  for (let i = 0; i < clients.length && missing > 0; i++) {
    const count = Math.min(missing, SOCKETS_PER_CLIENT - open[i]);
    if (count <= 0) continue;
    missing -= count;
    const args = { port: server.port, path: server.contender.subscribePath, count, concurrency };
    calls.push(clients[i].call('subscribe', args, 180_000));
  }
  for (const r of await Promise.all(calls)) {
    total += r.opened;
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  return { open: total, errors };
}

export const perConnection = (after, before, n) => (n > 0 ? (after - before) / n : NaN);
