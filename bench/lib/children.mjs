// Every process the harness starts goes through here, so that all of them are killed on exit,
// on SIGINT/SIGTERM and on errors.

import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const children = new Set();

function kill(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.group) {
    try {
      process.kill(-child.pid, 'SIGKILL'); // the child and everything it forked (nginx workers)
      return;
    } catch {
      // group already gone
    }
  }
  child.kill('SIGKILL');
}

export function killAll() {
  for (const child of children) kill(child);
  children.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}, stopping every child process`);
    killAll();
    process.exit(128 + os.constants.signals[signal]);
  });
}

/** Keeps the last `limit` characters of a stream, for error messages. */
function tail(stream, limit = 4000) {
  const box = { text: '' };
  stream?.setEncoding('utf8');
  stream?.on('data', (d) => {
    box.text = (box.text + d).slice(-limit);
  });
  return box;
}

/**
 * A spawned child with what spawnPinned adds: its process-group flag, the tails of its output and
 * a promise of its exit.
 * @typedef {import('node:child_process').ChildProcess & {
 *   group: boolean,
 *   output: { stdout: { text: string }, stderr: { text: string } },
 *   exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>,
 * }} PinnedChild
 */

/**
 * Spawns `command` pinned to `cpu` with taskset; stdout/stderr are drained and their tail kept.
 * @returns {PinnedChild}
 */
export function spawnPinned(cpu, command, args, options = {}) {
  const { group = false, ipc = false, ...rest } = options;
  const child = /** @type {PinnedChild} */ (
    spawn('taskset', ['-c', String(cpu), command, ...args], {
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      detached: group, // its own process group, killed as a whole
      ...rest,
    })
  );
  child.group = group;
  children.add(child);
  child.output = { stdout: tail(child.stdout), stderr: tail(child.stderr) };
  child.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  child.once('error', () => children.delete(child));
  return child;
}

export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  kill(child);
  await child.exited;
}

/** The last few kilobytes a child wrote, stderr then stdout. */
export const fullOutputOf = (child) => `${child.output.stderr.text}\n${child.output.stdout.text}`;

/** The line of a child's output that best says why it failed: its error, else its last line. */
export function outputOf(child) {
  const text = fullOutputOf(child);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at '));
  return lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '(no output)';
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Polls the port until it accepts; throws if the process exits first or on timeout. */
export async function waitForPort(child, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `exited (${child.exitCode ?? child.signalCode}) before listening: ${outputOf(child)}`,
      );
    }
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`port ${port} not listening after ${timeoutMs} ms: ${outputOf(child)}`);
}

const CLIENT_PATH = fileURLToPath(new URL('../client.mjs', import.meta.url));

/** A load client process pinned to `cpu`, driven by request/response messages over IPC. */
export class LoadClient {
  constructor(cpu) {
    this.child = spawnPinned(cpu, process.execPath, [CLIENT_PATH], { ipc: true });
    this.pid = this.child.pid;
    this.nextId = 1;
    this.pending = new Map();
    this.child.on('message', (/** @type {any} */ message) => {
      const { id, ok, result, error } = message;
      const call = this.pending.get(id);
      if (!call) return;
      this.pending.delete(id);
      clearTimeout(call.timer);
      if (ok) call.resolve(result);
      else call.reject(new Error(error));
    });
    void this.child.exited.then(({ code, signal }) => {
      for (const call of this.pending.values()) {
        clearTimeout(call.timer);
        call.reject(new Error(`load client exited (${code ?? signal}): ${outputOf(this.child)}`));
      }
      this.pending.clear();
    });
  }

  call(cmd, args = {}, timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`load client: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  stop() {
    return stop(this.child);
  }
}
