import { firstValueFrom, Subject, toArray } from 'rxjs';
import { loadConfig } from '../config/app-config';
import { DetachGrace } from './detach-grace';
import { InMemoryReaderPresence } from './reader-presence';

const GRACE_MS = 1000;

/** Timers under test control; promises and I/O run as usual. */
beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

/** The real in-memory presence, whose store cannot answer while `down`. */
class UnreachablePresence extends InMemoryReaderPresence {
  down = true;

  override graceLeftMs(generationId: string): Promise<number> {
    return this.down ? Promise.reject(new Error('store down')) : super.graceLeftMs(generationId);
  }
}

function setUp(presence = new InMemoryReaderPresence(GRACE_MS)) {
  const grace = new DetachGrace(presence, loadConfig({ AI_DETACH_GRACE_MS: String(GRACE_MS) }));
  return { presence, grace };
}

describe(DetachGrace.name, () => {
  it('abandons a generation nobody ever reads once the grace has passed, not before', async () => {
    const { grace, presence } = setUp();
    const abandoned = jest.fn();
    grace.start('g', abandoned);
    await jest.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(abandoned).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(abandoned).toHaveBeenCalledTimes(1);
    grace.end('g');
    await presence.close();
  });

  it('keeps a generation while a reader reads, and counts the grace from when the last one left', async () => {
    const { grace, presence } = setUp();
    const abandoned = jest.fn();
    grace.start('g', abandoned);
    const live = new Subject<string>();
    const read = firstValueFrom(grace.attended('g', live).pipe(toArray()));
    expect(presence.localReaders('g')).toBe(1);

    await jest.advanceTimersByTimeAsync(5 * GRACE_MS);
    expect(abandoned).not.toHaveBeenCalled();

    live.next('a');
    live.complete(); // the reader leaves
    expect(await read).toEqual(['a']);
    expect(presence.localReaders('g')).toBe(0);
    await jest.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(abandoned).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(GRACE_MS);
    expect(abandoned).toHaveBeenCalledTimes(1);
    grace.end('g');
    await presence.close();
  });

  it('after `end` nothing fires and presence forgets the generation', async () => {
    const { grace, presence } = setUp();
    const abandoned = jest.fn();
    const kept = jest.fn();
    grace.start('g', abandoned);
    grace.start('other', kept);
    const reading = grace.attended('g', new Subject<never>()).subscribe();
    expect(presence.localReaders('g')).toBe(1);
    grace.end('g');
    expect(presence.localReaders('g')).toBe(0);
    await jest.advanceTimersByTimeAsync(10 * GRACE_MS);
    expect(abandoned).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1); // negative control: the other generation's grace ran
    reading.unsubscribe();
    grace.end('other');
    expect(jest.getTimerCount()).toBe(0);
    await presence.close();
  });

  it('keeps the generation for another grace while presence cannot answer', async () => {
    const presence = new UnreachablePresence(GRACE_MS);
    const { grace } = setUp(presence);
    const abandoned = jest.fn();
    grace.start('g', abandoned);
    await jest.advanceTimersByTimeAsync(3 * GRACE_MS);
    expect(abandoned).not.toHaveBeenCalled();
    presence.down = false;
    await jest.advanceTimersByTimeAsync(GRACE_MS);
    expect(abandoned).toHaveBeenCalledTimes(1);
    grace.end('g');
    await presence.close();
  });
});
