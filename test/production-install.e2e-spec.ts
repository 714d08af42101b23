import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, run } from './support/deploy-files';
import { freePort, waitUntilAccepting } from './support/ports';
import { get, post } from './support/http';

/**
 * What the image's runtime stage holds, rebuilt outside Docker: the compiled dist/, the manifests
 * and `npm ci --omit=dev` (production dependencies only) in a folder of its own, then
 * `node dist/main.js` in production. If dist/ imported a devDependency the app could not start
 * here, as it could not in the container.
 */

jest.setTimeout(10 * 60_000);

let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-prod-install-'));
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await run(process.execPath, [
    tsc,
    '-p',
    path.join(REPO, 'tsconfig.build.json'),
    '--outDir',
    path.join(dir, 'dist'),
  ]);
  if (build.code !== 0) throw new Error(`tsc failed:\n${build.stdout}${build.stderr}`);
  for (const file of ['package.json', 'package-lock.json'])
    copyFileSync(path.join(REPO, file), path.join(dir, file));
  cpSync(path.join(REPO, 'public'), path.join(dir, 'public'), { recursive: true });
  // The image's command, with the user's npm configuration (registry, CA) but no scripts.
  const install = await run(
    'npm',
    [
      'ci',
      '--omit=dev',
      '--omit=optional',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
    ],
    { cwd: dir, env: { ...process.env, NODE_ENV: 'production' } },
  );
  if (install.code !== 0) throw new Error(`npm ci --omit=dev failed:\n${install.stderr}`);
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all(
    children.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

const exitCode = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });

describe('a production install (npm ci --omit=dev) of the built app', () => {
  it('holds no devDependency (the install really omitted them)', async () => {
    const resolve = (name: string) =>
      run(process.execPath, ['-e', `require.resolve(${JSON.stringify(name)})`], { cwd: dir });
    expect((await resolve('express')).code).toBe(0);
    for (const dev of ['@nestjs/testing', 'jest', 'typescript']) {
      const result = await resolve(dev);
      expect([dev, result.code]).toEqual([dev, 1]);
      expect(result.stderr).toContain('Cannot find module');
    }
  });

  it('starts with `node dist/main.js` and reaches /health/ready, with the secret from AUTH_JWT_SECRET_FILE', async () => {
    const secretFile = path.join(dir, 'jwt-secret');
    writeFileSync(secretFile, 'production-install-test-secret-of-32-bytes-or-more\n', {
      mode: 0o600,
    });
    const port = await freePort();
    const app = start({ PORT: String(port), AUTH_JWT_SECRET_FILE: secretFile, LOG_LEVEL: 'warn' });
    await waitUntilAccepting(port, 60_000, () => app.child.exitCode === null).catch((error) => {
      throw new Error(`${(error as Error).message}\n${app.output()}`);
    });
    const ready = await get(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(200);
    // The demo pages ship (public/), and the secret from the file is in force: token mode
    // refuses anonymous publishing.
    expect((await get(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const anonymous = await post(`http://127.0.0.1:${port}/api/events/x`, { data: {} });
    expect(anonymous.status).toBe(401);
    app.child.kill('SIGTERM');
    expect(await exitCode(app.child)).toBe(0);
  });

  it('stops at start-up naming AUTH_JWT_SECRET_FILE when the file cannot be read', async () => {
    const missing = path.join(dir, 'no-such-secret');
    const app = start({ PORT: '0', AUTH_JWT_SECRET_FILE: missing });
    expect(await exitCode(app.child)).toBe(1);
    expect(app.output()).toContain(`AUTH_JWT_SECRET_FILE: cannot read "${missing}" (ENOENT)`);
  });
});
