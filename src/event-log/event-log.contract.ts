import { firstValueFrom, Subscription } from 'rxjs';
import { AppendConflictError, compareIds, epochSeed, EventLog, LogEvent } from './event-log';
import { LogStreamItem, streamFromLog } from './event-stream';

export interface EventLogUnderTest {
  log: EventLog;
  cleanup(): Promise<void>;
}

/** Polls `condition` until it holds (delivery may be asynchronous in some adapters); fails after `timeoutMs`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const ids = (events: readonly LogEvent[]) => events.map((e) => e.id);

/**
 * The EventLog port's contract. Every adapter runs it (in-memory in its spec, Redis in the e2e suite):
 * services may rely on exactly what is checked here and nothing more. Live delivery may be asynchronous
 * (Redis delivers through its reader), so live assertions wait for the events they expect.
 */
export function describeEventLogContract(
  name: string,
  create: (retention: number) => Promise<EventLogUnderTest>,
): void {
  describe(`EventLog contract: ${name}`, () => {
    let current: EventLogUnderTest | undefined;
    const open = async (retention = 100): Promise<EventLog> => {
      current = await create(retention);
      return current.log;
    };

    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });

    it('assigns strictly increasing decimal ids across topics, and lastId is the newest', async () => {
      const log = await open();
      expect(await log.lastId()).toBeUndefined();
      const events: LogEvent[] = [];
      for (const topic of ['a', 'b', 'a', 'c', 'b']) {
        events.push(await log.append({ topic, type: 'message', data: { topic } }));
      }
      for (const event of events) expect(event.id).toMatch(/^[1-9]\d*$/);
      for (let i = 1; i < events.length; i++)
        expect(compareIds(events[i]!.id, events[i - 1]!.id)).toBeGreaterThan(0);
      expect(await log.lastId()).toBe(events[events.length - 1]!.id);
    });

    it('keeps type, data and timestamp as appended', async () => {
      const log = await open();
      const before = Date.now();
      const samples: unknown[] = [{ nested: { list: [1, 'two', null] } }, 'text', 42, null, true];
      for (const data of samples) await log.append({ topic: 't', type: 'kind.x:y-z', data });
      const { events } = await log.readAfter(['t'], undefined);
      expect(events.map((e) => e.data)).toEqual(samples);
      expect(events.every((e) => e.type === 'kind.x:y-z' && e.topic === 't')).toBe(true);
      expect(
        events.every((e) => e.timestamp >= before - 1000 && e.timestamp <= Date.now() + 1000),
      ).toBe(true);
    });

    it('reads after an id across topics, merged in id order, excluding the id itself', async () => {
      const log = await open();
      const a1 = await log.append({ topic: 'a', type: 'm', data: 1 });
      const b1 = await log.append({ topic: 'b', type: 'm', data: 2 });
      await log.append({ topic: 'other', type: 'm', data: 3 });
      const a2 = await log.append({ topic: 'a', type: 'm', data: 4 });
      const b2 = await log.append({ topic: 'b', type: 'm', data: 5 });

      const all = await log.readAfter(['a', 'b'], undefined);
      expect(ids(all.events)).toEqual(ids([a1, b1, a2, b2]));
      expect(all).toMatchObject({ truncated: false, unknown: false });

      expect(ids((await log.readAfter(['b', 'a'], a1.id)).events)).toEqual(ids([b1, a2, b2]));
      expect(ids((await log.readAfter(['a', 'b'], b1.id)).events)).toEqual(ids([a2, b2]));
      expect(ids((await log.readAfter(['a', 'a'], undefined)).events)).toEqual(ids([a1, a2]));
      const atEnd = await log.readAfter(['a', 'b'], b2.id);
      expect(atEnd).toEqual({ events: [], truncated: false, unknown: false });
      expect((await log.readAfter(['never-used'], a1.id)).events).toEqual([]);
      expect((await log.readAfter([], a1.id)).events).toEqual([]);
    });

    it('retains `retention` events per topic and flags a read that missed dropped events', async () => {
      const log = await open(3);
      const a: LogEvent[] = [];
      const b: LogEvent[] = [];
      for (let i = 0; i < 5; i++) {
        a.push(await log.append({ topic: 'a', type: 'm', data: i }));
        if (i < 2) b.push(await log.append({ topic: 'b', type: 'm', data: i }));
      }
      // a: 5 appended, the 2 oldest dropped; b: 2 appended, nothing dropped.
      const fromStart = await log.readAfter(['a'], undefined);
      expect(ids(fromStart.events)).toEqual(ids(a.slice(2)));
      expect(fromStart.truncated).toBe(false);

      const missed = await log.readAfter(['a'], a[0]!.id);
      expect(missed.truncated).toBe(true);
      expect(ids(missed.events)).toEqual(ids(a.slice(2)));

      // Resuming right after the newest dropped event loses nothing.
      const exact = await log.readAfter(['a'], a[1]!.id);
      expect(exact.truncated).toBe(false);
      expect(ids(exact.events)).toEqual(ids(a.slice(2)));

      const otherTopic = await log.readAfter(['b'], a[0]!.id);
      expect(otherTopic.truncated).toBe(false);
      expect(ids(otherTopic.events)).toEqual(ids(b.filter((e) => compareIds(e.id, a[0]!.id) > 0)));

      const merged = await log.readAfter(['a', 'b'], a[0]!.id);
      expect(merged.truncated).toBe(true);
    });

    it('flags an id newer than anything handed out as unknown', async () => {
      const log = await open();
      expect(await log.readAfter(['a'], '9'.repeat(16))).toEqual({
        events: [],
        truncated: false,
        unknown: true,
      });
      const e = await log.append({ topic: 'a', type: 'm', data: 0 });
      expect((await log.readAfter(['a'], e.id)).unknown).toBe(false);
      const next = String(Number(e.id) + 1);
      expect(await log.readAfter(['a'], next)).toEqual({
        events: [],
        truncated: false,
        unknown: true,
      });
      expect((await log.readAfter(['a'], '9'.repeat(30))).unknown).toBe(true);
    });

    it('delivers live events only for the subscribed topics, in id order', async () => {
      const log = await open();
      await log.append({ topic: 'a', type: 'm', data: 'before subscribing' });
      const got: LogEvent[] = [];
      const unsubscribe = log.subscribe(['a', 'b'], (event) => got.push(event));
      const sent: LogEvent[] = [];
      for (let i = 0; i < 20; i++) {
        const topic = ['a', 'b', 'c'][i % 3]!;
        const event = await log.append({ topic, type: 'm', data: i });
        if (topic !== 'c') sent.push(event);
      }
      await eventually(() => got.length >= sent.length, `${sent.length} live events`);
      expect(ids(got)).toEqual(ids(sent));
      expect(got[0]!.data).toBe(0);
      unsubscribe();
    });

    it('delivers concurrent appends to every subscriber exactly once, in id order', async () => {
      const log = await open();
      const first: LogEvent[] = [];
      const second: LogEvent[] = [];
      const unsubscribers = [
        log.subscribe(['x'], (e) => first.push(e)),
        log.subscribe(['x', 'y'], (e) => second.push(e)),
      ];
      const sent = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          log.append({ topic: i % 2 ? 'x' : 'y', type: 'm', data: i }),
        ),
      );
      const sorted = [...sent].sort((p, q) => compareIds(p.id, q.id));
      await eventually(() => first.length >= 25 && second.length >= 50, 'every live event');
      expect(ids(first)).toEqual(ids(sorted.filter((e) => e.topic === 'x')));
      expect(ids(second)).toEqual(ids(sorted));
      unsubscribers.forEach((u) => u());
    });

    it('releases a subscription on unsubscribe (count back to 0, no more delivery)', async () => {
      const log = await open();
      const gone: LogEvent[] = [];
      const kept: LogEvent[] = [];
      const unsubscribe = log.subscribe(['a', 'b'], (e) => gone.push(e));
      const unsubscribeProbe = log.subscribe(['a'], (e) => kept.push(e));
      expect(log.subscriberCount()).toBe(2);
      unsubscribe();
      unsubscribe(); // idempotent
      expect(log.subscriberCount()).toBe(1);
      await log.append({ topic: 'b', type: 'm', data: 1 });
      await log.append({ topic: 'a', type: 'm', data: 2 });
      await eventually(() => kept.length === 1, 'the probe event');
      expect(gone).toEqual([]);
      unsubscribeProbe();
      expect(log.subscriberCount()).toBe(0);
    });

    it('streamFromLog: replay then live with no gap and no duplicate while appends race the replay read', async () => {
      const log = await open(1000);
      for (let i = 0; i < 20; i++)
        await log.append({ topic: i % 2 ? 'p' : 'q', type: 'm', data: i });
      const resumeFrom = (await log.readAfter(['p'], undefined)).events[4]!.id;
      for (let round = 0; round < 3; round++) {
        const received: LogEvent[] = [];
        let replay: Extract<LogStreamItem, { kind: 'replay' }> | undefined;
        const subscription: Subscription = streamFromLog(log, ['p', 'q'], resumeFrom).subscribe(
          (item) => {
            if (item.kind === 'replay') {
              replay = item;
              received.push(...item.events);
            } else {
              received.push(item.event);
            }
          },
        );
        // Appends in flight while the replay is being read.
        const racing = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            log.append({ topic: i % 3 ? 'p' : 'q', type: 'm', data: i }),
          ),
        );
        const newest = racing
          .map((e) => e.id)
          .sort(compareIds)
          .pop()!;
        await eventually(() => received.some((e) => e.id === newest), 'the newest racing event');
        const expected = (await log.readAfter(['p', 'q'], resumeFrom)).events;
        expect(ids(received)).toEqual(ids(expected));
        expect(replay).toMatchObject({ reset: undefined, resumed: true });
        subscription.unsubscribe();
        expect(log.subscriberCount()).toBe(0);
      }
    });

    it('streamFromLog: an unknown id resets to live, a truncated one replays what is retained', async () => {
      const log = await open(2);
      const events: LogEvent[] = [];
      for (let i = 0; i < 4; i++) events.push(await log.append({ topic: 'r', type: 'm', data: i }));
      const truncated = await firstValueFrom(streamFromLog(log, ['r'], events[0]!.id));
      expect(truncated).toMatchObject({ kind: 'replay', reset: 'history_truncated' });
      expect(truncated.kind === 'replay' && ids(truncated.events)).toEqual(ids(events.slice(2)));
      const unknown = await firstValueFrom(streamFromLog(log, ['r'], '9'.repeat(16)));
      expect(unknown).toMatchObject({ kind: 'replay', reset: 'unknown_id', events: [] });
      expect(log.subscriberCount()).toBe(0);
    });

    it('forgets an expired topic after its delay, and nothing else', async () => {
      const log = await open();
      await log.append({ topic: 'soon', type: 'm', data: 1 });
      await log.append({ topic: 'later', type: 'm', data: 2 });
      await log.append({ topic: 'kept', type: 'm', data: 3 });
      await log.expire(['soon'], 50);
      await log.expire(['later'], 600_000);
      await eventually(
        async () => (await log.readAfter(['soon'], undefined)).events.length === 0,
        'the expired topic to be forgotten',
      );
      expect((await log.readAfter(['later', 'kept'], undefined)).events.map((e) => e.data)).toEqual(
        [2, 3],
      );
    });

    it('persist cancels a pending expiry, and a later expire applies again', async () => {
      const log = await open();
      await log.append({ topic: 'renewed', type: 'm', data: 1 });
      await log.append({ topic: 'expiring', type: 'm', data: 2 });
      await log.expire(['renewed', 'expiring'], 50);
      await log.persist(['renewed']);
      // Negative control: the topic that was not persisted goes.
      await eventually(
        async () => (await log.readAfter(['expiring'], undefined)).events.length === 0,
        'the unpersisted topic to be forgotten',
      );
      expect((await log.readAfter(['renewed'], undefined)).events.map((e) => e.data)).toEqual([1]);
      await log.expire(['renewed'], 50);
      await eventually(
        async () => (await log.readAfter(['renewed'], undefined)).events.length === 0,
        'the topic expired again to be forgotten',
      );
    });

    it('keeps delivering to every other listener when one throws', async () => {
      const log = await open();
      const got: LogEvent[] = [];
      const unsubscribers = [
        log.subscribe(['x'], () => {
          throw new RangeError('a broken subscriber');
        }),
        log.subscribe(['x'], (event) => got.push(event)),
      ];
      const first = await log.append({ topic: 'x', type: 'm', data: 1 });
      const second = await log.append({ topic: 'x', type: 'm', data: 2 });
      await eventually(() => got.length === 2, 'both events on the healthy listener');
      expect(ids(got)).toEqual(ids([first, second]));
      unsubscribers.forEach((u) => u());
    });

    it('starts its ids from the clock, so an id from before it began reads as truncated', async () => {
      const before = epochSeed(Date.now() - 1);
      const log = await open();
      const a = await log.append({ topic: 'e', type: 'm', data: 0 });
      const b = await log.append({ topic: 'e', type: 'm', data: 1 });
      expect(BigInt(a.id) > BigInt(before)).toBe(true);
      expect(compareIds(b.id, a.id)).toBeGreaterThan(0);
      // An id a client got from an earlier run of the store (ids of that run are all smaller).
      for (const old of ['3', String(before)]) {
        const read = await log.readAfter(['e'], old);
        expect(read).toMatchObject({ truncated: true, unknown: false });
        expect(ids(read.events)).toEqual([a.id, b.id]);
      }
      const reset = await firstValueFrom(streamFromLog(log, ['e'], '3'));
      expect(reset).toMatchObject({ kind: 'replay', reset: 'history_truncated' });
      // Control: an id of this run resumes exactly, no reset.
      expect(await log.readAfter(['e'], a.id)).toMatchObject({ truncated: false, unknown: false });
    });

    it('compare-and-append: appends only on the expected newest id of the topic', async () => {
      const log = await open();
      const first = await log.append({ topic: 'cas', type: 'm', data: 1 }, { ifLastId: null });
      await expect(
        log.append({ topic: 'cas', type: 'm', data: 'lost race' }, { ifLastId: null }),
      ).rejects.toBeInstanceOf(AppendConflictError);
      // Another topic moving on does not matter; only this topic's newest event does.
      await log.append({ topic: 'elsewhere', type: 'm', data: 0 });
      const second = await log.append({ topic: 'cas', type: 'm', data: 2 }, { ifLastId: first.id });
      await expect(
        log.append({ topic: 'cas', type: 'm', data: 'stale' }, { ifLastId: first.id }),
      ).rejects.toBeInstanceOf(AppendConflictError);
      const { events } = await log.readAfter(['cas'], undefined);
      expect(events.map((e) => e.data)).toEqual([1, 2]);
      expect(ids(events)).toEqual(ids([first, second]));
    });

    it('compare-and-append: of concurrent appends on the same newest id exactly one wins', async () => {
      const log = await open();
      const base = await log.append({ topic: 'race', type: 'm', data: 'base' });
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          log.append({ topic: 'race', type: 'm', data: i }, { ifLastId: base.id }),
        ),
      );
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes)
        if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(AppendConflictError);
      expect((await log.readAfter(['race'], undefined)).events).toHaveLength(2);
    });

    it('keepAll: a topic appended with keepAll is not capped by retention', async () => {
      const log = await open(2);
      for (let i = 0; i < 5; i++)
        await log.append({ topic: 'kept', type: 'm', data: i }, { keepAll: true });
      for (let i = 0; i < 5; i++) await log.append({ topic: 'capped', type: 'm', data: i });
      const kept = await log.readAfter(['kept'], undefined);
      expect(kept.events.map((e) => e.data)).toEqual([0, 1, 2, 3, 4]);
      expect((await log.readAfter(['capped'], undefined)).events.map((e) => e.data)).toEqual([
        3, 4,
      ]);
      expect((await log.readAfter(['kept'], kept.events[0]!.id)).truncated).toBe(false);
    });

    it('deleteTopic drops the events; a reader from before learns it missed them', async () => {
      const log = await open();
      const a = await log.append({ topic: 'gone', type: 'm', data: 'a' });
      const b = await log.append({ topic: 'gone', type: 'm', data: 'b' });
      const other = await log.append({ topic: 'stays', type: 'm', data: 'c' });
      // Conditional: not while the newest event is another one than the caller saw.
      expect(await log.deleteTopic('gone', a.id)).toBe(false);
      expect((await log.readAfter(['gone'], undefined)).events).toHaveLength(2);
      expect(await log.deleteTopic('gone', b.id)).toBe(true);
      expect(await log.deleteTopic('never-existed')).toBe(true);
      expect(await log.readAfter(['gone'], undefined)).toEqual({
        events: [],
        truncated: false,
        unknown: false,
      });
      expect((await log.readAfter(['gone'], a.id)).truncated).toBe(true);
      // A reader that saw everything up to the deletion missed nothing.
      expect((await log.readAfter(['gone'], b.id)).truncated).toBe(false);
      expect((await log.readAfter(['stays'], undefined)).events.map((e) => e.data)).toEqual(['c']);
      // The topic starts over: empty for compare-and-append, and readable again.
      const again = await log.append({ topic: 'gone', type: 'm', data: 'new' }, { ifLastId: null });
      expect(ids((await log.readAfter(['gone'], b.id)).events)).toEqual([again.id]);
      expect(compareIds(again.id, other.id)).toBeGreaterThan(0);
    });

    it('announceOnly: live subscribers get the event without its data, readAfter with it', async () => {
      const log = await open();
      const live: LogEvent[] = [];
      const unsubscribe = log.subscribe(['big'], (e) => live.push(e));
      const appended = await log.append(
        { topic: 'big', type: 'chunk', data: { payload: 'x'.repeat(1000) } },
        { announceOnly: true },
      );
      const plain = await log.append({ topic: 'big', type: 'chunk', data: 'small' });
      await eventually(() => live.length === 2, 'both live events');
      expect(live[0]).toMatchObject({
        id: appended.id,
        topic: 'big',
        type: 'chunk',
        data: undefined,
      });
      expect(live[1]).toMatchObject({ id: plain.id, data: 'small' });
      expect(appended.data).toEqual({ payload: 'x'.repeat(1000) });
      const { events } = await log.readAfter(['big'], undefined);
      expect(events[0]!.data).toEqual({ payload: 'x'.repeat(1000) });
      unsubscribe();
    });

    it('is healthy while usable', async () => {
      const log = await open();
      expect(await log.isHealthy()).toBe(true);
    });
  });
}
