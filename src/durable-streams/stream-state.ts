import type { LogEvent } from '../event-log/event-log';
import { advanceOffset, ZERO_OFFSET } from './offsets';

/**
 * A durable stream is one topic of the event log (`ds:<path>`), and its state is the fold of that
 * topic's events: nothing else is stored anywhere, so every instance derives the same state, offsets
 * included, from the same events. The events, by type:
 *
 * - `ds.create`: the stream's configuration, with its first bytes (and a fork's prefix);
 * - `ds.append`: bytes (or JSON messages), with the writer's Stream-Seq and producer fields;
 * - `ds.close`: no more appends (Stream-Closed), optionally by a producer;
 * - `ds.touch`: a read renewed a Stream-TTL (sliding expiry);
 * - `ds.ref` / `ds.unref`: a fork of this stream was created / deleted;
 * - `ds.delete`: the stream is gone (`soft`: it still has forks, which keep reading its data).
 */
export const DS_EVENT = {
  create: 'ds.create',
  append: 'ds.append',
  close: 'ds.close',
  touch: 'ds.touch',
  ref: 'ds.ref',
  unref: 'ds.unref',
  delete: 'ds.delete',
} as const;

/** Bytes as base64, or the messages of a JSON stream (one level of a posted array flattened). */
export type Chunk = { b64: string } | { json: unknown[] };

export interface ProducerRef {
  id: string;
  epoch: number;
  seq: number;
}

export interface CreateEventData {
  contentType: string;
  ttlSeconds?: number;
  expiresAt?: string;
  closed: boolean;
  forkedFrom?: string;
  forkOffset?: string;
  forkSubOffset?: number;
  /** A fork at a sub-offset: the part of the source's next message it inherits. */
  prefix?: Chunk;
  initial?: Chunk;
}

export interface AppendEventData {
  chunk: Chunk;
  seq?: string;
  producer?: ProducerRef;
  close?: boolean;
}

export interface CloseEventData {
  producer?: ProducerRef;
}

export interface DeleteEventData {
  soft: boolean;
}

export interface RefEventData {
  path: string;
}

/** One append's worth of data, at the offset right after it. */
export interface StreamMessage {
  readonly offset: string;
  readonly bytes?: Buffer;
  readonly values?: readonly unknown[];
}

export interface ProducerState {
  epoch: number;
  lastSeq: number;
}

export interface StreamState {
  contentType: string;
  ttlSeconds: number | undefined;
  expiresAt: string | undefined;
  expiresAtMs: number | undefined;
  /** Last write or read (the newest event timestamp, whichever instance wrote it): where a Stream-TTL counts from. */
  lastAccessAt: number;
  closed: boolean;
  closedBy: ProducerRef | undefined;
  lastSeq: string | undefined;
  producers: Map<string, ProducerState>;
  forkedFrom: string | undefined;
  forkOffset: string | undefined;
  forkSubOffset: number | undefined;
  /** This stream's own messages (a fork's inherited ones stay in its source). */
  messages: StreamMessage[];
  /** Bytes those messages hold (their offsets' advance): what caching this fold costs. */
  heldBytes: number;
  tail: string;
  /** Paths of the live forks of this stream. */
  forks: Set<string>;
  /** Deleted while it still had forks: gone for clients (410), kept for its forks. */
  softDeleted: boolean;
}

/** The fold of one topic: the stream (undefined: none, or deleted) and the newest event folded. */
export interface TopicView {
  state: StreamState | undefined;
  lastId: string | undefined;
  /** The topic lost its first events (the store's budget evicted them): the stream is not whole. */
  historyLost: boolean;
}

export function isJsonContentType(contentType: string): boolean {
  return normalizeContentType(contentType) === 'application/json';
}

/** `Text/Plain; charset=utf-8` → `text/plain`: how content types are compared. */
export function normalizeContentType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** How many bytes a chunk moves the offset: its bytes, or its JSON messages serialized. */
export function chunkSize(chunk: Chunk): number {
  if ('b64' in chunk) return Buffer.byteLength(chunk.b64, 'base64');
  return chunk.json.reduce<number>(
    (sum, value) => sum + Buffer.byteLength(JSON.stringify(value)) + 1,
    0,
  );
}

function toMessage(chunk: Chunk, offset: string): StreamMessage {
  return 'b64' in chunk
    ? { offset, bytes: Buffer.from(chunk.b64, 'base64') }
    : { offset, values: chunk.json };
}

function pushChunk(state: StreamState, chunk: Chunk | undefined): void {
  if (!chunk) return;
  const size = chunkSize(chunk);
  if (size === 0) return;
  state.tail = advanceOffset(state.tail, size);
  state.messages.push(toMessage(chunk, state.tail));
  state.heldBytes += size;
}

export function emptyView(): TopicView {
  return { state: undefined, lastId: undefined, historyLost: false };
}

/** Folds one more event of the topic into `view` (in place). */
export function applyEvent(view: TopicView, event: LogEvent): void {
  view.lastId = event.id;
  if (event.type === DS_EVENT.create) {
    const data = event.data as CreateEventData;
    const start = data.forkOffset ?? ZERO_OFFSET;
    const state: StreamState = {
      contentType: data.contentType,
      ttlSeconds: data.ttlSeconds,
      expiresAt: data.expiresAt,
      expiresAtMs: data.expiresAt === undefined ? undefined : Date.parse(data.expiresAt),
      lastAccessAt: event.timestamp,
      closed: data.closed,
      closedBy: undefined,
      lastSeq: undefined,
      producers: new Map(),
      forkedFrom: data.forkedFrom,
      forkOffset: data.forkedFrom === undefined ? undefined : start,
      forkSubOffset: data.forkSubOffset,
      messages: [],
      heldBytes: 0,
      tail: start,
      forks: new Set(),
      softDeleted: false,
    };
    pushChunk(state, data.prefix);
    pushChunk(state, data.initial);
    view.state = state;
    view.historyLost = false;
    return;
  }
  const state = view.state;
  if (!state) {
    // An event of a stream whose creation this topic no longer holds (deleted streams leave none).
    if (event.type !== DS_EVENT.delete && event.type !== DS_EVENT.unref) view.historyLost = true;
    return;
  }
  switch (event.type) {
    case DS_EVENT.append: {
      const data = event.data as AppendEventData;
      pushChunk(state, data.chunk);
      if (data.seq !== undefined) state.lastSeq = data.seq;
      if (data.producer) commitProducer(state, data.producer);
      if (data.close) {
        state.closed = true;
        state.closedBy = data.producer;
      }
      state.lastAccessAt = Math.max(state.lastAccessAt, event.timestamp);
      return;
    }
    case DS_EVENT.close: {
      const data = event.data as CloseEventData;
      if (data.producer) commitProducer(state, data.producer);
      state.closed = true;
      state.closedBy = data.producer;
      state.lastAccessAt = Math.max(state.lastAccessAt, event.timestamp);
      return;
    }
    case DS_EVENT.touch:
      state.lastAccessAt = Math.max(state.lastAccessAt, event.timestamp);
      return;
    case DS_EVENT.ref:
      state.forks.add((event.data as RefEventData).path);
      return;
    case DS_EVENT.unref:
      state.forks.delete((event.data as RefEventData).path);
      return;
    case DS_EVENT.delete:
      if ((event.data as DeleteEventData).soft) state.softDeleted = true;
      else view.state = undefined;
      return;
    default:
      return;
  }
}

function commitProducer(state: StreamState, producer: ProducerRef): void {
  state.producers.set(producer.id, { epoch: producer.epoch, lastSeq: producer.seq });
}

/** Past its Stream-Expires-At, or idle for longer than its Stream-TTL. */
export function isExpired(state: StreamState, now: number): boolean {
  if (state.expiresAtMs !== undefined && now >= state.expiresAtMs) return true;
  return state.ttlSeconds !== undefined && now >= state.lastAccessAt + state.ttlSeconds * 1000;
}

export type ProducerVerdict =
  | { status: 'accepted' }
  | { status: 'duplicate'; lastSeq: number }
  | { status: 'stale_epoch'; currentEpoch: number }
  | { status: 'invalid_epoch_seq' }
  | { status: 'sequence_gap'; expected: number; received: number };

/** The idempotent producer rules (the protocol's section 5.2.1), against the folded state. */
export function checkProducer(state: StreamState, producer: ProducerRef): ProducerVerdict {
  const known = state.producers.get(producer.id);
  if (!known) {
    return producer.seq === 0
      ? { status: 'accepted' }
      : { status: 'sequence_gap', expected: 0, received: producer.seq };
  }
  if (producer.epoch < known.epoch) return { status: 'stale_epoch', currentEpoch: known.epoch };
  if (producer.epoch > known.epoch) {
    return producer.seq === 0 ? { status: 'accepted' } : { status: 'invalid_epoch_seq' };
  }
  if (producer.seq <= known.lastSeq) return { status: 'duplicate', lastSeq: known.lastSeq };
  if (producer.seq === known.lastSeq + 1) return { status: 'accepted' };
  return { status: 'sequence_gap', expected: known.lastSeq + 1, received: producer.seq };
}

/** Stream-Seq values compare as bytes (`"10" < "2"`, `"B" < "a"`). */
export function seqIsAfter(seq: string, last: string | undefined): boolean {
  return last === undefined || Buffer.compare(Buffer.from(seq), Buffer.from(last)) > 0;
}
