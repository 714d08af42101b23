import { buildAppOnce } from './app-process';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNginx, type NginxOptions, type RunningNginx } from './nginx';
import { freePort, waitUntilAccepting } from './ports';

/**
 * The deployed topology on loopback: N processes of the built app (`node dist/main.js`, each on its
 * own PORT) behind the real nginx with the reference config, as docker-compose.yml runs them.
 * The app is compiled once for the tests (buildAppOnce), so no prior `npm run build` is needed.
 */

/** Quiet defaults for the replicas; a test passes what it needs on top. */
const REPLICA_ENV: Record<string, string> = {
  NODE_ENV: 'test',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  MONITOR_INTERVAL_MS: '0',
  SHUTDOWN_GRACE_MS: '1000',
};

export interface Replica {
  port: number;
  /** What the process wrote to stdout and stderr so far. */
  logs(): string;
  /** SIGTERM (the app drains), waits for the exit; SIGKILL if it has not exited after 10 s. */
  stop(): Promise<void>;
}

export interface Topology {
  nginx: RunningNginx;
  replicas: Replica[];
  /** nginx's address: http://127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

export interface TopologyOptions {
  replicas: number;
  /** App environment on top of REPLICA_ENV (PORT is set per replica). */
  env?: Record<string, string>;
  /** nginx options besides the upstreams (e.g. readTimeout). */
  nginx?: Omit<NginxOptions, 'upstreams'>;
}

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const mainJs = await buildAppOnce();
  const replicas: Replica[] = [];
  try {
    for (let i = 0; i < options.replicas; i++)
      replicas.push(await startReplica(mainJs, options.env ?? {}));
    const nginx = await startNginx({ ...options.nginx, upstreams: replicas.map((r) => r.port) });
    return {
      nginx,
      replicas,
      url: nginx.url,
      stop: async () => {
        await nginx.stop();
        await Promise.all(replicas.map((r) => r.stop()));
      },
    };
  } catch (error) {
    await Promise.all(replicas.map((r) => r.stop()));
    throw error;
  }
}

async function startReplica(mainJs: string, env: Record<string, string>): Promise<Replica> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-replica-'));
  const logFile = path.join(dir, 'app.log');
  const logFd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [mainJs], {
    env: { PATH: process.env.PATH ?? '', ...REPLICA_ENV, ...env, PORT: String(port) },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  let running = true;
  void exited.then(() => (running = false));
  let finalLogs: string | undefined;
  const logs = () => finalLogs ?? readFileSync(logFile, 'utf8');
  const stop = async () => {
    if (running) {
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
    finalLogs ??= logs();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilAccepting(port, 15_000, () => running);
  } catch (error) {
    await stop();
    throw new Error(
      `replica on port ${port} did not start: ${(error as Error).message}\n${logs()}`,
    );
  }
  return { port, logs, stop };
}
