import { LogEvent } from '../src/event-log/event-log';
import { REDIS_KEY_PREFIX } from '../src/event-log/event-log.module';
import { LogSink, RedisStreamsEventLog } from '../src/event-log/redis-streams-event-log';
import { AppProcess, buildAppOnce } from './support/app-process';
import { RunningNginx, startNginx } from './support/nginx';
import { RedisServer } from './support/redis';
import { get, JsonResponse, postUntilAccepted } from './support/http';
import { ReceivedEvent, RecordingEventSource, StreamReader } from './support/sse-client';
import { Changes } from './support/wait';

/**
 * Failover on SIGTERM behind the real nginx: two app processes on one Redis, clients of every
 * replayable stream connected through nginx, events published steadily through nginx. One instance
 * is SIGTERMed: it reports not ready, ends its streams with a `retry:` hint and exits 0; its clients
 * reconnect through nginx to the other instance and resume with Last-Event-ID, losing nothing.
 */
const GRACE_MS = 2000;
const RETRY_MS = 100;
const quiet: LogSink = { log: () => undefined, warn: () => undefined, error: () => undefined };

interface StreamKind {
  name: string;
  /** Path and query (without the resume point). */
  path: string;
  /** Log topics the stream carries. */
  topics: string[];
  /** Named SSE events to record besides `message`. */
  types?: string[];
  /** Whether a received event is one of the log's events (not a control message). */
  isLogEvent(event: ReceivedEvent): boolean;
}

type Json = Record<string, unknown>;
const json = (event: ReceivedEvent) => (event.json ?? {}) as Json;

const KINDS: StreamKind[] = [
  {
    name: 'topics',
    path: '/api/events?topic=x',
    topics: ['x'],
    isLogEvent: (e) => json(e).topic === 'x',
  },
  {
    name: 'notifications',
    path: '/api/notifications/stream?userId=u1',
    topics: ['user:u1', 'broadcast'],
    types: ['notification'],
    isLogEvent: (e) => e.type === 'notification',
  },
  {
    name: 'chat',
    path: '/api/chat/room1',
    topics: ['chat:room1'],
    isLogEvent: (e) => json(e).type === 'message' && json(e).roomId === 'room1',
  },
  {
    name: 'ticker',
    path: '/events',
    topics: ['ticker'],
    isLogEvent: (e) => json(e).type === 'message' || json(e).type === 'catch_up_message',
  },
];

/** The log ids a client received, in arrival order (a log event's frame carries its id). */
const receivedIds = (client: RecordingEventSource, kind: StreamKind) =>
  client.events.filter((e) => kind.isLogEvent(e)).map((e) => e.lastEventId);

describe('failover on SIGTERM behind nginx', () => {
  let redis: RedisServer | undefined;
  let nginx: RunningNginx | undefined;
  const instances: AppProcess[] = [];
  const clients: Array<{ kind: StreamKind; client: RecordingEventSource }> = [];
  const raws: StreamReader[] = [];
  let checker: RedisStreamsEventLog | undefined;
  let entry: string;

  beforeAll(async () => {
    entry = await buildAppOnce();
    redis = await RedisServer.start();
  }, 120_000);

  afterAll(async () => {
    clients.splice(0).forEach(({ client }) => client.close());
    raws.splice(0).forEach((r) => r.close());
    await checker?.close();
    await nginx?.stop();
    await Promise.all(instances.splice(0).map((i) => i.stop('SIGKILL')));
    await redis?.dispose();
  });

  it('the SIGTERMed instance drains and exits 0; its clients resume on the other one with nothing lost', async () => {
    const env = {
      STORE: 'redis',
      REDIS_URL: redis!.url,
      STORE_RETENTION: '100000',
      MAX_CONNECTIONS_PER_IP: '100000',
      SSE_RETRY_MS: String(RETRY_MS),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      TICKER_INTERVAL_MS: '50',
    };
    for (let i = 0; i < 2; i++) instances.push(await AppProcess.create(entry, env));
    await Promise.all(instances.map((i) => i.start()));
    const [victim, survivor] = instances as [AppProcess, AppProcess];
    nginx = await startNginx({ upstreams: instances.map((i) => i.port) });
    const proxy = nginx.url;

    // Every client starts from one resume point, so each must end up with every event after it.
    const start = (await postUntilAccepted(`${proxy}/api/events/warmup`, { data: {} })).json as {
      id: string;
    };
    const from = start.id;
    const withResume = (path: string) =>
      `${proxy}${path}${path.includes('?') ? '&' : '?'}lastEventId=${from}`;

    // Two clients per stream, opened one after the other: least_conn sends the second of each pair
    // to the instance with fewer open streams, so every kind of stream has a client on each instance.
    for (const kind of KINDS) {
      for (let n = 0; n < 2; n++) {
        const client = new RecordingEventSource(withResume(kind.path), { types: kind.types });
        clients.push({ kind, client });
        await client.waitForOpen();
      }
    }
    // Two raw readers to see the exact last frame the draining instance sends through nginx.
    for (let n = 0; n < 2; n++) {
      const raw = new StreamReader(withResume('/api/events?topic=x'));
      raws.push(raw);
      await raw.waitFor((r) => r.frames().length > 0, 10_000, 'the opening frame');
    }

    // The publisher: every stream's topic in turn, through nginx, retried while a replica goes away.
    // (`ticker` is written by the instances' own leader-elected ticker, every TICKER_INTERVAL_MS.)
    const acked: Record<string, string[]> = { topics: [], notifications: [], chat: [], ticker: [] };
    let rounds = 0;
    const progress = new Changes();
    let publishing = true;
    const publishLoop = (async () => {
      for (let n = 0; publishing && n < 2000; n++) {
        const results = await Promise.all([
          postUntilAccepted(`${proxy}/api/events/x`, { data: { n } }),
          postUntilAccepted(`${proxy}/api/notifications`, {
            userId: 'u1',
            title: `n${n}`,
            body: 'failover',
          }),
          postUntilAccepted(`${proxy}/api/chat/room1/message`, { user: 'pub', text: `n${n}` }),
        ]);
        expect(results.map((r) => r.status)).toEqual([202, 202, 201]);
        ['topics', 'notifications', 'chat'].forEach((name, i) =>
          acked[name]!.push((results[i]!.json as { id: string }).id),
        );
        rounds++;
        progress.notify();
        await new Promise((resolve) => setTimeout(resolve, 10)); // a steady publishing rate
      }
    })();
    const moreRounds = (count: number) => {
      const target = rounds + count;
      return progress.until(() => rounds >= target, `${count} more publishing rounds`, {
        timeoutMs: 20_000,
      });
    };

    let exit: Awaited<ReturnType<AppProcess['stop']>>;
    let ready: JsonResponse | undefined;
    try {
      await moreRounds(10);
      const stopped = victim.stop('SIGTERM');
      // Readiness goes false while the instance drains (polled directly, as an orchestrator does).
      for (let attempt = 0; attempt < 500 && ready?.status !== 503; attempt++) {
        ready = await get(`${victim.url}/health/ready`);
      }
      exit = await stopped;
      await moreRounds(10);
    } finally {
      publishing = false;
      await publishLoop;
    }
    expect(ready?.status).toBe(503);
    expect(exit).toEqual({ code: 0, signal: null });
    expect((await get(`${survivor.url}/health/ready`)).status).toBe(200);

    // The raw readers: the one on the SIGTERMed instance got the retry hint as its last frame.
    const ended = raws.filter((r) => r.ended);
    expect(ended.length).toBeGreaterThanOrEqual(1);
    for (const raw of ended) {
      const last = /: shutdown\nretry: (\d+)\n\n$/.exec(raw.text);
      expect(last).not.toBeNull();
      expect(Number(last![1])).toBeGreaterThanOrEqual(RETRY_MS);
      expect(Number(last![1])).toBeLessThanOrEqual(2 * RETRY_MS);
    }

    // Nothing lost, nothing twice: each client has exactly the log's events after the resume point.
    checker = new RedisStreamsEventLog({
      url: redis!.url,
      retention: 100000,
      prefix: REDIS_KEY_PREFIX,
      logger: quiet,
    });
    // No stream request got the draining instance's 503: nginx tried the other instance instead.
    const refusedStreams = nginx
      .logs()
      .split('\n')
      .filter((line) => /"GET [^"]+" 503 /.test(line));
    expect(refusedStreams).toEqual([]);

    for (const kind of KINDS) {
      const logged = (await checker.readAfter(kind.topics, from)).events.map((e: LogEvent) => e.id);
      expect(acked[kind.name]!.every((id) => logged.includes(id))).toBe(true);
      // Published kinds got 20+ rounds; the ticker's count depends on time and leader handover.
      expect(logged.length).toBeGreaterThanOrEqual(kind.name === 'ticker' ? 1 : 20);
      const last = logged[logged.length - 1]!;
      const mine = clients.filter((c) => c.kind === kind).map((c) => c.client);
      await Promise.all(
        mine.map((client) =>
          client.waitFor(
            () => receivedIds(client, kind).includes(last),
            15_000,
            `${kind.name} event ${last}`,
          ),
        ),
      );
      for (const client of mine) {
        // The ticker goes on ticking: compare up to the snapshot's last event.
        const received = receivedIds(client, kind);
        expect(received.slice(0, received.indexOf(last) + 1)).toEqual(logged);
        expect(client.source.readyState).toBe(client.source.OPEN);
      }
      // One of the pair was on the SIGTERMed instance and reconnected (through nginx, to the other).
      expect(mine.some((client) => client.opens >= 2)).toBe(true);
    }
  }, 60_000);
});
