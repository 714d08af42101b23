import { compareIds } from '../src/event-log/event-log';
import { REDIS_KEY_PREFIX } from '../src/event-log/event-log.module';
import { LogSink, RedisStreamsEventLog } from '../src/event-log/redis-streams-event-log';
import { AppProcess, buildAppOnce } from './support/app-process';
import { RunningNginx, startNginx } from './support/nginx';
import { RedisServer } from './support/redis';
import { postUntilAccepted } from './support/http';
import { ReceivedEvent, RecordingEventSource } from './support/sse-client';
import { Changes, until } from './support/wait';

/**
 * Chaos through the real nginx, bounded in time: 3 app processes on one persistent Redis behind the
 * reference nginx config; 120 EventSource clients connect to nginx only, on several topics of
 * GET /api/events (some multiplexing two) and on /events (the ticker). A publisher posts steadily
 * through nginx, retrying a 502/503 while a replica or Redis is away. Replicas are killed with
 * SIGKILL and restarted on their port, Redis is killed and restarted; afterwards every client has
 * every event of its topics exactly once, in order, and every acknowledged publish is among them.
 */
const INSTANCES = 3;
const quiet: LogSink = { log: () => undefined, warn: () => undefined, error: () => undefined };

type Json = Record<string, unknown>;
const json = (event: ReceivedEvent) => (event.json ?? {}) as Json;

interface Subscription {
  /** Path and query, without the resume point. */
  path: string;
  topics: string[];
  isLogEvent(event: ReceivedEvent): boolean;
}
const onTopics = (...topics: string[]): Subscription => ({
  path: `/api/events?${topics.map((t) => `topic=${t}`).join('&')}`,
  topics,
  isLogEvent: (e) => topics.includes(String(json(e).topic)),
});
const ticker: Subscription = {
  path: '/events',
  topics: ['ticker'],
  isLogEvent: (e) => json(e).type === 'message' || json(e).type === 'catch_up_message',
};
/** 120 clients: three single topics, one pair multiplexed on one connection, and the ticker. */
const PLAN: Array<[Subscription, number]> = [
  [onTopics('t1'), 30],
  [onTopics('t2'), 25],
  [onTopics('t3'), 25],
  [onTopics('t1', 't2'), 20],
  [ticker, 20],
];
const PUBLISHED_TOPICS = ['t1', 't2', 't3'];

/** The log ids a client received, in arrival order (a log event's frame carries its id). */
const receivedIds = (client: RecordingEventSource, subscription: Subscription) =>
  client.events.filter((e) => subscription.isLogEvent(e)).map((e) => e.lastEventId);

describe('chaos behind nginx: replicas killed and restarted, Redis restarted, nothing lost', () => {
  let redis: RedisServer | undefined;
  let nginx: RunningNginx | undefined;
  const instances: AppProcess[] = [];
  const clients: Array<{ subscription: Subscription; client: RecordingEventSource }> = [];
  let checker: RedisStreamsEventLog | undefined;
  let entry: string;

  beforeAll(async () => {
    entry = await buildAppOnce();
    redis = await RedisServer.start({ persistent: true });
  }, 120_000);

  afterAll(async () => {
    clients.splice(0).forEach(({ client }) => client.close());
    await checker?.close();
    await nginx?.stop();
    await Promise.all(instances.splice(0).map((i) => i.stop('SIGKILL')));
    await redis?.dispose();
  });

  it('every client receives every event of its topics exactly once, in order', async () => {
    const env = {
      STORE: 'redis',
      REDIS_URL: redis!.url,
      STORE_RETENTION: '100000',
      MAX_CONNECTIONS_PER_IP: '100000',
      SSE_RETRY_MS: '50',
      TICKER_INTERVAL_MS: '100',
    };
    for (let i = 0; i < INSTANCES; i++) instances.push(await AppProcess.create(entry, env));
    await Promise.all(instances.map((i) => i.start()));
    nginx = await startNginx({ upstreams: instances.map((i) => i.port) });
    const proxy = nginx.url;

    // Every client starts from one resume point, so each must end up with every event after it.
    const from = (
      (await postUntilAccepted(`${proxy}/api/events/warmup`, { data: {} })).json as {
        id: string;
      }
    ).id;
    for (const [subscription, count] of PLAN) {
      for (let n = 0; n < count; n++) {
        const client = new RecordingEventSource(
          `${proxy}${subscription.path}${
            subscription.path.includes('?') ? '&' : '?'
          }lastEventId=${from}`,
        );
        clients.push({ subscription, client });
      }
    }
    await Promise.all(clients.map(({ client }) => client.waitForOpen(1, 20_000)));

    // The publisher: one topic after the other through nginx; a publish refused while a replica
    // or Redis is away is retried until it is acknowledged, and its id recorded.
    const acked: Record<string, string[]> = { t1: [], t2: [], t3: [] };
    let published = 0;
    const progress = new Changes();
    let publishing = true;
    const publishLoop = (async () => {
      for (let n = 0; publishing && n < 5000; n++) {
        const topic = PUBLISHED_TOPICS[n % PUBLISHED_TOPICS.length]!;
        const answer = await postUntilAccepted(`${proxy}/api/events/${topic}`, { data: { n } });
        expect(answer.status).toBe(202);
        acked[topic]!.push((answer.json as { id: string }).id);
        published++;
        progress.notify();
        await new Promise((resolve) => setTimeout(resolve, 5)); // a steady publishing rate
      }
    })();
    const publishedMore = (count: number) => {
      const target = published + count;
      return progress.until(() => published >= target, `${count} more acknowledged publishes`, {
        timeoutMs: 20_000,
      });
    };

    // A replica restarted on its port is back in nginx's rotation once nginx sends it requests
    // again (after fail_timeout): its access log shows a publish answered by that port.
    const backInRotation = (victim: AppProcess, logMark: number) =>
      until(
        () =>
          nginx!
            .logs()
            .slice(logMark)
            .split('\n')
            .some(
              (line) =>
                / 202 .*upstream=(?:\S+, )*(\S+) ut=/.exec(line)?.[1] ===
                `127.0.0.1:${victim.port}`,
            ),
        `nginx to send requests to the restarted replica on port ${victim.port}`,
        { timeoutMs: 20_000 },
      );
    const killAndRestart = async (victim: AppProcess) => {
      await victim.stop('SIGKILL');
      await publishedMore(30);
      const logMark = nginx!.logs().length;
      await victim.start(); // on the same port: nginx's upstream comes back
      await backInRotation(victim, logMark);
      await publishedMore(30);
    };

    try {
      await publishedMore(30);
      for (const victim of instances) await killAndRestart(victim);
      await redis!.restart('SIGKILL');
      await publishedMore(60);
      await killAndRestart(instances[1]!);
    } finally {
      publishing = false;
      await publishLoop;
    }

    checker = new RedisStreamsEventLog({
      url: redis!.url,
      retention: 100000,
      prefix: REDIS_KEY_PREFIX,
      logger: quiet,
    });
    // Every acknowledged publish is in the log (persistent Redis survived its SIGKILL).
    for (const topic of PUBLISHED_TOPICS) {
      const logged = (await checker.readAfter([topic], from)).events.map((e) => e.id);
      expect(acked[topic]!.every((id) => logged.includes(id))).toBe(true);
      expect(logged.length).toBeGreaterThanOrEqual(acked[topic]!.length);
    }
    expect(published).toBeGreaterThanOrEqual(300);

    // nginx never answered a stream request with anything but 200: no client was turned away.
    const failedStreams = nginx
      .logs()
      .split('\n')
      .filter((line) => /"GET [^"]+" (?!200 )\d{3} /.test(line));
    expect(failedStreams).toEqual([]);

    for (const [subscription] of PLAN) {
      const expected = (await checker.readAfter(subscription.topics, from)).events.map((e) => e.id);
      expect(expected.length).toBeGreaterThan(20);
      const last = expected[expected.length - 1]!;
      const mine = clients.filter((c) => c.subscription === subscription).map((c) => c.client);
      await Promise.all(
        mine.map((client) =>
          client.waitFor(
            () => receivedIds(client, subscription).includes(last),
            20_000,
            `${subscription.path}: event ${last}`,
          ),
        ),
      );
      for (const client of mine) {
        // The ticker goes on ticking: compare up to the snapshot's last event, and the rest for order.
        const received = receivedIds(client, subscription);
        expect(received.slice(0, received.indexOf(last) + 1)).toEqual(expected);
        expect(received).toEqual([...new Set(received)].sort((a, b) => compareIds(a, b)));
        expect(client.source.readyState).toBe(client.source.OPEN);
      }
    }
    // The clients really moved: most were on a killed replica at least once.
    expect(clients.filter(({ client }) => client.opens > 1).length).toBeGreaterThan(
      clients.length / 2,
    );
  }, 90_000);
});
