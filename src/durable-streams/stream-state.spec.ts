import type { LogEvent } from '../event-log/event-log';
import { advanceOffset, parseOffset, responseCursor, ZERO_OFFSET } from './offsets';
import {
  applyEvent,
  checkProducer,
  DS_EVENT,
  emptyView,
  isExpired,
  seqIsAfter,
  type StreamState,
  type TopicView,
} from './stream-state';

let nextId = 1;
function event(type: string, data: unknown, timestamp = 1_000): LogEvent {
  return { id: String(nextId++), topic: 'ds:t', type, data, timestamp };
}

function fold(...events: LogEvent[]): TopicView {
  const view = emptyView();
  for (const e of events) applyEvent(view, e);
  return view;
}

const b64 = (text: string) => ({ b64: Buffer.from(text).toString('base64') });
const create = (extra: Record<string, unknown> = {}) =>
  event(DS_EVENT.create, { contentType: 'text/plain', closed: false, ...extra });

describe('offsets', () => {
  it('are zero-padded so that string order is stream order', () => {
    const a = advanceOffset(ZERO_OFFSET, 9);
    const b = advanceOffset(a, 1);
    expect(a).toBe('0000000000000000_0000000000000009');
    expect(b > a && a > ZERO_OFFSET).toBe(true);
  });

  it('parse to their canonical form and refuse anything else', () => {
    expect(parseOffset('0_12')).toBe('0000000000000000_0000000000000012');
    for (const bad of ['', '-1', 'now', '0,1', '0 1', '1_', '_1', 'a_b', `${'9'.repeat(17)}_0`]) {
      expect(parseOffset(bad)).toBeUndefined();
    }
  });

  it('cursors: the 20 s interval number, strictly past a client cursor at or ahead of it', () => {
    const now = Date.UTC(2024, 9, 9) + 20_000 * 1000 + 5;
    expect(responseCursor(undefined, now)).toBe('1000');
    expect(responseCursor('999', now)).toBe('1000');
    for (let i = 0; i < 50; i++) {
      const next = Number(responseCursor('1000', now));
      expect(next).toBeGreaterThan(1000);
      expect(next).toBeLessThanOrEqual(1000 + 180);
    }
    expect(responseCursor('not-a-number', now)).toBe('1000');
  });
});

describe('the fold of a stream topic', () => {
  it('creates with the first bytes, appends move the tail by their size, in order', () => {
    const view = fold(
      create({ initial: b64('hello') }),
      event(DS_EVENT.append, { chunk: b64(' world'), seq: '001' }),
    );
    const state = view.state!;
    expect(state.messages.map((m) => m.bytes!.toString())).toEqual(['hello', ' world']);
    expect(state.messages.map((m) => m.offset)).toEqual([
      advanceOffset(ZERO_OFFSET, 5),
      advanceOffset(ZERO_OFFSET, 11),
    ]);
    expect(state.tail).toBe(advanceOffset(ZERO_OFFSET, 11));
    expect(state.lastSeq).toBe('001');
    expect(view.lastId).toBeDefined();
  });

  it('JSON messages move the offset by their serialized size', () => {
    const state = fold(
      event(DS_EVENT.create, {
        contentType: 'application/json',
        closed: false,
        initial: { json: [{ a: 1 }, 2] },
      }),
    ).state!;
    expect(state.messages[0]!.values).toEqual([{ a: 1 }, 2]);
    expect(state.tail).toBe(advanceOffset(ZERO_OFFSET, '{"a":1}'.length + 1 + '2'.length + 1));
  });

  it('close, producers, touch and fork references', () => {
    const view = fold(
      create({ ttlSeconds: 10 }),
      event(DS_EVENT.append, { chunk: b64('x'), producer: { id: 'p', epoch: 0, seq: 0 } }, 2_000),
      event(DS_EVENT.touch, {}, 3_000),
      event(DS_EVENT.ref, { path: 'fork' }),
      event(DS_EVENT.close, { producer: { id: 'p', epoch: 0, seq: 1 } }, 2_500),
    );
    const state = view.state!;
    expect(state.closed).toBe(true);
    expect(state.closedBy).toEqual({ id: 'p', epoch: 0, seq: 1 });
    expect(state.producers.get('p')).toEqual({ epoch: 0, lastSeq: 1 });
    expect(state.forks).toEqual(new Set(['fork']));
    expect(state.lastAccessAt).toBe(3_000);
    applyEvent(view, event(DS_EVENT.unref, { path: 'fork' }));
    expect(view.state!.forks.size).toBe(0);
  });

  it('a soft delete keeps the data for forks; a delete removes the stream; a create starts over', () => {
    const view = fold(create({ initial: b64('old') }), event(DS_EVENT.delete, { soft: true }));
    expect(view.state!.softDeleted).toBe(true);
    applyEvent(view, event(DS_EVENT.delete, { soft: false }));
    expect(view.state).toBeUndefined();
    applyEvent(view, create({ initial: b64('new') }));
    expect(view.state!.messages.map((m) => m.bytes!.toString())).toEqual(['new']);
    expect(view.historyLost).toBe(false);
  });

  it('a fork starts at its fork offset, after its sub-offset prefix', () => {
    const forkOffset = advanceOffset(ZERO_OFFSET, 7);
    const state = fold(
      create({ forkedFrom: 'src', forkOffset, prefix: b64('ab'), initial: b64('c') }),
    ).state!;
    expect(state.forkOffset).toBe(forkOffset);
    expect(state.messages.map((m) => m.offset)).toEqual([
      advanceOffset(forkOffset, 2),
      advanceOffset(forkOffset, 3),
    ]);
  });

  it('marks a topic whose creation event is gone (evicted) as having lost its history', () => {
    const view = fold(event(DS_EVENT.append, { chunk: b64('orphan') }));
    expect(view.state).toBeUndefined();
    expect(view.historyLost).toBe(true);
    // Negative control: a deleted stream's leftover unref is not a loss.
    expect(fold(event(DS_EVENT.unref, { path: 'x' })).historyLost).toBe(false);
  });
});

describe('expiry', () => {
  const base = (): StreamState => fold(create({ ttlSeconds: 2 })).state!;

  it('a Stream-TTL counts from the last access; a Stream-Expires-At is absolute', () => {
    const state = base();
    expect(isExpired(state, 2_999)).toBe(false);
    expect(isExpired(state, 3_000)).toBe(true);
    const absolute = fold(create({ expiresAt: '1970-01-01T00:00:05Z' })).state!;
    expect(isExpired(absolute, 4_999)).toBe(false);
    expect(isExpired(absolute, 5_000)).toBe(true);
    expect(isExpired(fold(create()).state!, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe('producer rules', () => {
  const state = fold(
    create(),
    event(DS_EVENT.append, { chunk: b64('a'), producer: { id: 'p', epoch: 1, seq: 0 } }),
    event(DS_EVENT.append, { chunk: b64('b'), producer: { id: 'p', epoch: 1, seq: 1 } }),
  ).state!;

  it.each([
    [{ id: 'new', epoch: 0, seq: 0 }, { status: 'accepted' }],
    [
      { id: 'new', epoch: 0, seq: 3 },
      { status: 'sequence_gap', expected: 0, received: 3 },
    ],
    [{ id: 'p', epoch: 1, seq: 2 }, { status: 'accepted' }],
    [
      { id: 'p', epoch: 1, seq: 0 },
      { status: 'duplicate', lastSeq: 1 },
    ],
    [
      { id: 'p', epoch: 1, seq: 5 },
      { status: 'sequence_gap', expected: 2, received: 5 },
    ],
    [
      { id: 'p', epoch: 0, seq: 9 },
      { status: 'stale_epoch', currentEpoch: 1 },
    ],
    [{ id: 'p', epoch: 2, seq: 0 }, { status: 'accepted' }],
    [{ id: 'p', epoch: 2, seq: 1 }, { status: 'invalid_epoch_seq' }],
  ])('%j → %j', (producer, verdict) => {
    expect(checkProducer(state, producer)).toEqual(verdict);
  });

  it('Stream-Seq compares as bytes', () => {
    expect(seqIsAfter('10', '2')).toBe(false);
    expect(seqIsAfter('10', '09')).toBe(true);
    expect(seqIsAfter('B', 'a')).toBe(false);
    expect(seqIsAfter('001', '001')).toBe(false);
    expect(seqIsAfter('anything', undefined)).toBe(true);
  });
});
