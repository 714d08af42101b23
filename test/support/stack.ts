import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FetchLike } from 'eventsource';
import { Agent, fetch as undiciFetch } from 'undici';
import { REPO, run, type CommandResult } from './deploy-files';
import { freePort } from './nginx';

/**
 * The real Dockerfile and docker-compose.yml, run the way users run them: `docker compose up
 * --build --scale app=3` with no variable set and no file created, under a project name of its own
 * and nginx published on two free loopback ports (HTTPS with HTTP/2, and plain HTTP that redirects
 * to it). Clients trust the stack's own self-signed certificate (the tls-cert one-shot's) and
 * nothing else.
 *
 * Engine: a Docker engine when one answers (`docker version` reaches a server); otherwise podman on
 * this machine, prepared by scripts/podman-setup.sh (stand-in base images, Compose v2), with the
 * podman API service on a private socket and a healthcheck runner (podman schedules healthchecks
 * through systemd, which is absent here), both started for this stack and stopped with it.
 */

export interface StackEngine {
  kind: 'docker' | 'podman';
  /** The engine's CLI (`docker` or `podman`), for kill/events/inspect on single containers. */
  cli: string;
  /** Compose v2: [binary, ...leading args] (`docker compose` or the standalone binary). */
  compose: string[];
  /** Environment for both: only what the engine needs, nothing from the developer's shell. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export interface DeathWatch {
  deaths: ContainerDeath[];
  /** Resolves once every one of `ids` has died (matched by id prefix, as `compose ps -q` is short). */
  waitFor(ids: string[], timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ContainerDeath {
  id: string;
  name: string;
  exitCode: number;
}

/** The stack's app image after a run, kept as the build cache of the next one. */
export const CACHE_IMAGE = 'rivulet-stack-cache:latest';

function baseEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`,
    HOME: home,
    LANG: 'C.UTF-8',
  };
}

async function dockerAnswers(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    const result = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env });
    return result.code === 0 && result.stdout.trim() !== '';
  } catch {
    return false; // no docker CLI at all
  }
}

/** Starts what the engine needs; `dir` is a private temporary folder for its sockets and config. */
export async function startEngine(dir: string): Promise<StackEngine> {
  const dockerConfig = path.join(dir, 'docker-config');
  mkdirSync(dockerConfig);
  writeFileSync(path.join(dockerConfig, 'config.json'), '{}');
  const probeEnv: NodeJS.ProcessEnv = { ...baseEnv(dir), DOCKER_CONFIG: dockerConfig };
  if (process.env.DOCKER_HOST) probeEnv.DOCKER_HOST = process.env.DOCKER_HOST;
  if (await dockerAnswers(probeEnv)) {
    return {
      kind: 'docker',
      cli: 'docker',
      compose: ['docker', 'compose'],
      env: probeEnv,
      stop: () => Promise.resolve(),
    };
  }
  return startPodman(dir, dockerConfig);
}

async function startPodman(dir: string, dockerConfig: string): Promise<StackEngine> {
  const setup = await run('bash', [path.join(REPO, 'scripts/podman-setup.sh')], {
    env: { ...baseEnv(dir), NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '' },
  });
  if (setup.code !== 0) {
    throw new Error(
      `scripts/podman-setup.sh failed (${setup.code}):\n${setup.stderr}\n${setup.stdout}`,
    );
  }
  const cache = setup.stdout.trim().split('\n').at(-1) ?? '';
  const socket = path.join(dir, 'podman.sock');
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(dir),
    CONTAINERS_CONF: path.join(cache, 'containers.conf'),
    DOCKER_HOST: `unix://${socket}`,
    DOCKER_BUILDKIT: '0',
    DOCKER_CONFIG: dockerConfig,
  };
  const service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serviceLog = '';
  service.stderr?.on(
    'data',
    (chunk: Buffer) => (serviceLog = (serviceLog + chunk.toString()).slice(-4000)),
  );
  const serviceExited = exitOf(service);
  const compose = [path.join(cache, 'bin', 'docker-compose')];
  // The service answers once its socket accepts API calls.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ping = await run(compose[0]!, ['version'], { env }).catch(() => undefined);
    const api = await run('podman', ['--url', env.DOCKER_HOST!, 'version'], { env }).catch(
      () => undefined,
    );
    if (ping?.code === 0 && api?.code === 0) break;
    if (service.exitCode !== null || Date.now() > deadline) {
      service.kill('SIGKILL');
      throw new Error(`podman system service did not answer on ${socket}:\n${serviceLog}`);
    }
    await pause(200);
  }
  return {
    kind: 'podman',
    cli: 'podman',
    compose,
    env,
    stop: async () => {
      if (service.exitCode === null && service.signalCode === null) {
        service.kill('SIGTERM');
        const kill = setTimeout(() => service.kill('SIGKILL'), 10_000);
        await serviceExited;
        clearTimeout(kill);
      }
    },
  };
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

/** Pacing between polls of a command's state (never a wait for an event that could be awaited). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Stack {
  engine: StackEngine;
  project: string;
  /** nginx's HTTPS server (HTTP/2) as published on the host: https://127.0.0.1:<port> */
  url: string;
  /** nginx's plain-HTTP server (redirects to `url`): http://127.0.0.1:<port> */
  httpUrl: string;
  /** The certificate nginx serves (PEM), read from nginx's own mount: the only one clients trust. */
  ca: string;
  /** fetch (undici's) trusting only `ca`: for EventSource's `fetch` option. */
  fetch: FetchLike;
  compose(args: string[], options?: { input?: string }): Promise<CommandResult>;
  /** The engine CLI (docker/podman) with the stack's environment. */
  cli(args: string[]): Promise<CommandResult>;
  /** Container ids of a service (running ones), e.g. the app replicas. */
  containers(service: string): Promise<string[]>;
  /** Records how each of the project's containers ends from now on, until the returned stop(). */
  watchDeaths(): DeathWatch;
  /** `compose down -v --rmi local` and the engine's own cleanup; safe to call twice. */
  dispose(): Promise<void>;
}

export async function startStack(options: { replicas: number }): Promise<Stack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-stack-'));
  const engine = await startEngine(dir);
  const project = `rivulet-stack-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const httpPort = await freePort();
  let httpsPort = await freePort();
  while (httpsPort === httpPort) httpsPort = await freePort();
  // An empty env file: a developer's .env cannot change what a fresh clone gets.
  const envFile = path.join(dir, 'empty.env');
  writeFileSync(envFile, '');
  const env = {
    ...engine.env,
    RIVULET_HTTP_PORT: `127.0.0.1:${httpPort}`,
    RIVULET_HTTPS_PORT: `127.0.0.1:${httpsPort}`,
  };
  const compose = (args: string[], opts: { input?: string } = {}) =>
    run(
      engine.compose[0]!,
      [...engine.compose.slice(1), '--project-name', project, '--env-file', envFile, ...args],
      { cwd: REPO, env, input: opts.input },
    );
  const cli = (args: string[]) => run(engine.cli, args, { env });
  const label = `label=com.docker.compose.project=${project}`;

  let healthchecks: { stop(): Promise<void> } | undefined;
  let agent: Agent | undefined;
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    try {
      await agent?.close();
      await compose(['down', '--volumes', '--remove-orphans', '--timeout', '30']);
      // The image this project built keeps one stable name and loses the project's: the next run's
      // build finds every layer cached, and runs leave no image per project name behind.
      const image = `${project}-app`;
      const idOf = async (name: string) =>
        (await cli(['image', 'inspect', '--format', '{{.Id}}', name])).stdout.trim();
      const built = await idOf(image);
      if (built !== '') {
        const previous = await idOf(CACHE_IMAGE);
        await cli(['tag', image, CACHE_IMAGE]);
        await cli(['rmi', image]);
        // The previous run's image, when this run built a different one: no longer named, gone.
        if (previous !== '' && previous !== built) await cli(['rmi', previous]);
      }
    } finally {
      await healthchecks?.stop();
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const stack: Stack = {
    engine,
    project,
    url: `https://127.0.0.1:${httpsPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    ca: '',
    fetch: () => Promise.reject(new Error('the stack is not up yet')),
    compose,
    cli,
    containers: async (service) => {
      const ps = await compose(['ps', '--quiet', service]);
      return ps.stdout.split('\n').filter(Boolean);
    },
    watchDeaths: () => watchDeaths(engine, env, label),
    dispose,
  };

  try {
    if (engine.kind === 'podman') healthchecks = runPodmanHealthchecks(env, label);
    const up = await compose(['up', '--build', '--detach', '--scale', `app=${options.replicas}`]);
    if (up.code !== 0) {
      const logs = await compose(['logs', '--no-color', '--tail', '50']);
      throw new Error(
        `compose up failed (${up.code}):\n${up.stderr}\n${logs.stdout}${logs.stderr}`,
      );
    }
    // nginx started only after tls-cert succeeded, so the certificate is in place.
    const cert = await compose(['exec', '-T', 'nginx', 'cat', '/etc/rivulet/tls/fullchain.pem']);
    if (cert.code !== 0 || !cert.stdout.includes('BEGIN CERTIFICATE')) {
      throw new Error(`no certificate in nginx (${cert.code}):\n${cert.stderr}${cert.stdout}`);
    }
    stack.ca = cert.stdout;
    const tlsAgent = new Agent({ connect: { ca: stack.ca } });
    agent = tlsAgent;
    stack.fetch = (url, init) => undiciFetch(url, { ...init, dispatcher: tlsAgent });
    return stack;
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * Runs `podman healthcheck run` on each running container of the project every 2 s, what systemd's
 * timers do for podman elsewhere, so `depends_on: condition: service_healthy` and the health
 * status work.
 */
function runPodmanHealthchecks(env: NodeJS.ProcessEnv, label: string): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const ps = await run('podman', ['ps', '--quiet', '--filter', label], { env });
      const ids = ps.stdout.split('\n').filter(Boolean);
      // A container without a healthcheck answers with an error: nothing to run there.
      await Promise.all(ids.map((id) => run('podman', ['healthcheck', 'run', id], { env })));
      if (!stopped) await pause(2000);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

function watchDeaths(engine: StackEngine, env: NodeJS.ProcessEnv, label: string): DeathWatch {
  const deaths: ContainerDeath[] = [];
  const event = engine.kind === 'podman' ? 'died' : 'die';
  // --since: the engine replays what happened from this second on, so nothing is missed while the
  // events stream attaches.
  const since = String(Math.floor(Date.now() / 1000));
  const child = spawn(
    engine.cli,
    [
      'events',
      '--since',
      since,
      '--filter',
      label,
      '--filter',
      `event=${event}`,
      '--format',
      '{{json .}}',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const listeners = new Set<() => void>();
  let buffer = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) deaths.push(parseDeath(JSON.parse(line) as Record<string, any>));
    }
    listeners.forEach((listener) => listener());
  });
  const exited = exitOf(child);
  const died = (id: string) => deaths.some((d) => d.id.startsWith(id) || id.startsWith(d.id));
  return {
    deaths,
    waitFor: (ids, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!ids.every(died)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`not every container died: ${JSON.stringify({ ids, deaths })}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A die event of podman (`ContainerExitCode`, absent when 0) or Docker (`Actor.Attributes`). */
function parseDeath(event: Record<string, any>): ContainerDeath {
  if ('Actor' in event) {
    const attributes = (event.Actor?.Attributes ?? {}) as Record<string, string>;
    return {
      id: String(event.Actor?.ID ?? event.id),
      name: attributes.name ?? '',
      exitCode: Number(attributes.exitCode ?? 0),
    };
  }
  return {
    id: String(event.ID),
    name: String(event.Name ?? ''),
    exitCode: Number(event.ContainerExitCode ?? 0),
  };
}
