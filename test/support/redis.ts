import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitUntilAccepting } from './ports';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export interface RedisServerOptions {
  /** Keep the data across restarts (appendonly yes, appendfsync always) in the server's own temp dir. */
  persistent?: boolean;
  /** Listen on this port (default: a free one). */
  port?: number;
}

/** A real redis-server on 127.0.0.1 for one test file: start(), stop(), restart(); never left running. */
export class RedisServer {
  readonly port: number;
  readonly url: string;
  private readonly dir: string;
  private process: ChildProcess | undefined;
  private output = '';

  private constructor(
    port: number,
    private readonly options: RedisServerOptions,
  ) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.dir = mkdtempSync(path.join(tmpdir(), 'rivulet-redis-'));
  }

  /** A server on a free port (or `options.port`), not started yet. */
  static async create(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (!existsSync(REDIS_SERVER)) {
      throw new Error(
        `redis-server not found at ${REDIS_SERVER}: install it (apt-get install -y redis-server, as in .ci/run) ` +
          'or set REDIS_SERVER_BIN. The Redis tests never skip.',
      );
    }
    return new RedisServer(options.port ?? (await freePort()), options);
  }

  /** Creates and starts a server. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = await RedisServer.create(options);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    if (this.process) return;
    const persistence = this.options.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no'];
    const args = ['--save', '', ...persistence, '--port', String(this.port), '--bind', '127.0.0.1'];
    args.push('--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning');
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited (${code}) at start: ${this.output}`)),
      ),
    );
    await Promise.race([waitUntilAccepting(this.port, 10_000), exited]);
  }

  /** Stops the server: SIGTERM (or SIGKILL for a crash) and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  /** Stops the server and removes its data directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
