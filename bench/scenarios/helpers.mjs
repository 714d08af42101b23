// Scaffolding shared by the scenarios: a fresh server per scenario, load clients on the other
// core, and subscriptions spread over clients below the per-process open-file limit.

import { LoadClient, stop } from '../lib/children.mjs';
import { CLIENT_CPU, startServer, stopServer } from '../lib/contenders.mjs';

/** Sockets one load client may hold: its hard limit is 20,000 open files. */
export const SOCKETS_PER_CLIENT = 19_000;

/** The wall-clock time one scenario may take; its steps share what is left. */
export class Budget {
  constructor(ms) {
    this.deadline = Date.now() + ms;
  }

  left() {
    return Math.max(0, this.deadline - Date.now());
  }
}

/**
 * Splits a scenario's budget over steps that grow the subscriber count (1k, 5k, 10k): connecting
 * gets time in proportion to the connections a step adds, measuring gets an even share of what
 * is left after the connecting the later steps will need (estimated from the rate seen so far).
 */
export class StepPlan {
  constructor(budget, steps) {
    this.budget = budget;
    this.steps = steps;
    this.msPerConnection = 1;
  }

  connectMs(i) {
    const from = i === 0 ? 0 : this.steps[i - 1];
    return (0.6 * this.budget.left() * (this.steps[i] - from)) / (this.steps.at(-1) - from);
  }

  connected({ open, ms }, before) {
    if (open > before) this.msPerConnection = ms / (open - before);
  }

  measureMs(i) {
    const laterConnects = (this.steps.at(-1) - this.steps[i]) * this.msPerConnection * 1.2;
    return Math.max(2000, (this.budget.left() - laterConnects) / (this.steps.length - i));
  }
}

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
 * Opens subscriptions until `target` are open in total, spread evenly over the clients (each
 * below SOCKETS_PER_CLIENT). Returns how many are open, failures by reason, and how many
 * connects were never attempted because `maxMs` ran out.
 */
export async function subscribeTo(clients, server, target, maxMs = 120_000, concurrency = 200) {
  const errors = {};
  const open = await Promise.all(clients.map((c) => c.call('stats').then((s) => s.open)));
  let total = open.reduce((a, b) => a + b, 0);
  let notStarted = 0;
  let ms = 0;
  const goal = Math.ceil(target / clients.length);
  const calls = [];
  let missing = target - total;
  for (let i = 0; i < clients.length && missing > 0; i++) {
    const count = Math.min(missing, goal - open[i], SOCKETS_PER_CLIENT - open[i]);
    if (count <= 0) continue;
    missing -= count;
    const path = server.contender.subscribePath;
    // However late the scenario is, connecting gets a few seconds: a step without its
    // subscribers measures nothing.
    const args = { port: server.port, path, count, concurrency, maxMs: Math.max(3000, maxMs) };
    calls.push(clients[i].call('subscribe', args, args.maxMs + 30_000));
  }
  for (const r of await Promise.all(calls)) {
    total += r.opened;
    notStarted += r.notStarted;
    ms = Math.max(ms, r.ms);
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  return { open: total, errors, notStarted, ms };
}

/** Why fewer than `target` subscriptions are open, for the report. */
export function shortfall(target, { open, errors, notStarted }) {
  if (open >= target) return undefined;
  const parts = [];
  if (notStarted > 0) parts.push(`${notStarted} connects not attempted (time budget)`);
  const failed = Object.entries(errors).map(([k, v]) => `${v} ${k}`);
  if (failed.length > 0) parts.push(`failed: ${failed.join(', ')}`);
  return `${open} of ${target} subscribers open${parts.length ? ` (${parts.join('; ')})` : ''}`;
}

export const perConnection = (after, before, n) => (n > 0 ? (after - before) / n : NaN);
