import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Runs the real Debian nginx with the project's real nginx/ configuration, pointed at upstream
 * servers on loopback ports. Every file of nginx/ is copied unchanged into a temporary prefix; only
 * the per-environment includes are written for the test:
 *   upstream.conf            `server 127.0.0.1:<port> <the reference server line's parameters>;`
 *   listen.conf              `listen 127.0.0.1:<free port>[ ssl[ http2]];` (see `protocol`)
 *   redirect-listen.conf     `listen 127.0.0.1:<another free port>;` + the HTTPS port to redirect to
 *   certificate.conf         a self-signed certificate for 127.0.0.1 / localhost, made once per run
 *                            by scripts/tls-self-signed.mjs (the compose stack's one-shot)
 *   timeouts.conf            only when `readTimeout` is given
 *   conf.d/test-paths.conf   temp directories inside the prefix (the build defaults are system paths)
 * and the pid file is set with -g, the startup error log with -e, so nothing outside the prefix is
 * touched (nginx -t as root included).
 */

export const NGINX_CONFIG_DIR = path.resolve(__dirname, '../../nginx');

/**
 * How the main server block is reached:
 *   'http'   plain HTTP/1.1 (the server block's directives, without TLS: most proxy tests)
 *   'https'  TLS, HTTP/1.1 only (what a browser sees from an nginx without HTTP/2)
 *   'h2'     TLS with HTTP/2 offered by ALPN (and HTTP/1.1 for clients that do not ask for h2):
 *            the reference listen.conf, in the `listen ... ssl http2` form of Debian's nginx 1.22
 *            (the reference file's `http2 on;` needs nginx >= 1.25.1)
 */
export type NginxProtocol = 'http' | 'https' | 'h2';

export interface NginxOptions {
  /** Loopback ports of the app replicas (the upstream group). */
  upstreams: number[];
  /** 'http' unless given. */
  protocol?: NginxProtocol;
  /** The certificate and key files to serve (default: one made for the test run, testCertificate()). */
  certificate?: { certFile: string; keyFile: string };
  /** Replaces hsts.conf (off in the reference) with these directives. */
  hsts?: string;
  /** Replaces timeouts.conf with `proxy_read_timeout <value>;`, e.g. '1s'. */
  readTimeout?: string;
  /**
   * Edits conf.d/rivulet.conf before start. For negative controls only (the real config with a
   * directive changed); it must change the text, or the start fails, so a control never runs unedited.
   */
  editServerConf?: (conf: string) => string;
}

export interface RunningNginx {
  port: number;
  /** http://127.0.0.1:<port>, or https:// for the TLS protocols. */
  url: string;
  /** The plain-HTTP server that redirects to `url` (redirect-listen.conf). */
  redirectPort: number;
  /** The self-signed certificate the server presents (PEM), to trust it in a client. */
  certificate: string;
  /** What nginx wrote to stdout (access log) and stderr (error log) so far. */
  logs(): string;
  /** Fast shutdown (SIGTERM), waits for the master to exit, removes the prefix. */
  stop(): Promise<void>;
}

const SETUP_HINT =
  'Run `bash scripts/ensure-system-deps.sh` (as root on Debian it installs nginx, redis-server, ' +
  'chromium and docker-compose; elsewhere it names what to install).';

/** The nginx binary, or an error that says how to install it. Never a silent skip. */
export function nginxBinary(): string {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'nginx');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`nginx is not installed (looked in PATH and /usr/sbin). ${SETUP_HINT}`);
}

/** `nginx -t` on the real configuration pointed at the given upstreams. */
export async function testNginxConfig(
  options: NginxOptions,
): Promise<{ ok: boolean; output: string }> {
  const prefix = preparePrefix(options, await freePort(), await freePort());
  try {
    const nginx = spawnNginx(prefix, ['-t']);
    const code = await nginx.exited;
    return { ok: code === 0, output: nginx.logs() };
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

/** Starts nginx on a free loopback port; resolves once it accepts connections. */
export async function startNginx(options: NginxOptions): Promise<RunningNginx> {
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freePort(), await freePort());
    } catch (error) {
      // The free port can be taken between our probe and nginx's bind(); try another one.
      const portTaken = error instanceof Error && error.message.includes('Address already in use');
      if (!portTaken || attempt === attempts) throw error;
    }
  }
}

async function startOnce(
  options: NginxOptions,
  port: number,
  redirectPort: number,
): Promise<RunningNginx> {
  const prefix = preparePrefix(options, port, redirectPort);
  const nginx = spawnNginx(prefix, ['-g', `daemon off; pid ${prefix}/nginx.pid;`]);
  let running = true;
  void nginx.exited.then(() => (running = false));
  let finalLogs: string | undefined;
  const logs = () => finalLogs ?? nginx.logs();
  const stop = async () => {
    await stopChild(nginx.child, nginx.exited);
    finalLogs = nginx.logs();
    rmSync(prefix, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      nginx.child.once('error', reject); // e.g. the binary cannot be executed
      void nginx.exited.then(() =>
        reject(new Error(`nginx exited before accepting connections:\n${logs()}`)),
      );
      waitUntilAccepting(port, 10_000, () => running).then(resolve, reject);
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const scheme = (options.protocol ?? 'http') === 'http' ? 'http' : 'https';
  const certificate = readFileSync((options.certificate ?? testCertificate()).certFile, 'utf8');
  return { port, url: `${scheme}://127.0.0.1:${port}`, redirectPort, certificate, logs, stop };
}

/**
 * Runs the nginx binary on a prepared prefix. Its stdout (the access log: /dev/stdout in
 * nginx.conf) and stderr (the error log) go to one file in the prefix: nginx cannot open
 * /dev/stdout when that is the socket which Node's 'pipe' stdio would give it.
 */
function spawnNginx(prefix: string, args: string[]) {
  const binary = nginxBinary();
  const logFile = path.join(prefix, 'nginx.log');
  const logFd = openSync(logFile, 'a');
  // detached: nginx gets a process group of its own (master + workers), so stopping can make sure
  // no worker outlives the test, even if the master had to be killed.
  const child = spawn(binary, [...baseArgs(prefix), ...args], {
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  return { child, exited, logs: () => readFileSync(logFile, 'utf8') };
}

function baseArgs(prefix: string): string[] {
  // -e: startup error log before the config is read (the build default may be /var/log/nginx).
  return ['-e', 'stderr', '-p', `${prefix}/`, '-c', 'nginx.conf'];
}

function preparePrefix(options: NginxOptions, port: number, redirectPort: number): string {
  if (options.upstreams.length === 0) throw new Error('nginx needs at least one upstream port');
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'rivulet-nginx-'));
  // Workers drop to an unprivileged user when the master runs as root; they must reach the temp
  // directories inside the prefix.
  chmodSync(prefix, 0o755);
  cpSync(NGINX_CONFIG_DIR, prefix, { recursive: true });

  const write = (file: string, text: string) => writeFileSync(path.join(prefix, file), text);
  const parameters = upstreamServerParameters();
  write(
    'upstream.conf',
    options.upstreams.map((p) => `server 127.0.0.1:${p}${parameters};\n`).join(''),
  );
  const protocol = options.protocol ?? 'http';
  const flags = { http: '', https: ' ssl', h2: ' ssl http2' }[protocol];
  write('listen.conf', `listen 127.0.0.1:${port}${flags};\n`);
  write(
    'redirect-listen.conf',
    `listen 127.0.0.1:${redirectPort};\nset $rivulet_https_port ${port};\n`,
  );
  const { certFile, keyFile } = options.certificate ?? testCertificate();
  write('certificate.conf', `ssl_certificate ${certFile};\nssl_certificate_key ${keyFile};\n`);
  if (options.readTimeout !== undefined) {
    write('timeouts.conf', `proxy_read_timeout ${options.readTimeout};\n`);
  }
  mkdirSync(path.join(prefix, 'temp'));
  write(
    'conf.d/test-paths.conf',
    ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((kind) => `${kind}_temp_path ${prefix}/temp/${kind};\n`)
      .join(''),
  );

  if (options.hsts !== undefined) write('hsts.conf', `${options.hsts}\n`);
  if (options.editServerConf) {
    const file = path.join(prefix, 'conf.d/rivulet.conf');
    const before = readFileSync(file, 'utf8');
    const after = options.editServerConf(before);
    if (after === before) throw new Error('editServerConf did not change conf.d/rivulet.conf');
    writeFileSync(file, after);
  }
  return prefix;
}

/**
 * The failure parameters of the reference upstream.conf's `server` line (max_fails, fail_timeout,
 * ...), so the loopback replicas are failed over exactly as the deployed ones. `resolve` is left
 * out: the test upstreams are IP addresses, and Debian's nginx predates it.
 */
function upstreamServerParameters(): string {
  const conf = readFileSync(path.join(NGINX_CONFIG_DIR, 'upstream.conf'), 'utf8');
  const server = /^\s*server\s+\S+([^;]*);/m.exec(conf);
  if (!server) throw new Error('nginx/upstream.conf has no `server` line');
  const kept = server[1]!.split(/\s+/).filter((p) => p !== '' && p !== 'resolve');
  return kept.map((p) => ` ${p}`).join('');
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  const group = child.pid;
  if (group === undefined) return; // never started
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM'); // nginx: fast shutdown; the master stops its workers, open streams close
    const killTimer = setTimeout(() => killGroup(group), 5_000);
    await exited;
    clearTimeout(killTimer);
  }
  killGroup(group); // workers left behind by a master that died or was killed
}

function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // ESRCH: the whole group is gone already
  }
}

/** A port that was free a moment ago (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once a TCP connection to the port succeeds; retries refused connections every 20 ms
 * while `keepTrying()` holds, until the deadline.
 */
export function waitUntilAccepting(
  port: number,
  timeoutMs: number,
  keepTrying: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', (error) => {
        socket.destroy();
        if (!keepTrying()) reject(new Error(`the process for port ${port} is not running`));
        else if (Date.now() > deadline)
          reject(new Error(`nothing accepted connections on ${port}: ${error.message}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
}

let certificate: TestCertificate | undefined;

/**
 * A self-signed certificate for localhost and 127.0.0.1, made once per test process by the same
 * script as the compose stack's tls-cert one-shot (scripts/tls-self-signed.mjs), in a directory of
 * its own that is removed when the process exits. nginx's master reads it before workers start.
 */
export function testCertificate(): TestCertificate {
  if (certificate) return certificate;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-tls-'));
  const script = path.resolve(__dirname, '../../scripts/tls-self-signed.mjs');
  execFileSync(process.execPath, [script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const certFile = path.join(dir, 'fullchain.pem');
  const keyFile = path.join(dir, 'privkey.pem');
  certificate = { certFile, keyFile, cert: readFileSync(certFile, 'utf8') };
  return certificate;
}
