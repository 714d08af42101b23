// nginx in front of Rivulet for the typewriter scenario. Installed with apt-get only when it is
// missing and the harness runs as root; otherwise the scenario reports n/a with the reason.
//
// The config is the checkout's own nginx/ folder when it exists (the deploy convention: copy it
// whole, write its per-environment files: upstream.conf, listen.conf, certificate.conf,
// redirect-listen.conf), else a minimal SSE proxy generated here
// (proxy_buffering off, HTTP/1.1 upstream with keep-alive, Connection "").

import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, spawnPinned, stop, waitForPort } from './children.mjs';
import { CLIENT_CPU, rivuletDir } from './contenders.mjs';

function findNginx() {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => join(d, 'nginx')).find((p) => existsSync(p));
}

function run(cmd, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      {
        timeout: timeoutMs,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        maxBuffer: 32 << 20,
      },
      (err, _stdout, stderr) => {
        if (err)
          reject(
            new Error(
              `${cmd} ${args.join(' ')}: ${String(stderr).trim().split('\n').pop() || err.message}`,
            ),
          );
        else resolve();
      },
    );
  });
}

let ensured;

/** Returns the nginx binary, installing it when missing and root; throws with the reason. */
export function ensureNginx() {
  ensured ??= findOrInstall();
  return ensured;
}

async function findOrInstall() {
  let bin = findNginx();
  if (bin) return bin;
  if (process.getuid?.() !== 0)
    throw new Error('nginx is not installed and the harness is not root');
  if (process.env.BENCH_NO_INSTALL === '1')
    throw new Error('nginx is not installed (BENCH_NO_INSTALL=1)');
  console.error('bench: nginx missing, running apt-get update && apt-get install -y nginx');
  await run('apt-get', ['update'], 180_000);
  await run('apt-get', ['install', '-y', 'nginx'], 300_000);
  bin = findNginx();
  if (!bin) throw new Error('apt-get install nginx finished but no nginx binary was found');
  return bin;
}

/** The minimal SSE proxy used while the checkout has no nginx/ folder of its own. */
function minimalConfig(dir, listenPort, upstreamPorts) {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
master_process off;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  upstream rivulet { ${upstreamLines(upstreamPorts)} keepalive 8; }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://rivulet;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
    }
  }
}
`;
}

/**
 * Fills a temp prefix with the nginx config: the checkout's own nginx/ folder when it has one
 * (copied unchanged; only its per-environment includes upstream.conf and listen.conf, plus temp
 * paths, are written here), else the minimal config above.
 */
function upstreamLines(ports) {
  return ports.map((port) => `server 127.0.0.1:${port};`).join(' ');
}

function preparePrefix(listenPort, upstreamPorts) {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-bench-nginx-'));
  chmodSync(dir, 0o755); // workers may run as an unprivileged user
  mkdirSync(join(dir, 'temp'));
  const repoConfig = join(rivuletDir(), 'nginx');
  const write = (file, text) => writeFileSync(join(dir, file), text);
  if (
    ['nginx.conf', 'upstream.conf', 'listen.conf'].every((f) => existsSync(join(repoConfig, f)))
  ) {
    cpSync(repoConfig, dir, { recursive: true });
    write('upstream.conf', `${upstreamLines(upstreamPorts)}\n`);
    write('listen.conf', `listen 127.0.0.1:${listenPort};\n`);
    if (existsSync(join(repoConfig, 'certificate.conf'))) {
      // The HTTPS server block is measured over plain HTTP/1.1 (listen.conf above, no ssl), but
      // nginx loads its certificate anyway: one made by the stack's own one-shot script. The
      // plain-HTTP redirect server listens on a socket file nobody uses.
      const tls = join(dir, 'tls');
      execFileSync(process.execPath, [join(rivuletDir(), 'scripts/tls-self-signed.mjs'), tls], {
        stdio: 'ignore',
      });
      write(
        'certificate.conf',
        `ssl_certificate ${tls}/fullchain.pem;\nssl_certificate_key ${tls}/privkey.pem;\n`,
      );
      write(
        'redirect-listen.conf',
        `listen unix:${dir}/redirect.sock;\nset $rivulet_https_port ${listenPort};\n`,
      );
    }
    mkdirSync(join(dir, 'conf.d'), { recursive: true });
    write(
      'conf.d/bench-paths.conf',
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((kind) => `${kind}_temp_path ${dir}/temp/${kind};\n`)
        .join(''),
    );
    return { dir, config: `the checkout's nginx/ (${repoConfig})` };
  }
  write('nginx.conf', minimalConfig(dir, listenPort, upstreamPorts));
  return { dir, config: 'generated minimal proxy config (no nginx/ folder in the checkout)' };
}

/**
 * Starts nginx (pinned with the load client, away from the server's core) proxying to Rivulet:
 * one upstream port, or several (replicas).
 */
export async function startNginx(bin, upstreamPort) {
  const port = await freePort();
  const upstreamPorts = Array.isArray(upstreamPort) ? upstreamPort : [upstreamPort];
  const { dir, config } = preparePrefix(port, upstreamPorts);
  // nginx cannot open /dev/stdout when it is a socket, as Node's pipes are: logs go to a file.
  const logFd = openSync(join(dir, 'nginx.log'), 'a');
  const child = spawnPinned(
    CLIENT_CPU,
    bin,
    [
      '-e',
      'stderr',
      '-p',
      `${dir}/`,
      '-c',
      'nginx.conf',
      '-g',
      `daemon off; pid ${dir}/nginx.pid;`,
    ],
    { stdio: ['ignore', logFd, logFd], group: true },
  );
  closeSync(logFd);
  const cleanup = async () => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(child, port, 10_000);
  } catch (err) {
    const log = readFileSync(join(dir, 'nginx.log'), 'utf8')
      .trim()
      .split('\n')
      .slice(-3)
      .join(' | ');
    await cleanup();
    throw new Error(`${err.message.split(':')[0]}: ${log}`);
  }
  return { port, config, pid: child.pid, stop: cleanup };
}
