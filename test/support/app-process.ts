import { ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { TEST_ENV } from './app';
import { freePort, waitForPort } from './redis';

const ROOT = path.resolve(__dirname, '..', '..');
/** Compiled app for tests that need real processes (kill -9); gitignored, rebuilt incrementally. */
const OUT_DIR = path.join(ROOT, 'test-artifacts', 'app-dist');

/** Compiles src/ once (tsc --incremental: a no-op when nothing changed) and returns the entry point. */
export async function buildAppOnce(): Promise<string> {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = ['-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', OUT_DIR, '--incremental'];
  args.push('--tsBuildInfoFile', path.join(OUT_DIR, '.tsbuildinfo'));
  await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: ROOT });
  return path.join(OUT_DIR, 'main.js');
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One app instance as a real process on a fixed loopback port, so it can be killed and restarted there. */
export class AppProcess {
  readonly url: string;
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    private readonly entry: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async create(entry: string, env: Record<string, string>): Promise<AppProcess> {
    return new AppProcess(entry, await freePort(), env);
  }

  /** The process id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const env = { PATH: process.env.PATH ?? '', ...TEST_ENV, ...this.env, PORT: String(this.port) };
    const child = spawn(process.execPath, [this.entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on(
      'data',
      (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)),
    );
    child.stderr?.on(
      'data',
      (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000)),
    );
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`app exited (${code}) at start: ${this.output}`)),
      ),
    );
    await Promise.race([waitForPort(this.port, 20_000), exited]);
  }

  /**
   * Stops the process (SIGKILL = a crash) and waits until it is gone; resolves with how it exited
   * (undefined when it was not running).
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ProcessExit | undefined> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    const exited = new Promise<ProcessExit>((resolve) =>
      child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal })),
    );
    child.kill(signal);
    return exited;
  }

  /** The last few KiB the process wrote (stdout and stderr), for failure messages. */
  get recentOutput(): string {
    return this.output;
  }
}
