import { randomUUID } from 'node:crypto';
import { describeEventLogContract } from '../src/event-log/event-log.contract';
import { LogEvent, StoreUnavailableError } from '../src/event-log/event-log';
import { LogSink, RedisStreamsEventLog } from '../src/event-log/redis-streams-event-log';
import { RedisServer } from './support/redis';
import { Changes, until } from './support/wait';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.dispose();
});

const quiet: LogSink = { log: () => undefined, warn: () => undefined, error: () => undefined };

// Each log gets its own key prefix, so the tests share one server and never see each other's events.
describeEventLogContract(RedisStreamsEventLog.name, (retention) => {
  const log = new RedisStreamsEventLog({
    url: redis.url,
    retention,
    prefix: `t-${randomUUID()}`,
    logger: quiet,
  });
  return Promise.resolve({ log, cleanup: () => log.close() });
});

describe('RedisStreamsEventLog across instances and outages', () => {
  const logs: RedisStreamsEventLog[] = [];
  const open = (url: string, prefix: string, logger: LogSink = quiet) => {
    const log = new RedisStreamsEventLog({ url, retention: 100, prefix, logger, blockMs: 500 });
    logs.push(log);
    return log;
  };

  afterEach(async () => {
    await Promise.all(logs.splice(0).map((log) => log.close()));
  });

  it('delivers an event appended by one instance to the subscribers of every instance, once', async () => {
    const prefix = `x-${randomUUID()}`;
    const [a, b] = [open(redis.url, prefix), open(redis.url, prefix)];
    // Subscriptions count from the moment each instance's live reader runs.
    await Promise.all([a.whenLive(), b.whenLive()]);
    const onA: LogEvent[] = [];
    const onB: LogEvent[] = [];
    const arrivals = new Changes();
    a.subscribe(['t'], (e) => {
      onA.push(e);
      arrivals.notify();
    });
    b.subscribe(['t'], (e) => {
      onB.push(e);
      arrivals.notify();
    });
    const sent = [
      await a.append({ topic: 't', type: 'm', data: 'from a' }),
      await b.append({ topic: 't', type: 'm', data: 'from b' }),
    ];
    await arrivals.until(
      () => onA.length === 2 && onB.length === 2,
      'both events on both instances',
    );
    expect(onA.map((e) => e.id)).toEqual(sent.map((e) => e.id));
    expect(onB.map((e) => e.data)).toEqual(['from a', 'from b']);
    // Nothing more arrives (no double delivery of the local append).
    await a.append({ topic: 't', type: 'm', data: 'probe' });
    await arrivals.until(() => onA.length === 3 && onB.length === 3, 'the probe');
  });

  it('fails fast while Redis is down, and the live reader resumes with what was published meanwhile', async () => {
    const server = await RedisServer.start({ persistent: true });
    try {
      const prefix = `o-${randomUUID()}`;
      const errors: string[] = [];
      const record = (message: unknown) => void errors.push(String(message));
      const subscriberSide = open(server.url, prefix, { ...quiet, error: record });
      const got: LogEvent[] = [];
      const arrivals = new Changes();
      subscriberSide.subscribe(['t'], (e) => {
        got.push(e);
        arrivals.notify();
      });
      const first = await subscriberSide.append({ topic: 't', type: 'm', data: 1 });
      await arrivals.until(() => got.length === 1, 'the first event');

      await server.stop('SIGKILL');
      await expect(
        subscriberSide.append({ topic: 't', type: 'm', data: 'lost' }),
      ).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await subscriberSide.isHealthy()).toBe(false);
      await until(
        () => errors.some((m) => m.includes(`REDIS_URL=${server.url}`)),
        'the unreachable log line',
      );

      await server.start();
      // Another instance publishes as soon as Redis is back, before this one's reader has reconnected.
      const publisher = open(server.url, prefix);
      await until(() => publisher.isHealthy(), 'the publisher connection');
      const later = [
        await publisher.append({ topic: 't', type: 'm', data: 2 }),
        await publisher.append({ topic: 't', type: 'm', data: 3 }),
      ];
      await arrivals.until(() => got.length === 3, 'the events published during the reconnect', {
        timeoutMs: 10_000,
      });
      expect(got.map((e) => e.id)).toEqual([first.id, ...later.map((e) => e.id)]);
      expect(await subscriberSide.isHealthy()).toBe(true);
      expect((await subscriberSide.readAfter(['t'], first.id)).events.map((e) => e.data)).toEqual([
        2, 3,
      ]);
    } finally {
      await Promise.all(logs.splice(0).map((log) => log.close()));
      await server.dispose();
    }
  });
});
