import { validate } from 'dockerfile-utils';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  dockerCompose,
  dockerfileStages,
  durationMs,
  isDockerIgnored,
  nginxDirective,
  REPO,
  repoFile,
  resolvedCompose,
  run,
  type ComposeModel,
  type Stage,
} from './support/deploy-files';
import { freePort } from './support/nginx';

/**
 * The deployment files checked without a Docker engine: docker-compose validates the compose file
 * offline, dockerfile-utils lints the Dockerfile, and the assertions below pin what the stack
 * relies on, including the numbers that must agree across files (timeouts, limits, ports).
 */

jest.setTimeout(30_000);

const SECRET = 'static-check-secret';

describe('docker-compose.yml', () => {
  let compose: ComposeModel;
  const service = (name: string) => {
    const found = compose.services[name];
    if (!found) throw new Error(`no service "${name}" in docker-compose.yml`);
    return found;
  };
  const env = (name: string) => service('app').environment?.[name];

  beforeAll(async () => {
    compose = await resolvedCompose({});
  });

  it('passes `docker-compose config -q` with no variable set (a fresh clone)', async () => {
    const result = await dockerCompose(['config', '-q'], {});
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('passes AUTH_JWT_SECRET on when set (it wins over the file), and no secret otherwise', async () => {
    const withSecret = await resolvedCompose({ AUTH_JWT_SECRET: SECRET });
    expect(withSecret.services.app?.environment?.AUTH_JWT_SECRET).toBe(SECRET);
    expect(env('AUTH_JWT_SECRET')).toBe('');
    expect(repoFile('docker-compose.yml')).not.toMatch(/AUTH_JWT_SECRET:\s*["']?[A-Za-z0-9]{8,}/);
  });

  it('control: docker-compose rejects a misspelled key (the validation is real)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-compose-'));
    try {
      cpSync(path.join(REPO, 'docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
      const file = path.join(dir, 'docker-compose.yml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('healthcheck:', 'healthchek:'));
      const result = await dockerCompose(['config', '-q'], {}, dir);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('healthchek');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has nginx, app and redis, each with a healthcheck, and the one-shots (secret, tls-cert)', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'app',
      'nginx',
      'redis',
      'secret',
      'tls-cert',
    ]);
    for (const name of ['app', 'nginx', 'redis']) {
      expect([name, service(name).healthcheck?.test?.[0]]).toEqual([name, 'CMD']);
    }
    expect(service('redis').healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(service('secret').restart).toBe('no');
  });

  it('starts each service only once what it needs is healthy (or, for a one-shot, done)', () => {
    expect(service('nginx').depends_on).toEqual({
      app: { condition: 'service_healthy' },
      'tls-cert': { condition: 'service_completed_successfully' },
    });
    expect(service('app').depends_on).toEqual({
      redis: { condition: 'service_healthy' },
      secret: { condition: 'service_completed_successfully' },
    });
  });

  it("gives the replicas the one-shot's secret file through AUTH_JWT_SECRET_FILE, read-only", () => {
    const [writerVolume = ''] = service('secret').volumes ?? [];
    const [volume, writerDir] = writerVolume.split(':');
    expect(compose.volumes).toHaveProperty(volume ?? '');
    const appMount = (service('app').volumes ?? []).find((v) => v.startsWith(`${volume}:`)) ?? '';
    const [, appDir, mode] = appMount.split(':');
    expect(mode).toBe('ro');
    const script = (service('secret').command ?? []).join(' ');
    const written = new RegExp(`f=${writerDir}/(\\S+)`).exec(script)?.[1];
    expect(env('AUTH_JWT_SECRET_FILE')).toBe(`${appDir}/${written}`);
    // Random per installation, readable by the app's user (uid 1000) only, kept once written.
    expect(script).toContain('/dev/urandom');
    expect(script).toContain('umask 077');
    expect(script).toContain('chown 1000:1000');
    // (`$$` is compose's escape for a literal `$`; `docker-compose config` keeps it.)
    expect(script).toMatch(/if \[ -s "\$\$?f" \]; then .*exit 0; fi/);
  });

  it('lets the app scale (`--scale app=N`): built from this repo, no container_name, no host port', () => {
    expect(service('app').build?.context).toBe(REPO);
    expect(service('app').container_name).toBeUndefined();
    expect(service('app').ports).toBeUndefined();
  });

  it('runs the replicas in production on the shared Redis event log', () => {
    expect(service('app').environment).toMatchObject({
      NODE_ENV: 'production',
      STORE: 'redis',
      REDIS_URL: 'redis://redis:6379',
      AUTH_JWT_SECRET_FILE: expect.stringMatching(/^\/run\/secrets\//),
    });
    expect(service('redis').command).toEqual(['redis-server', '--appendonly', 'yes']);
  });

  it('gives the app longer to stop than its drain (stop_grace_period > SHUTDOWN_GRACE_MS)', () => {
    const grace = durationMs(service('app').stop_grace_period ?? '10s');
    expect(grace).toBeGreaterThan(Number(env('SHUTDOWN_GRACE_MS')));
  });

  it("gives nginx longer to stop than its workers' shutdown timeout", () => {
    const [workerShutdown = ''] = nginxDirective('nginx.conf', 'worker_shutdown_timeout');
    const grace = durationMs(service('nginx').stop_grace_period ?? '10s');
    expect(grace).toBeGreaterThan(durationMs(workerShutdown));
  });

  it('mounts the reference nginx config read-only and publishes HTTP as 8080, HTTPS as 8443 by default', async () => {
    expect(service('nginx').volumes).toEqual([
      `${path.join(REPO, 'nginx')}:/etc/nginx:ro`,
      `${path.join(REPO, 'nginx/entrypoint/16-rivulet-first-resolver.envsh')}:/docker-entrypoint.d/16-rivulet-first-resolver.envsh:ro`,
      `${path.join(REPO, 'nginx/entrypoint/17-rivulet-https-port.envsh')}:/docker-entrypoint.d/17-rivulet-https-port.envsh:ro`,
      'tls-certs:/etc/rivulet/tls:ro',
    ]);
    expect(nginxDirective('listen.conf', 'listen')).toEqual(['443 ssl']);
    expect(nginxDirective('redirect-listen.conf', 'listen')).toEqual(['80']);
    expect(service('nginx').ports).toEqual([
      { published: 8080, target: 80 },
      { published: 8443, target: 443 },
    ]);
    const moved = await resolvedCompose({
      RIVULET_HTTP_PORT: '18080',
      RIVULET_HTTPS_PORT: '18443',
    });
    expect(moved.services.nginx?.ports).toEqual([
      { published: 18080, target: 80 },
      { published: 18443, target: 443 },
    ]);
  });

  it("points nginx at every replica through the container's own DNS (Docker or podman), with an nginx that supports `resolve` (>= 1.27.3)", () => {
    expect(nginxDirective('upstream.conf', 'server')).toEqual([
      `app:${env('PORT')} resolve max_fails=1 fail_timeout=2s`,
    ]);
    // No fixed resolver address: the nginx image's entrypoint writes it from /etc/resolv.conf.
    expect(nginxDirective('upstream.conf', 'resolver')).toEqual([]);
    const nginxEnv = service('nginx').environment ?? {};
    expect(nginxEnv.NGINX_ENTRYPOINT_LOCAL_RESOLVERS).toBeTruthy();
    const outputDir = nginxEnv.NGINX_ENVSUBST_OUTPUT_DIR ?? '';
    expect(service('nginx').tmpfs).toContain(outputDir);
    expect(nginxDirective('upstream.conf', 'include')).toEqual([`${outputDir}/resolver.conf`]);
    expect(nginxDirective('templates/resolver.conf.template', 'resolver')).toEqual([
      '${NGINX_LOCAL_RESOLVERS} valid=10s ipv6=off',
    ]);
    const tag = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/.exec(service('nginx').image ?? '');
    const version = (tag ?? []).slice(1).map((n) => Number(n ?? 0));
    const atLeast = (want: number[]) =>
      version.map((v, i) => v - (want[i] ?? 0)).find((d) => d !== 0) ?? 0;
    expect(atLeast([1, 27, 3])).toBeGreaterThanOrEqual(0);
  });

  it("keeps nginx's stream read timeout above the app's heartbeat", () => {
    const [readTimeout = ''] = nginxDirective('timeouts.conf', 'proxy_read_timeout');
    expect(durationMs(readTimeout)).toBeGreaterThan(Number(env('SSE_HEARTBEAT_MS')));
  });

  it("matches nginx's body limits to the app's MAX_BODY_BYTES and DURABLE_MAX_BODY_BYTES", () => {
    // In file order: the /api/ stream location, then /v1/stream/ (Durable Streams).
    const limits = nginxDirective('conf.d/rivulet.conf', 'client_max_body_size');
    expect(limits).toEqual(['64k', '1m']);
    expect(64 * 1024).toBe(Number(env('MAX_BODY_BYTES')));
    expect(1024 * 1024).toBe(Number(env('DURABLE_MAX_BODY_BYTES')));
  });

  it('checks app health with the same command as the image', () => {
    const final = dockerfileStages(repoFile('Dockerfile')).at(-1);
    const healthcheck = final?.instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args ?? '';
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3)) as string[];
    expect(service('app').healthcheck?.test).toEqual(['CMD', ...command]);
  });
});

describe('Dockerfile', () => {
  const text = repoFile('Dockerfile');
  const stages = dockerfileStages(text);
  const final = stages[stages.length - 1] as Stage;
  const args = (stage: Stage, keyword: string) =>
    stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
  const stageNamed = (name: string) => stages.find((s) => s.name === name);

  it('has no problems according to dockerfile-utils', () => {
    expect(validate(text)).toEqual([]);
  });

  it('control: dockerfile-utils does report a broken Dockerfile', () => {
    const broken = text
      .replace('--interval=10s', '--interval=10')
      .replace('CMD ["node", "dist/main.js"]', "CMD ['node', 'dist/main.js']");
    expect(validate(broken).map((d) => d.message)).toEqual([
      'time: missing unit in duration 10',
      'Instruction written as a JSON array but is using single quotes instead of double quotes',
    ]);
  });

  it('builds in stages on node:24-bookworm-slim', () => {
    expect(stages[0]?.from).toBe('node:24-bookworm-slim');
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(stages.slice(1).every((s) => s.from === stages[0]?.name)).toBe(true);
  });

  it('compiles with `npm ci` + build, and ships production dependencies only', () => {
    const build = stageNamed('build') as Stage;
    expect(args(build, 'RUN')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^npm ci\b/), 'npm run build']),
    );
    const nodeModules = args(final, 'COPY').find((a) => a.endsWith(' ./node_modules')) ?? '';
    const from = stageNamed(/--from=(\S+)/.exec(nodeModules)?.[1] ?? '') as Stage;
    expect(args(from, 'RUN').join(' ')).toMatch(/npm ci --omit=dev/);
    expect(args(final, 'COPY')).toContain('--from=build /app/dist ./dist');
  });

  it('runs as the unprivileged node user, in production, on port 3000', () => {
    expect(args(final, 'USER')).toEqual(['node']);
    const userAt = final.instructions.findIndex((i) => i.keyword === 'USER');
    const cmdAt = final.instructions.findIndex((i) => i.keyword === 'CMD');
    expect(userAt).toBeLessThan(cmdAt);
    expect(args(final, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
    expect(args(final, 'EXPOSE')).toEqual(['3000']);
    expect(args(final, 'CMD')).toEqual(['["node", "dist/main.js"]']);
  });

  it('runs under tini so SIGTERM reaches Node, and stops with SIGTERM', () => {
    expect(args(final, 'RUN').join(' ')).toMatch(/apt-get install .*\btini\b/);
    expect(args(final, 'ENTRYPOINT')).toEqual(['["/usr/bin/tini", "--"]']);
    expect(args(final, 'STOPSIGNAL')).toEqual(['SIGTERM']);
  });

  it('has a HEALTHCHECK on /health/ready that needs no curl', () => {
    const [healthcheck = ''] = args(final, 'HEALTHCHECK');
    expect(healthcheck).toMatch(/CMD \["node", "scripts\/healthcheck\.mjs"\]$/);
    expect(repoFile('scripts/healthcheck.mjs')).toContain('/health/ready');
    expect(args(final, 'COPY')).toContain('scripts/healthcheck.mjs ./scripts/healthcheck.mjs');
  });

  it('sends every file it copies in the build context, and keeps secrets and local builds out', () => {
    const dockerignore = repoFile('.dockerignore');
    const sources = stages
      .flatMap((s) => args(s, 'COPY'))
      .filter((a) => !a.startsWith('--from='))
      .flatMap((a) => a.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter((s) => isDockerIgnored(s, dockerignore))).toEqual([]);
    for (const kept of ['src/main.ts', 'public/index.html'])
      expect(isDockerIgnored(kept, dockerignore)).toBe(false);
    for (const left of [
      '.env',
      'node_modules/rxjs/package.json',
      'dist/main.js',
      '.git/HEAD',
      'test/nginx.e2e-spec.ts',
      'src/sse/x.spec.ts',
      'src/main.spec.ts',
    ]) {
      expect([left, isDockerIgnored(left, dockerignore)]).toEqual([left, true]);
    }
  });
});

describe('scripts/healthcheck.mjs', () => {
  async function exitCodeAgainst(status: number | undefined): Promise<number> {
    let port: number;
    let server: http.Server | undefined;
    if (status === undefined) {
      port = await freePort(); // nothing listens there
    } else {
      server = http.createServer((req, res) => {
        res.writeHead(req.url === '/health/ready' ? status : 404).end();
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    }
    try {
      const result = await run(process.execPath, [path.join(REPO, 'scripts/healthcheck.mjs')], {
        env: { PORT: String(port) },
      });
      return result.code;
    } finally {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
  }

  it('exits 0 when /health/ready answers 200', async () => {
    expect(await exitCodeAgainst(200)).toBe(0);
  });

  it('exits 1 when the app is not ready (503)', async () => {
    expect(await exitCodeAgainst(503)).toBe(1);
  });

  it('exits 1 when nothing answers', async () => {
    expect(await exitCodeAgainst(undefined)).toBe(1);
  });
});
