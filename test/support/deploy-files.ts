import { execFile } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Readers for the deployment files (Dockerfile, .dockerignore, docker-compose.yml, nginx/). */

export const REPO = path.resolve(__dirname, '../..');

export function repoFile(name: string): string {
  return readFileSync(path.join(REPO, name), 'utf8');
}

// ---- Dockerfile ------------------------------------------------------------------------------

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  /** FROM's image (or earlier stage) and its `AS` name. */
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, continuations joined). */
export function dockerfileStages(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name] = rest;
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    }
    stages[stages.length - 1]?.instructions.push(instruction);
  }
  return stages;
}

// ---- .dockerignore ---------------------------------------------------------------------------

/**
 * Whether the build context leaves `file` out, by Docker's rules for the patterns used here: the
 * last matching line wins, `!` re-includes, `*` and `?` stay within one path segment, `**` spans
 * any number of them, and a pattern matching a directory matches everything under it.
 */
export function isDockerIgnored(file: string, dockerignore: string): boolean {
  const patterns = dockerignore
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const segments = file.split('/');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const glob = (part: string) =>
      part
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]');
    // `**/` is zero or more directories, any other `**` anything at all.
    const regex = new RegExp(
      `^${pattern
        .split('**/')
        .map((part) => part.split('**').map(glob).join('.*'))
        .join('(?:.*/)?')}$`,
    );
    if (prefixes.some((prefix) => regex.test(prefix))) ignored = !negated;
  }
  return ignored;
}

// ---- docker-compose --------------------------------------------------------------------------

const SETUP_HINT =
  'Run `bash scripts/ensure-system-deps.sh` (as root on Debian it installs docker-compose; ' +
  'elsewhere it names what to install).';

export function dockerComposeBinary(): string {
  for (const dir of [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/bin',
    '/usr/local/bin',
  ]) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, 'docker-compose'), constants.X_OK);
      return path.join(dir, 'docker-compose');
    } catch {
      // not here
    }
  }
  throw new Error(`docker-compose is not installed. ${SETUP_HINT}`);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${command} could not run: ${error.message}`));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/**
 * `docker-compose [--env-file <empty>] <args>` in `dir`, with exactly the given variables: neither
 * the developer's environment nor a .env file can change the outcome.
 */
export async function dockerCompose(
  args: string[],
  variables: Record<string, string>,
  dir = REPO,
): Promise<CommandResult> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rivulet-compose-'));
  try {
    const envFile = path.join(tmp, 'empty.env');
    writeFileSync(envFile, '');
    return await run(dockerComposeBinary(), ['--env-file', envFile, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: tmp, ...variables },
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The compose model as docker-compose resolved it (`docker-compose config`: variables filled in,
 * paths absolute), as JSON. docker-compose (Debian) is a Python program; its own interpreter has
 * PyYAML, so the YAML is read by the library compose itself reads it with.
 */
export async function resolvedCompose(variables: Record<string, string>): Promise<ComposeModel> {
  const config = await dockerCompose(['config'], variables);
  if (config.code !== 0) throw new Error(`docker-compose config failed:\n${config.stderr}`);
  const head = Buffer.alloc(256);
  const fd = openSync(dockerComposeBinary(), 'r');
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const shebang = head.toString('latin1').split('\n', 1)[0] ?? '';
  const python = /^#!\s*(\S*python\S*)/.exec(shebang)?.[1] ?? 'python3';
  const json = await run(
    python,
    ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    {
      input: config.stdout,
    },
  );
  if (json.code !== 0)
    throw new Error(`could not read the compose YAML with ${python}:\n${json.stderr}`);
  return JSON.parse(json.stdout) as ComposeModel;
}

export interface ComposeService {
  image?: string;
  pull_policy?: string;
  build?: { context: string };
  container_name?: string;
  ports?: Array<{ published: number; target: number }>;
  volumes?: string[];
  tmpfs?: string[];
  restart?: string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: {
    test: string[];
    interval?: string;
    timeout?: string;
    retries?: number;
    start_period?: string;
  };
  stop_grace_period?: string;
  command?: string[];
}

export interface ComposeModel {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// ---- durations and nginx directives ----------------------------------------------------------

/** "20s", "1m30s", "500ms", "1h" (compose and nginx units) in milliseconds. */
export function durationMs(value: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) {
    throw new Error(`not a duration: "${value}"`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * (units[unit ?? ''] ?? NaN), 0);
}

/** The argument of each occurrence of `directive` in an nginx file, comments ignored. */
export function nginxDirective(file: string, directive: string): string[] {
  const text = repoFile(path.join('nginx', file)).replace(/#.*$/gm, '');
  return [...text.matchAll(new RegExp(`(?:^|[;{}\\s])${directive}\\s+([^;]+);`, 'g'))].map((m) =>
    (m[1] ?? '').trim(),
  );
}
