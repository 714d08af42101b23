import { X509Certificate } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './support/deploy-files';
import { H2Stream } from './support/h2-stream';
import { post as postTo, type JsonResponse } from './support/http';
import { startStack, type ContainerDeath, type Stack } from './support/stack';
import { get as getFrom, RecordingEventSource, type ReceivedEvent } from './support/sse-client';

/**
 * The deployment as users deploy it: the real Dockerfile built and the real docker-compose.yml run
 * with `docker compose up --build --scale app=3`, no variable set and no file created (a fresh
 * clone), on Docker when an engine answers, else on podman (scripts/podman-setup.sh). Everything is
 * checked through the stack's published nginx ports, as a browser or client would reach them: HTTPS
 * (HTTP/1.1 and HTTP/2) with the certificate the stack made for itself, and the plain-HTTP port
 * that redirects there.
 * Run by `npm run test:stack` (a step of .ci/run); docs/deploy.md ("The stack test") explains it.
 */

const REPLICAS = 3;
// From nothing (no base image, no build cache) to a running stack: minutes on a loaded machine.
const UP_TIMEOUT_MS = 40 * 60_000;
jest.setTimeout(5 * 60_000);

let stack: Stack;
const clients: RecordingEventSource[] = [];

/** GET and POST over HTTPS, trusting the stack's own certificate only. */
const get = (url: string, headers: Record<string, string> = {}) =>
  getFrom(url, headers, { ca: stack.ca });
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  postTo(url, body, headers, { ca: stack.ca });

beforeAll(async () => {
  stack = await startStack({ replicas: REPLICAS });
  // nginx starts once every replica is healthy; its port accepts a moment later.
  await until(
    async () => (await get(`${stack.url}/health/ready`).catch(() => undefined))?.status === 200,
    'nginx to answer /health/ready with 200',
    120_000,
  );
}, UP_TIMEOUT_MS);

afterAll(async () => {
  clients.splice(0).forEach((c) => c.close());
  await stack?.dispose();
}, 5 * 60_000);

/** Polls an asynchronous condition (a command's state, a port) with a pause between tries. */
async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function open(url: string, types: string[] = []): RecordingEventSource {
  const client = new RecordingEventSource(url, { types, fetch: stack.fetch });
  clients.push(client);
  return client;
}

async function composeOk(args: string[]): Promise<string> {
  const result = await stack.compose(args);
  if (result.code !== 0)
    throw new Error(`compose ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result.stdout;
}

/** A token minted inside the stack, with the installation's own secret (docs/deploy.md's command). */
async function mintInStack(scopes: string): Promise<string> {
  const out = await composeOk([
    'exec',
    '-T',
    'app',
    'node',
    'dist/scripts/mint-token.js',
    '--sub',
    'stack-test',
    ...scopes.split(' '),
  ]);
  return out.trim();
}

/** Publishes through nginx, retrying while nginx finds no live replica (502/503/504). */
async function publish(topic: string, data: unknown, token: string): Promise<JsonResponse> {
  let last: JsonResponse | Error | undefined;
  for (let attempt = 0; attempt < 400; attempt++) {
    try {
      last = await post(
        `${stack.url}/api/events/${topic}`,
        { data },
        { Authorization: `Bearer ${token}` },
      );
      if (![502, 503, 504].includes(last.status)) return last;
    } catch (error) {
      last = error as Error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`publish to ${topic} not accepted: ${JSON.stringify(last)}`);
}

/** Open event streams of one replica, read from its own /metrics inside its container. */
async function openStreams(container: string): Promise<number> {
  const script =
    "fetch('http://127.0.0.1:3000/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))";
  const result = await stack.cli(['exec', container, 'node', '-e', script]);
  if (result.code !== 0) throw new Error(`metrics of ${container}: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('rivulet_sse_open_streams'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe(`docker compose up --build --scale app=${REPLICAS} (fresh clone, no variables)`, () => {
  it('runs every replica on the image’s Node 24 with production dependencies only', async () => {
    const apps = await stack.containers('app');
    expect(apps).toHaveLength(REPLICAS);
    for (const id of apps) {
      const version = await stack.cli(['exec', id, 'node', '-p', 'process.versions.node']);
      expect(version.stdout.trim()).toMatch(/^24\./);
    }
    const resolve = (name: string) =>
      stack.cli(['exec', apps[0]!, 'node', '-e', `require.resolve(${JSON.stringify(name)})`]);
    // What dist/ imports resolves (express included), a devDependency does not: `npm ci --omit=dev`.
    expect((await resolve('express')).code).toBe(0);
    const dev = await resolve('@nestjs/testing');
    expect(dev.code).not.toBe(0);
    expect(dev.stderr).toContain('Cannot find module');
  });

  it('wrote the installation’s secret once (one-shot exited 0) and runs the replicas in token mode', async () => {
    const secret = JSON.parse(
      (await composeOk(['ps', '--all', '--format', 'json', 'secret'])).split('\n')[0]!,
    ) as { State: string; ExitCode: number };
    expect(secret).toMatchObject({ State: 'exited', ExitCode: 0 });
    const token = await mintInStack('--publish stack-check');
    // Every replica takes the minted token: least_conn spreads these short requests over all.
    for (let i = 0; i < 2 * REPLICAS; i++) {
      expect((await publish('stack-check', { i }, token)).status).toBe(202);
    }
    // Control: production refuses anonymous publishing, so the tokens above were really checked.
    const anonymous = await post(`${stack.url}/api/events/stack-check`, { data: {} });
    expect(anonymous.status).toBe(401);
    const forged = await post(
      `${stack.url}/api/events/stack-check`,
      { data: {} },
      { Authorization: `Bearer ${token.slice(0, -4)}AAAA` },
    );
    expect(forged.status).toBe(401);
  });

  it('serves HTTPS with the certificate its tls-cert one-shot made, for localhost', async () => {
    const oneShot = JSON.parse(
      (await composeOk(['ps', '--all', '--format', 'json', 'tls-cert'])).split('\n')[0]!,
    ) as { State: string; ExitCode: number };
    expect(oneShot).toMatchObject({ State: 'exited', ExitCode: 0 });
    const cert = new X509Certificate(stack.ca);
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.subjectAltName).toBe(
      'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    // Verified: the stack's certificate is the only authority this client trusts, and the name
    // checked is the URL's (127.0.0.1, in the certificate's names).
    const ready = await get(`${stack.url}/health/ready`);
    expect(ready.status).toBe(200);
    // HSTS is off by default (nginx/hsts.conf).
    expect(ready.headers['strict-transport-security']).toBeUndefined();
    // Control: without that certificate, the same request is refused as self-signed.
    await expect(getFrom(`${stack.url}/health/ready`)).rejects.toMatchObject({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
  });

  it('redirects plain HTTP to the published HTTPS port (RIVULET_HTTPS_PORT), path and query kept', async () => {
    const httpsPort = new URL(stack.url).port;
    const httpPort = new URL(stack.httpUrl).port;
    expect(httpsPort).not.toBe(httpPort);
    const moved = await getFrom(`${stack.httpUrl}/api/stream?text=Hi%20there`);
    expect(moved.status).toBe(301);
    // The browser keeps the host it asked for and moves to the port HTTPS is published on (not
    // 443 inside the container, not the plain port).
    expect(moved.headers.location).toBe(
      `https://127.0.0.1:${httpsPort}/api/stream?text=Hi%20there`,
    );
    const followed = await get(moved.headers.location!);
    expect([followed.status, followed.headers['content-type']]).toEqual([
      200,
      expect.stringMatching(/^text\/event-stream/),
    ]);
    // nginx's own liveness stays on plain HTTP (the container healthcheck uses it).
    expect((await getFrom(`${stack.httpUrl}/nginx-health`)).status).toBe(200);
  });

  it('streams over HTTP/2 (node:http2): ALPN h2, events live and in order, no gzip', async () => {
    const stream = new H2Stream(stack.url, stack.ca, {
      path: '/events',
      headers: { 'accept-encoding': 'gzip' },
    });
    try {
      await stream.waitFor(
        (s) => s.frames.filter((f) => /^id: ?\d+$/m.test(f.text)).length >= 3,
        'three ticker events over h2',
        30_000,
      );
      expect(stream.alpnProtocol).toBe('h2');
      expect(stream.status).toBe(200);
      expect(stream.header('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.header('content-encoding')).toBeUndefined();
      // Delivered live, while the stream stays open (a buffering proxy would hold them back), in
      // order. (One DATA frame per event is proven against a paced stand-in in nginx-h2.e2e-spec.)
      expect(stream.complete).toBe(false);
      // (The ticker's `connected` greeting carries no id; its messages do.)
      const ids = stream.frames
        .map((f) => /^id: ?(\d+)$/m.exec(f.text)?.[1])
        .filter((id): id is string => id !== undefined)
        .map((id) => BigInt(id));
      expect(ids.length).toBeGreaterThanOrEqual(3);
      expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await stream.close();
    }
  });

  it('streams the ticker through nginx', async () => {
    const ticker = open(`${stack.url}/events`);
    await ticker.waitFor(
      (events) => events.filter((e) => e.json?.type === 'message').length >= 2,
      30_000,
      'two ticker messages',
    );
    const ids = ticker.events
      .filter((e) => e.json?.type === 'message')
      .map((e) => BigInt(e.lastEventId));
    expect(ids[1]! > ids[0]!).toBe(true);
    ticker.close();
  });

  it('serves every demo page and the browser client through nginx', async () => {
    const pages = readdirSync(path.join(REPO, 'public')).filter((f) => f.endsWith('.html'));
    expect(pages.length).toBeGreaterThan(3);
    const checked = new Set<string>();
    for (const page of ['', ...pages]) {
      const response = await get(`${stack.url}/${page}`);
      expect([page, response.status, response.headers['content-type']]).toEqual([
        page,
        200,
        expect.stringMatching(/^text\/html/),
      ]);
      expect(response.body).toMatch(/<html/i);
      // And what the page loads from the same origin: scripts (public/build/ bundles included,
      // which the image builds itself), styles, icons.
      for (const [, asset = ''] of response.body.matchAll(/(?:src|href)="(\/[^"]*)"/g)) {
        if (checked.has(asset)) continue;
        checked.add(asset);
        const loaded = await get(`${stack.url}${asset}`);
        expect([page, asset, loaded.status]).toEqual([page, asset, 200]);
      }
    }
    const client = await get(`${stack.url}/rivulet-client.js`);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/javascript/);
    expect((await get(`${stack.url}/no-such-page.html`)).status).toBe(404);
  });

  it('a client resumes with Last-Event-ID after its replica is killed (SIGKILL)', async () => {
    const topic = 'stack-resume';
    const token = await mintInStack(`--publish ${topic} --subscribe ${topic}`);
    const client = open(`${stack.url}/api/events?topic=${topic}&access_token=${token}`);
    await client.waitForOpen();
    const isLogEvent = (e: ReceivedEvent) => e.json?.topic === topic;
    const received = () => client.events.filter(isLogEvent).map((e) => e.lastEventId);

    const published: string[] = [];
    for (let i = 0; i < 3; i++)
      published.push((await publish(topic, { i }, token)).json.id as string);
    await client.waitFor(() => received().length === 3, 20_000, 'the first three events');

    // The replica holding the stream, found from each replica's own metrics.
    const apps = await stack.containers('app');
    const holding: string[] = [];
    for (const id of apps) if ((await openStreams(id)) > 0) holding.push(id);
    expect(holding).toHaveLength(1);
    const victim = holding[0]!;
    const watch = stack.watchDeaths();
    try {
      expect((await stack.cli(['kill', '--signal', 'KILL', victim])).code).toBe(0);
      await watch.waitFor([victim], 60_000);
      // Control for the shutdown test below: a SIGKILLed container is reported as 137.
      expect(
        watch.deaths.find((d) => victim.startsWith(d.id) || d.id.startsWith(victim))?.exitCode,
      ).toBe(137);
    } finally {
      await watch.stop();
    }

    for (let i = 3; i < 6; i++)
      published.push((await publish(topic, { i }, token)).json.id as string);
    await client.waitFor(() => received().length >= 6, 180_000, 'all six events after the resume');
    expect(client.opens).toBeGreaterThanOrEqual(2);
    // Every event exactly once, in order: the resume asked for what came after the last one seen.
    expect(received()).toEqual(published);
    client.close();
  });

  it('`docker compose down` ends every container within its grace period (no SIGKILL)', async () => {
    // An open stream, so the app and nginx have something to drain.
    const ticker = open(`${stack.url}/events`);
    await ticker.waitForOpen();
    const running = (await composeOk(['ps', '--quiet'])).split('\n').filter(Boolean);
    expect(running.length).toBeGreaterThanOrEqual(REPLICAS + 1);
    const watch = stack.watchDeaths();
    let deaths: ContainerDeath[];
    try {
      const down = await stack.compose(['down', '--volumes', '--remove-orphans']);
      expect([down.code, down.stderr]).toEqual([0, expect.any(String)]);
      await watch.waitFor(running, 60_000);
      deaths = watch.deaths.filter((d) =>
        running.some((id) => id.startsWith(d.id) || d.id.startsWith(id)),
      );
    } finally {
      await watch.stop();
    }
    // 0: each process stopped on its signal (app: SIGTERM drain; nginx: SIGQUIT; redis: SIGTERM).
    // 137 would be the engine's SIGKILL at the end of stop_grace_period.
    expect(deaths.map((d) => [d.name, d.exitCode]).sort()).toEqual(
      deaths.map((d) => [d.name, 0]).sort(),
    );
    ticker.close();

    const label = `label=com.docker.compose.project=${stack.project}`;
    const left = async (kind: string[]) =>
      (await stack.cli([...kind, '--quiet', '--filter', label])).stdout.trim();
    expect(await left(['ps', '--all'])).toBe('');
    expect(await left(['volume', 'ls'])).toBe('');
    expect(await left(['network', 'ls'])).toBe('');
  });
});
