import { firstValueFrom } from 'rxjs';
import { epochSeed } from './event-log';
import { describeEventLogContract } from './event-log.contract';
import { streamFromLog } from './event-stream';
import { estimateEventBytes } from './event-size';
import { InMemoryEventLog } from './in-memory-event-log';

describeEventLogContract(InMemoryEventLog.name, (retention) => {
  const log = new InMemoryEventLog(retention);
  return Promise.resolve({ log, cleanup: () => log.close() });
});

describe(`${InMemoryEventLog.name} total budget (STORE_MAX_BYTES)`, () => {
  const payload = (i: number) => ({ text: 'x'.repeat(1000), i });
  // Ids are as long as the store's own (its sequence starts from the clock: epochSeed).
  const sizeOf = (topic: string, i: number) =>
    estimateEventBytes({
      id: String(epochSeed() + i + 1),
      topic,
      type: 'm',
      data: payload(i),
      timestamp: 0,
    });

  it('evicts the oldest events across topics past the budget, and stays within it', async () => {
    const budget = sizeOf('t0', 0) * 10;
    const log = new InMemoryEventLog(1000, budget);
    for (let i = 0; i < 100; i++)
      await log.append({ topic: `t${i % 3}`, type: 'm', data: payload(i) });
    expect(log.retainedBytes).toBeLessThanOrEqual(budget);
    const { events } = await log.readAfter(['t0', 't1', 't2'], undefined);
    // The newest events, whatever their topic, and nothing older than any of them.
    expect(events.length).toBeGreaterThanOrEqual(9);
    expect(events.map((e) => (e.data as { i: number }).i)).toEqual(
      Array.from({ length: events.length }, (_, k) => 100 - events.length + k),
    );
    await log.close();
  });

  it('tells a client resuming past evicted events: history_truncated (and not one resuming after them)', async () => {
    const log = new InMemoryEventLog(1000, sizeOf('a', 0) * 3);
    const first = await log.append({ topic: 'a', type: 'm', data: payload(0) });
    for (let i = 1; i < 10; i++) await log.append({ topic: 'a', type: 'm', data: payload(i) });
    const item = await firstValueFrom(streamFromLog(log, ['a'], first.id));
    expect(item).toMatchObject({ kind: 'replay', reset: 'history_truncated' });
    const { events } = await log.readAfter(['a'], undefined);
    const exact = await log.readAfter(['a'], String(Number(events[0]!.id) - 1));
    expect(exact.truncated).toBe(false);
    await log.close();
  });

  it('forgets topics emptied by the budget unless someone listens, and still flags their gap', async () => {
    const log = new InMemoryEventLog(1000, sizeOf('t0', 0) * 5);
    const unsubscribe = log.subscribe(['t1'], () => undefined);
    const old = await log.append({ topic: 't0', type: 'm', data: payload(0) });
    await log.append({ topic: 't1', type: 'm', data: payload(1) });
    for (let i = 2; i < 1000; i++)
      await log.append({ topic: `t${i}`, type: 'm', data: payload(i) });
    // Only the topics still holding events, plus t1 (listened to), are kept.
    expect(log.topicCount).toBeLessThanOrEqual(6);
    // t0 is forgotten; a resume from before its event is told about the gap, one from now is not.
    expect((await log.readAfter(['t0'], '0')).truncated).toBe(true);
    expect((await log.readAfter(['t0'], await log.lastId())).truncated).toBe(false);
    const before = await log.readAfter(['t1'], old.id);
    expect(before).toMatchObject({ events: [], truncated: true });
    unsubscribe();
    expect(log.topicCount).toBeLessThanOrEqual(5);
    // t1 is forgotten now: a resume from before its event still hears about the gap.
    expect((await log.readAfter(['t1'], old.id)).truncated).toBe(true);
    await log.close();
  });

  it('is needed: without a budget the same flood keeps every topic and every byte', async () => {
    const log = new InMemoryEventLog(1000);
    for (let i = 0; i < 1000; i++)
      await log.append({ topic: `t${i}`, type: 'm', data: payload(i) });
    expect(log.topicCount).toBe(1000);
    expect(log.retainedBytes).toBeGreaterThan(sizeOf('t0', 0) * 999);
    await log.close();
  });

  it('gives back the bytes of events dropped by per-topic retention and of expired topics', async () => {
    const log = new InMemoryEventLog(2);
    for (let i = 0; i < 10; i++) await log.append({ topic: 'a', type: 'm', data: payload(i) });
    expect(log.retainedBytes).toBeLessThanOrEqual(sizeOf('a', 9) * 2);
    await log.expire(['a'], 0);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (log.topicCount === 0) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    expect(log.retainedBytes).toBe(0);
    await log.close();
  });
});
