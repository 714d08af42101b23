// nginx in front of Rivulet for the typewriter scenario. Installed with apt-get only when it is
// missing and the harness runs as root; otherwise the scenario reports n/a with the reason.
//
// The config is a minimal SSE proxy generated into a temp dir (proxy_buffering off, HTTP/1.1
// upstream with keep-alive, Connection ""). This is the one place to switch to the repo's own
// nginx/ config once it lands: write the upstream it includes to point at `upstreamPort`.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, spawnPinned, stop, waitForPort } from './children.mjs';
import { CLIENT_CPU } from './contenders.mjs';

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

function config(dir, listenPort, upstreamPort) {
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream rivulet { server 127.0.0.1:${upstreamPort}; keepalive 8; }
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

/** Starts nginx (pinned with the load client, away from the server's core) proxying to Rivulet. */
export async function startNginx(bin, upstreamPort) {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-bench-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config(dir, port, upstreamPort));
  const child = spawnPinned(CLIENT_CPU, bin, ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf]);
  try {
    await waitForPort(child, port, 10_000);
  } catch (err) {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    stop: async () => {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
