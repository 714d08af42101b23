import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  nginxDirective,
  REPO,
  resolvedCompose,
  run,
  type ComposeModel,
} from './support/deploy-files';
import { H2Stream } from './support/h2-stream';
import { startNginx } from './support/nginx';
import { SseUpstream } from './support/sse-upstream';

/**
 * HTTPS out of the box in the compose stack: the tls-cert one-shot (scripts/tls-self-signed.mjs)
 * run for real with Node, its certificate served by the real nginx to a client that verifies it,
 * and the compose wiring that puts it where nginx/certificate.conf looks.
 */

jest.setTimeout(30_000);

const SCRIPT = path.join(REPO, 'scripts/tls-self-signed.mjs');
const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-certs-'));
  tempDirs.push(dir);
  return dir;
};
const makeCert = (dir: string) => run(process.execPath, [SCRIPT, dir]);

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('scripts/tls-self-signed.mjs (the tls-cert one-shot)', () => {
  it('makes a certificate for localhost that nginx serves and a client trusting it verifies', async () => {
    const dir = tempDir();
    const made = await makeCert(dir);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain('made a self-signed certificate for localhost');
    expect(statSync(path.join(dir, 'privkey.pem')).mode & 0o077).toBe(0);

    const upstream = await SseUpstream.start((x) => {
      x.res.writeHead(200, { 'Content-Type': 'text/plain' });
      x.res.end('hello over h2');
    });
    const nginx = await startNginx({
      upstreams: [upstream.port],
      protocol: 'h2',
      certificate: {
        certFile: path.join(dir, 'fullchain.pem'),
        keyFile: path.join(dir, 'privkey.pem'),
      },
    });
    // Verified TLS: the script's certificate as the only CA, checked against the name localhost.
    const stream = new H2Stream(nginx.url, readFileSync(path.join(dir, 'fullchain.pem'), 'utf8'), {
      path: '/hello',
    });
    try {
      await stream.waitFor((s) => s.complete, 'the answer');
      expect(stream.status).toBe(200);
      expect(stream.alpnProtocol).toBe('h2');
    } finally {
      await stream.close();
      await nginx.stop();
      await upstream.close();
    }
  });

  it('keeps the certificate it finds (a later start, or your own): the files stay as they are', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'fullchain.pem'), 'my real chain\n');
    writeFileSync(path.join(dir, 'privkey.pem'), 'my real key\n');
    const again = await makeCert(dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already holds');
    expect(readFileSync(path.join(dir, 'fullchain.pem'), 'utf8')).toBe('my real chain\n');
    expect(readFileSync(path.join(dir, 'privkey.pem'), 'utf8')).toBe('my real key\n');
  });

  it('refuses half a pair, naming the files, rather than overwriting or serving it', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'fullchain.pem'), 'a chain without its key\n');
    const half = await makeCert(dir);
    expect(half.code).toBe(1);
    expect(half.stderr).toContain('only one of fullchain.pem and privkey.pem');
    expect(readFileSync(path.join(dir, 'fullchain.pem'), 'utf8')).toBe('a chain without its key\n');
  });
});

describe('docker-compose.yml: HTTPS wiring', () => {
  let compose: ComposeModel;
  const service = (name: string) => {
    const found = compose.services[name];
    if (!found) throw new Error(`no service "${name}" in docker-compose.yml`);
    return found;
  };

  beforeAll(async () => {
    compose = await resolvedCompose({ AUTH_JWT_SECRET: 'static-check-secret' });
  });

  it('runs the one-shot on the volume nginx reads its certificate from, where certificate.conf looks', () => {
    // The app's image (its node_modules hold @peculiar/x509), built once for `app`, never pulled,
    // run once as root.
    expect(service('app').build?.context).toBe(REPO);
    expect(service('tls-cert').image).toBe(service('app').image);
    expect(service('tls-cert').build).toBeUndefined();
    expect(service('tls-cert').pull_policy).toBe('never');
    expect(service('tls-cert').command).toEqual(['node', 'scripts/tls-self-signed.mjs', '/certs']);
    expect(service('tls-cert').volumes).toEqual([
      `${path.join(REPO, 'scripts/tls-self-signed.mjs')}:/app/scripts/tls-self-signed.mjs:ro`,
      'tls-certs:/certs:rw',
    ]);
    expect(service('nginx').volumes).toContain('tls-certs:/etc/rivulet/tls:ro');
    expect(nginxDirective('certificate.conf', 'ssl_certificate')).toEqual([
      '/etc/rivulet/tls/fullchain.pem',
    ]);
    expect(nginxDirective('certificate.conf', 'ssl_certificate_key')).toEqual([
      '/etc/rivulet/tls/privkey.pem',
    ]);
  });

  it('mounts your own certificate directory instead with TLS_CERT_DIR', async () => {
    const own = await resolvedCompose({
      AUTH_JWT_SECRET: 'static-check-secret',
      TLS_CERT_DIR: '/srv/certs',
    });
    expect(own.services.nginx?.volumes).toContain('/srv/certs:/etc/rivulet/tls:ro');
    expect(own.services['tls-cert']?.volumes).toContain('/srv/certs:/certs:rw');
  });

  it('redirects HTTP to the port HTTPS is published on; HTTP/2 is on; HSTS is off', async () => {
    // The published port reaches nginx as RIVULET_HTTPS_PORT, and the entrypoint fills the
    // template that redirect-listen.conf includes from it.
    const nginxEnv = service('nginx').environment ?? {};
    const published = service('nginx').ports?.find((p) => p.target === 443)?.published;
    expect(nginxEnv.RIVULET_HTTPS_PORT).toBe(String(published));
    const moved = await resolvedCompose({
      AUTH_JWT_SECRET: 'static-check-secret',
      RIVULET_HTTPS_PORT: '127.0.0.1:18443',
    });
    expect(moved.services.nginx?.environment?.RIVULET_HTTPS_PORT).toBe('127.0.0.1:18443');
    // (docker-compose 1.29 prints an address:port mapping in its short form.)
    expect(moved.services.nginx?.ports).toContain('127.0.0.1:18443:443/tcp');

    const outputDir = nginxEnv.NGINX_ENVSUBST_OUTPUT_DIR ?? '';
    expect(nginxDirective('redirect-listen.conf', 'include')).toEqual([
      `${outputDir}/https-port.conf`,
    ]);
    expect(nginxDirective('templates/https-port.conf.template', 'set')).toEqual([
      '$rivulet_https_port ${RIVULET_HTTPS_PORT}',
    ]);
    expect(nginxDirective('conf.d/rivulet.conf', 'return')).toContain(
      '301 https://$host:$rivulet_https_port$request_uri',
    );
    expect(nginxDirective('listen.conf', 'http2')).toEqual(['on']);
    expect(nginxDirective('hsts.conf', 'add_header')).toEqual([]);
  });
});

/**
 * What the nginx image's entrypoint makes of RIVULET_HTTPS_PORT: the mounted
 * entrypoint/17-rivulet-https-port.envsh sourced by a POSIX sh, then envsubst limited to the set
 * variables (the image's 20-envsubst-on-templates.sh), on the real template.
 */
describe('nginx/entrypoint/17-rivulet-https-port.envsh and templates/https-port.conf.template', () => {
  const ENVSH = path.join(REPO, 'nginx/entrypoint/17-rivulet-https-port.envsh');
  const TEMPLATE = path.join(REPO, 'nginx/templates/https-port.conf.template');
  const render = (value: string | undefined) =>
    run(
      'sh',
      [
        '-c',
        'set -e; . "$1"; envsubst "$(printf \'${%s} \' $(env | cut -d= -f1))" < "$2" | grep -v "^#"',
        'entrypoint',
        ENVSH,
        TEMPLATE,
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...(value === undefined ? {} : { RIVULET_HTTPS_PORT: value }),
        },
      },
    );

  it.each([
    ['8443', '8443'],
    ['127.0.0.1:18443', '18443'],
    ['[::1]:8443', '8443'],
    ['443', '443'],
  ])('RIVULET_HTTPS_PORT=%s redirects to port %s', async (value, port) => {
    const result = await render(value);
    expect([result.code, result.stderr]).toEqual([0, '']);
    // Only the port was filled in: nginx's own $rivulet_https_port stays a variable.
    expect(result.stdout.trim()).toBe(`set $rivulet_https_port ${port};`);
  });

  it.each([['https'], ['127.0.0.1:'], ['0'], ['70000'], ['8443/tcp']])(
    'refuses RIVULET_HTTPS_PORT=%s at start, naming the variable',
    async (value) => {
      const result = await render(value);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`RIVULET_HTTPS_PORT=${value}`);
      expect(result.stdout).toBe('');
    },
  );

  it('refuses to start without RIVULET_HTTPS_PORT (compose always sets it)', async () => {
    const result = await render(undefined);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('RIVULET_HTTPS_PORT is not set');
  });
});
