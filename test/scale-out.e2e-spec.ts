import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { eventually } from '../src/event-log/event-log.contract';
import { LEADER_ELECTION, LeaderElection } from '../src/event-log/leader-election';
import { TickerService } from '../src/replay/ticker.service';
import { RunningApp, startApp } from './support/app';
import { post } from './support/http';
import { RedisServer } from './support/redis';
import { ReceivedEvent, RecordingEventSource } from './support/sse-client';

interface TickerBody {
  type?: string;
  id?: string;
  message?: string;
}
const body = (event: ReceivedEvent) => (event.json ?? {}) as TickerBody;
/** Ids of the ticker events a client got, live or replayed, in arrival order. */
const tickIds = (client: RecordingEventSource) =>
  client.events
    .filter((e) => body(e).type === 'message' || body(e).type === 'catch_up_message')
    .map((e) => body(e).id!);

jest.setTimeout(30_000);

describe('several instances on one Redis (STORE=redis)', () => {
  let redis: RedisServer;
  const apps: RunningApp[] = [];
  const clients: RecordingEventSource[] = [];

  const startInstance = async (env: Record<string, string> = {}) => {
    const running = await startApp({
      STORE: 'redis',
      REDIS_URL: redis.url,
      STORE_RETENTION: '1000',
      ...env,
    });
    apps.push(running);
    return running;
  };
  const connect = (url: string, init?: ConstructorParameters<typeof RecordingEventSource>[1]) => {
    const client = new RecordingEventSource(url, init);
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await redis.dispose();
  });

  it('an event published on one instance reaches the /events clients of every instance, once, in order', async () => {
    const [a, b] = [await startInstance(), await startInstance()];
    const onA = connect(`${a.url}/events`);
    const onB = connect(`${b.url}/events`);
    await Promise.all(
      [onA, onB].map((c) => c.waitFor((e) => e.some((x) => body(x).type === 'connected'))),
    );
    const tickerA = a.app.get(TickerService);
    const tickerB = b.app.get(TickerService);
    await tickerA.publish();
    await tickerB.publish();
    await tickerA.publish();
    for (const client of [onA, onB]) {
      await client.waitFor(() => tickIds(client).length === 3, 10_000, 'three ticks');
      // One sequence for the store (it starts from the clock): consecutive ids, the same everywhere.
      const first = BigInt(tickIds(client)[0]!);
      const expected = [0n, 1n, 2n].map((k) => String(first + k));
      expect(tickIds(client)).toEqual(expected);
      expect(client.events.filter((e) => e.lastEventId !== '').map((e) => e.lastEventId)).toEqual(
        expected,
      );
      expect(tickIds(onA)).toEqual(tickIds(onB));
    }
  });

  it('a client whose instance goes away resumes on another one with no gap and no duplicate', async () => {
    const [a, b] = [await startInstance(), await startInstance()];
    // The load balancer: new connections go to the first instance still up.
    const up = [a, b];
    const client = connect(`${a.url}/events`, {
      fetch: (input, init) => {
        const target = new URL(String(input instanceof Request ? input.url : input));
        const live = new URL(up[0]!.url);
        target.host = live.host;
        return fetch(target, init);
      },
    });
    await client.waitForOpen();
    const publisher = b.app.get<EventLog>(EVENT_LOG);
    const sent: string[] = [];
    const publish = async (n: number) => {
      const event = await publisher.append({
        topic: 'ticker',
        type: 'message',
        data: { message: `m${n}` },
      });
      sent.push(event.id);
    };
    for (let i = 1; i <= 3; i++) await publish(i);
    await client.waitFor(() => tickIds(client).length === 3, 10_000, 'three live ticks on a');

    up.shift();
    const closing = a.close();
    apps.splice(apps.indexOf(a), 1);
    for (let i = 4; i <= 6; i++) await publish(i); // while the client moves from a to b
    await closing;
    await client.waitFor(
      (e) => e.some((x) => body(x).type === 'connected' && /Reconnected/.test(x.data)),
      10_000,
      'resume',
    );
    for (let i = 7; i <= 8; i++) await publish(i);
    await client.waitFor(() => tickIds(client).includes(sent[7]!), 10_000, 'tick 8 on b');
    expect(tickIds(client)).toEqual(sent);
    expect(client.opens).toBe(2);
  });

  it('topics, notifications and chat cross instances, and a reconnect elsewhere replays what was missed', async () => {
    const [a, b] = [await startInstance(), await startInstance()];
    const published = async (url: string, body: unknown, status = 202) => {
      const answer = await post(url, body);
      expect(answer.status).toBe(status);
      return (answer.json as { id: string }).id;
    };
    const idsOf = (client: RecordingEventSource, isLogEvent: (e: ReceivedEvent) => boolean) =>
      client.events.filter(isLogEvent).map((e) => e.lastEventId);
    // Every reader starts from this resume point, so nothing depends on when its live delivery began.
    const from = await published(`${a.url}/api/events/warmup`, { data: {} });

    // Topics: published on A, received on B.
    const isOrder = (e: ReceivedEvent) =>
      (e.json as { topic?: string } | undefined)?.topic === 'orders';
    const orders = connect(`${b.url}/api/events?topic=orders&lastEventId=${from}`);
    const o1 = await published(`${a.url}/api/events/orders`, { data: { n: 1 } });
    const o2 = await published(`${b.url}/api/events/orders`, { data: { n: 2 } });
    await orders.waitFor(() => idsOf(orders, isOrder).includes(o2), 10_000, 'orders on b');
    expect(idsOf(orders, isOrder)).toEqual([o1, o2]);

    // Notifications: the user reads on A; sent on B. Offline, two more are sent (on A and B);
    // the reconnect goes to B with Last-Event-ID and gets exactly those two.
    const isNotification = (e: ReceivedEvent) => e.type === 'notification';
    const notify = (url: string, title: string) =>
      published(`${url}/api/notifications`, { userId: 'u1', title, body: 'cross' });
    const online = connect(`${a.url}/api/notifications/stream?userId=u1&lastEventId=${from}`, {
      types: ['notification'],
    });
    const n1 = await notify(b.url, 'n1');
    await online.waitFor(() => idsOf(online, isNotification).includes(n1), 10_000, 'n1 on a');
    expect(idsOf(online, isNotification)).toEqual([n1]);
    online.close();
    const n2 = await notify(a.url, 'n2');
    const n3 = await notify(b.url, 'n3');
    const back = connect(`${b.url}/api/notifications/stream?userId=u1`, {
      types: ['notification'],
      headers: { 'Last-Event-ID': n1 },
    });
    await back.waitFor(() => idsOf(back, isNotification).includes(n3), 10_000, 'n2, n3 on b');
    expect(idsOf(back, isNotification)).toEqual([n2, n3]);
    expect(
      back.events.filter(isNotification).map((e) => (e.json as { title: string }).title),
    ).toEqual(['n2', 'n3']);

    // Chat: posted on A, read on B; a reader that reconnects to A replays what it missed.
    const isChat = (e: ReceivedEvent) =>
      (e.json as { type?: string } | undefined)?.type === 'message';
    const say = (url: string, text: string) =>
      published(`${url}/api/chat/lobby/message`, { user: 'ann', text }, 201);
    const reader = connect(`${b.url}/api/chat/lobby?lastEventId=${from}`);
    const m1 = await say(a.url, 'm1');
    const m2 = await say(a.url, 'm2');
    await reader.waitFor(() => idsOf(reader, isChat).includes(m2), 10_000, 'm1, m2 on b');
    expect(idsOf(reader, isChat)).toEqual([m1, m2]);
    reader.close();
    const m3 = await say(b.url, 'm3');
    const again = connect(`${a.url}/api/chat/lobby`, { headers: { 'Last-Event-ID': m2 } });
    await again.waitFor(() => idsOf(again, isChat).includes(m3), 10_000, 'm3 replayed on a');
    expect(idsOf(again, isChat)).toEqual([m3]);
    expect((again.events.find(isChat)!.json as { text: string }).text).toBe('m3');
  });

  it('runs the ticker on one instance at a time, and another takes over when the leader stops', async () => {
    const instances = [
      await startInstance({ TICKER_INTERVAL_MS: '40' }),
      await startInstance({ TICKER_INTERVAL_MS: '40' }),
    ];
    const leaders = instances.map((i) => i.app.get<LeaderElection>(LEADER_ELECTION));
    await eventually(() => leaders.some((l) => l.isLeader()), 'a leader', 10_000);
    expect(leaders.filter((l) => l.isLeader())).toHaveLength(1);
    const leaderIndex = leaders.findIndex((l) => l.isLeader());
    const follower = instances[1 - leaderIndex]!;

    const client = connect(`${follower.url}/events`);
    await client.waitFor(() => tickIds(client).length >= 10, 10_000, 'ten ticks');
    // One ticker: its own counter numbers the messages 1, 2, 3... with no value twice.
    const numbers = client.events
      .filter((e) => body(e).type === 'message')
      .map((e) => Number(body(e).message!.split('#')[1]));
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe(numbers[i - 1]! + 1);

    const leader = instances[leaderIndex]!;
    apps.splice(apps.indexOf(leader), 1);
    await leader.close(); // gives the lease up
    const seen = tickIds(client).length;
    await eventually(
      () => leaders[1 - leaderIndex]!.isLeader(),
      'the follower to take over',
      10_000,
    );
    await client.waitFor(
      () => tickIds(client).length >= seen + 5,
      10_000,
      'ticks from the new leader',
    );
    const ids = tickIds(client);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('Redis unreachable at start-up', () => {
  it('starts anyway, is not ready, fails appends fast naming REDIS_URL, and recovers when Redis comes up', async () => {
    const redis = await RedisServer.create(); // a free port, nothing listening yet
    const running = await startApp({ STORE: 'redis', REDIS_URL: redis.url });
    try {
      const log = running.app.get<EventLog>(EVENT_LOG);
      expect(await log.isHealthy()).toBe(false);
      await expect(log.append({ topic: 'ticker', type: 'message', data: {} })).rejects.toThrow(
        `REDIS_URL=${redis.url}`,
      );
      const client = new RecordingEventSource(`${running.url}/events`);
      try {
        await client.waitFor((e) => e.some((x) => body(x).type === 'connected'));
        await redis.start();
        await eventually(() => log.isHealthy(), 'readiness after Redis started', 10_000);
        await running.app.get(TickerService).publish();
        await client.waitFor(() => tickIds(client).length === 1, 10_000, 'the first tick');
      } finally {
        client.close();
      }
    } finally {
      await running.close();
      await redis.dispose();
    }
  });
});
