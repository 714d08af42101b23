import { compareIds, LogEvent } from '../src/event-log/event-log';
import { eventually } from '../src/event-log/event-log.contract';
import { LogSink, RedisStreamsEventLog } from '../src/event-log/redis-streams-event-log';
import { REDIS_KEY_PREFIX } from '../src/event-log/event-log.module';
import { AppProcess, buildAppOnce } from './support/app-process';
import { RedisServer } from './support/redis';
import { ReceivedEvent, RecordingEventSource } from './support/sse-client';

/**
 * Chaos, bounded in time: 3 app processes on one persistent Redis, 120 clients that reconnect to a
 * live instance (round robin: the stand-in for nginx), events published steadily on several topics
 * by another process's worth of Redis client. Instances are killed with SIGKILL and restarted, Redis
 * is killed and restarted; afterwards every client has every ticker event exactly once, in order.
 */
const INSTANCES = 3;
const CLIENTS = 120;
const quiet: LogSink = { log: () => undefined, warn: () => undefined, error: () => undefined };

interface TickerBody {
  type?: string;
  id?: string;
}
const body = (event: ReceivedEvent) => (event.json ?? {}) as TickerBody;
const tickIds = (client: RecordingEventSource) =>
  client.events
    .filter((e) => body(e).type === 'message' || body(e).type === 'catch_up_message')
    .map((e) => body(e).id!);

describe('chaos: instances killed and restarted, Redis restarted, nothing lost', () => {
  let redis: RedisServer | undefined;
  const instances: AppProcess[] = [];
  const clients: RecordingEventSource[] = [];
  const logs: RedisStreamsEventLog[] = [];
  let entry: string;

  beforeAll(async () => {
    entry = await buildAppOnce();
    redis = await RedisServer.start({ persistent: true });
  }, 120_000);

  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all(logs.splice(0).map((l) => l.close()));
    await Promise.all(instances.splice(0).map((i) => i.stop('SIGKILL')));
    await redis?.dispose();
  });

  it('every client receives every event exactly once, in order', async () => {
    const env = {
      STORE: 'redis',
      REDIS_URL: redis!.url,
      STORE_RETENTION: '100000',
      MAX_CONNECTIONS_PER_IP: '100000',
      SSE_RETRY_MS: '50',
    };
    for (let i = 0; i < INSTANCES; i++) instances.push(await AppProcess.create(entry, env));
    await Promise.all(instances.map((i) => i.start()));

    // The load balancer: each (re)connection goes to the next instance believed to be up.
    let turn = 0;
    const route = (input: string | URL | Request, init?: RequestInit) => {
      const up = instances.filter((i) => i.running);
      const target = new URL(input instanceof Request ? input.url : String(input));
      target.host = new URL(
        (up.length > 0 ? up : instances)[turn++ % Math.max(1, up.length)]!.url,
      ).host;
      return fetch(target, init);
    };
    for (let c = 0; c < CLIENTS; c++)
      clients.push(new RecordingEventSource(`${instances[0]!.url}/events`, { fetch: route }));
    await Promise.all(
      clients.map((c) => c.waitFor((e) => e.some((x) => body(x).type === 'connected'), 20_000)),
    );

    // Another instance's worth of publishing: steady appends on `ticker` and two other topics.
    const publisher = new RedisStreamsEventLog({
      url: redis!.url,
      retention: 100000,
      prefix: REDIS_KEY_PREFIX,
      logger: quiet,
    });
    logs.push(publisher);
    const published: LogEvent[] = [];
    let publishing = true;
    const publishLoop = (async () => {
      for (let n = 0; publishing && n < 100_000; n++) {
        const topic = n % 3 === 0 ? 'ticker' : `noise:${n % 2}`;
        try {
          published.push(
            await publisher.append({ topic, type: 'message', data: { message: `event ${n}` } }),
          );
        } catch {
          // Redis away (the HTTP layer answers 503 here): not acknowledged, so not expected; go on.
        }
        await new Promise((resolve) => setTimeout(resolve, 5)); // a steady publishing rate, not a wait for an event
      }
    })();
    const publishedMore = (count: number) => {
      const target = published.length + count;
      return eventually(() => published.length >= target, `${count} more published events`, 20_000);
    };

    try {
      await publishedMore(30);
      for (let round = 0; round < 3; round++) {
        const victim = instances[round % INSTANCES]!;
        await victim.stop('SIGKILL');
        await publishedMore(30);
        await victim.start();
        await publishedMore(30);
      }
      await redis!.restart('SIGKILL');
      await publishedMore(60);
      await instances[1]!.stop('SIGKILL');
      await publishedMore(30);
      await instances[1]!.start();
      await publishedMore(30);
    } finally {
      publishing = false;
      await publishLoop;
    }

    const checker = new RedisStreamsEventLog({
      url: redis!.url,
      retention: 100000,
      prefix: REDIS_KEY_PREFIX,
      logger: quiet,
    });
    logs.push(checker);
    const expected = (await checker.readAfter(['ticker'], undefined)).events.map((e) => e.id);
    const last = expected[expected.length - 1]!;
    // Every acknowledged append is in the log (persistent Redis), in id order.
    const acked = published.filter((e) => e.topic === 'ticker').map((e) => e.id);
    expect(acked.every((id) => expected.includes(id))).toBe(true);
    expect([...expected].sort(compareIds)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(100);

    await Promise.all(
      clients.map((c) =>
        c.waitFor(() => tickIds(c).includes(last), 20_000, `ticker event ${last}`),
      ),
    );
    for (const client of clients) expect(tickIds(client)).toEqual(expected);
    // The clients really moved: most were on a killed instance at least once.
    expect(clients.filter((c) => c.opens > 1).length).toBeGreaterThan(CLIENTS / 2);
  }, 90_000);
});
