import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { AppendConflictError, EVENT_LOG, EventLog, Unsubscribe } from '../event-log/event-log';
import { jsonDepth, JsonTooDeepError } from '../common/json-depth';
import { durableStreamTopic } from '../common/topic-names';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import { advanceOffset, ZERO_OFFSET } from './offsets';
import {
  AppendEventData,
  applyEvent,
  checkProducer,
  Chunk,
  chunkSize,
  CreateEventData,
  DS_EVENT,
  emptyView,
  isExpired,
  isJsonContentType,
  normalizeContentType,
  ProducerRef,
  ProducerVerdict,
  seqIsAfter,
  StreamMessage,
  StreamState,
  TopicView,
} from './stream-state';

/** A protocol answer other than success, with the protocol headers it carries. */
export class DurableStreamError extends HttpException {
  constructor(
    status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message, status);
  }
}

export interface CreateRequest {
  contentType: string | undefined;
  ttlSeconds: number | undefined;
  expiresAt: string | undefined;
  closed: boolean;
  forkedFrom: string | undefined;
  forkOffset: string | undefined;
  forkSubOffset: number | undefined;
}

export interface CreateResult {
  created: boolean;
  contentType: string;
  tail: string;
  closed: boolean;
}

export interface AppendRequest {
  contentType: string | undefined;
  seq: string | undefined;
  producer: ProducerRef | undefined;
  close: boolean;
}

export interface AppendResult {
  status: 200 | 204;
  headers: Record<string, string>;
}

export interface ReadResult {
  state: StreamState;
  messages: StreamMessage[];
  /** The offset to read from next. */
  next: string;
  /** The reader is at the tail of a closed stream. */
  closedAtTail: boolean;
}

/**
 * Views kept in memory per instance (each refreshed incrementally from the log on every request), at
 * most this many, and holding at most STORE_MAX_BYTES of messages in all: a view is a copy of its
 * topic, and may outlive the events the store evicted, so the cache needs its own byte budget.
 */
const MAX_CACHED_VIEWS = 1000;
/** A Stream-TTL is renewed by reads at most this often (a write renews it anyway). */
const MAX_TOUCH_INTERVAL_MS = 1000;
const MAX_CONFLICT_RETRIES = 1000;

/**
 * Durable Streams on Rivulet's one event log. Each stream is the topic `ds:<path>`; its state is the
 * fold of the topic's events (see stream-state.ts), refreshed from the log on every request so a
 * write on one instance is read on the next request to any other. Every write is a compare-and-append
 * on the stream's newest event: validation (create-or-409, Stream-Seq, producer epochs and sequences,
 * closure) and the write are one step, serialized per stream across instances.
 */
@Injectable()
export class DurableStreamsService {
  private readonly views = new Map<string, TopicView>();
  private readonly refreshing = new Map<string, Promise<TopicView>>();
  private readonly queued = new Map<string, Promise<TopicView>>();
  private readonly writing = new Map<string, Promise<unknown>>();

  /** Bytes of messages the cached views hold (StreamState.heldBytes), at most maxCachedBytes. */
  private cachedBytes = 0;
  private readonly maxCachedBytes: number;
  private readonly maxJsonDepth: number;

  constructor(
    @Inject(EVENT_LOG) private readonly log: EventLog,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.maxCachedBytes = config.store.maxBytes;
    this.maxJsonDepth = config.http.maxJsonDepth;
  }

  topicOf(path: string): string {
    return durableStreamTopic(path);
  }

  /** The stream as it is now, or a 404 / 410. Expired streams are gone (410 while forks still read them). */
  async current(path: string): Promise<StreamState> {
    const view = await this.view(path);
    return this.alive(path, view);
  }

  async create(path: string, request: CreateRequest, body: Buffer): Promise<CreateResult> {
    let contentType = request.contentType;
    let ttlSeconds = request.ttlSeconds;
    let expiresAt = request.expiresAt;
    let forkOffset: string | undefined;
    let prefix: Chunk | undefined;
    if (request.forkedFrom !== undefined) {
      const source = await this.forkSource(request.forkedFrom);
      if (
        contentType !== undefined &&
        normalizeContentType(contentType) !== normalizeContentType(source.contentType)
      ) {
        throw new DurableStreamError(409, 'Content-Type differs from the source stream');
      }
      contentType ??= source.contentType;
      forkOffset = request.forkOffset ?? source.tail;
      if (forkOffset < ZERO_OFFSET || forkOffset > source.tail) {
        throw new DurableStreamError(400, 'Stream-Fork-Offset is beyond the source stream');
      }
      if (request.forkSubOffset !== undefined && request.forkSubOffset > 0) {
        prefix = await this.subOffsetPrefix(source, forkOffset, request.forkSubOffset);
      }
      if (ttlSeconds === undefined && expiresAt === undefined) {
        ttlSeconds = source.ttlSeconds;
        expiresAt = ttlSeconds === undefined ? source.expiresAt : undefined;
      }
    }
    contentType ??= 'application/octet-stream';
    const initial =
      body.length > 0 ? toChunk(contentType, body, true, this.maxJsonDepth) : undefined;
    const data: CreateEventData = {
      contentType,
      ttlSeconds,
      expiresAt,
      closed: request.closed,
      forkedFrom: request.forkedFrom,
      forkOffset,
      forkSubOffset: prefix === undefined ? undefined : request.forkSubOffset,
      prefix,
      initial,
    };
    const matches = (state: StreamState) =>
      normalizeContentType(state.contentType) === normalizeContentType(contentType) &&
      state.ttlSeconds === ttlSeconds &&
      state.expiresAt === expiresAt &&
      state.closed === request.closed &&
      state.forkedFrom === request.forkedFrom &&
      (request.forkOffset === undefined || state.forkOffset === request.forkOffset) &&
      (state.forkSubOffset ?? 0) === (request.forkSubOffset ?? 0);

    // A fork holds a reference on its source first, so the source cannot go away underneath it.
    if (request.forkedFrom !== undefined) await this.addFork(request.forkedFrom, path);
    let created = false;
    let replacedForkOf: string | undefined;
    try {
      const result = await this.write(path, (view) => {
        const existing = view.state;
        replacedForkOf = existing?.forkedFrom;
        if (existing && !(isExpired(existing, Date.now()) && existing.forks.size === 0)) {
          if (existing.softDeleted || isExpired(existing, Date.now())) {
            throw new DurableStreamError(
              409,
              'This stream was deleted but still has forks; the path cannot be reused until they are gone',
            );
          }
          if (!matches(existing)) {
            throw new DurableStreamError(409, 'The stream exists with another configuration');
          }
          return { result: describe(existing, false) };
        }
        return {
          event: { type: DS_EVENT.create, data },
          result: undefined,
        };
      });
      if (result) return result;
      created = true;
      // Created over an expired fork: that fork's reference on its source goes with it.
      if (replacedForkOf !== undefined && replacedForkOf !== request.forkedFrom)
        await this.removeFork(replacedForkOf, path);
      return describe(await this.current(path), true);
    } finally {
      // An existing fork already held its reference: drop the one taken for this request.
      if (request.forkedFrom !== undefined && !created) {
        const view = await this.view(path);
        if (view.state?.forkedFrom !== request.forkedFrom)
          await this.removeFork(request.forkedFrom, path);
      }
    }
  }

  async append(path: string, request: AppendRequest, body: Buffer): Promise<AppendResult> {
    return this.write(path, (view) => {
      const state = this.alive(path, view);
      const { producer } = request;
      const producerHeaders = (seq: number): Record<string, string> =>
        producer ? { 'Producer-Epoch': String(producer.epoch), 'Producer-Seq': String(seq) } : {};
      /** 204 for a stream that is (now) closed, acknowledging producer sequence `seq`. */
      const closedResult = (seq: number): AppendResult => ({
        status: 204,
        headers: {
          'Stream-Next-Offset': state.tail,
          'Stream-Closed': 'true',
          ...producerHeaders(seq),
        },
      });
      const closedAnswer = (): never => {
        throw new DurableStreamError(409, 'The stream is closed', {
          'Stream-Closed': 'true',
          'Stream-Next-Offset': state.tail,
        });
      };
      const sameCloser =
        producer !== undefined &&
        state.closedBy !== undefined &&
        state.closedBy.id === producer.id &&
        state.closedBy.epoch === producer.epoch &&
        state.closedBy.seq === producer.seq;

      if (body.length === 0) {
        if (!request.close) throw new DurableStreamError(400, 'An append needs a non-empty body');
        // Close only (its Content-Type does not matter).
        if (state.closed) {
          if (producer && !sameCloser) closedAnswer();
          return { result: closedResult(producer?.seq ?? 0) };
        }
        if (producer) {
          const verdict = checkProducer(state, producer);
          if (verdict.status === 'duplicate') {
            return { result: closedResult(verdict.lastSeq) };
          }
          this.refuseProducer(verdict);
        }
        return {
          event: { type: DS_EVENT.close, data: { producer } },
          result: closedResult(producer?.seq ?? 0),
        };
      }
      if (request.contentType === undefined) {
        throw new DurableStreamError(400, 'Content-Type is required on an append');
      }
      if (state.closed) {
        if (sameCloser) {
          return { result: closedResult(producer.seq) };
        }
        closedAnswer();
      }
      if (normalizeContentType(request.contentType) !== normalizeContentType(state.contentType)) {
        throw new DurableStreamError(
          409,
          `Content-Type ${request.contentType} does not match the stream's ${state.contentType}`,
        );
      }
      if (producer) {
        const verdict = checkProducer(state, producer);
        if (verdict.status === 'duplicate') {
          const headers = producerHeaders(verdict.lastSeq);
          if (state.closed) headers['Stream-Closed'] = 'true';
          return { result: { status: 204, headers } };
        }
        this.refuseProducer(verdict);
      }
      if (request.seq !== undefined && !seqIsAfter(request.seq, state.lastSeq)) {
        throw new DurableStreamError(
          409,
          `Stream-Seq ${request.seq} is not after the last one (${state.lastSeq ?? ''})`,
        );
      }
      const chunk = toChunk(state.contentType, body, false, this.maxJsonDepth);
      const data: AppendEventData = {
        chunk,
        seq: request.seq,
        producer,
        close: request.close || undefined,
      };
      const headers: Record<string, string> = {
        'Stream-Next-Offset': advanceOffset(state.tail, chunkSize(chunk)),
        ...producerHeaders(producer?.seq ?? 0),
      };
      if (request.close) headers['Stream-Closed'] = 'true';
      return {
        event: { type: DS_EVENT.append, data },
        result: { status: producer ? 200 : 204, headers },
      };
    });
  }

  async delete(path: string): Promise<void> {
    let deletedWith: string | undefined;
    let hard = false;
    let forkedFrom: string | undefined;
    await this.write(
      path,
      (view) => {
        const state = this.alive(path, view);
        hard = state.forks.size === 0;
        forkedFrom = state.forkedFrom;
        return { event: { type: DS_EVENT.delete, data: { soft: !hard } }, result: undefined };
      },
      (id) => (deletedWith = id),
    );
    if (!hard || deletedWith === undefined) return;
    await this.log.deleteTopic(this.topicOf(path), deletedWith);
    if (forkedFrom !== undefined) await this.removeFork(forkedFrom, path);
  }

  /** The messages after `after` (undefined: from the beginning), a fork's inherited ones first. */
  async read(path: string, after: string | undefined): Promise<ReadResult> {
    const state = await this.current(path);
    const messages = await this.collect(state, after);
    const next = messages.length > 0 ? messages[messages.length - 1]!.offset : state.tail;
    return { state, messages, next, closedAtTail: state.closed && next === state.tail };
  }

  /** Renews a Stream-TTL on a read (at most once a second, and not for a stream without one). */
  async touch(path: string, state: StreamState): Promise<void> {
    if (state.ttlSeconds === undefined) return;
    const interval = Math.min(MAX_TOUCH_INTERVAL_MS, state.ttlSeconds * 100);
    if (Date.now() - state.lastAccessAt < interval) return;
    await this.log.append(
      { topic: this.topicOf(path), type: DS_EVENT.touch, data: {} },
      { keepAll: true, announceOnly: true },
    );
  }

  /** Calls `listener` on every event of the stream's topic, from any instance (live reads). */
  watch(path: string, listener: () => void): Unsubscribe {
    return this.log.subscribe([this.topicOf(path)], listener);
  }

  /**
   * The current fold of the topic: cached per instance, brought up to date from the log. At most one
   * refresh per topic runs at a time, and callers that arrive while one runs share the next one (it
   * starts after they asked, so it sees every write made before): a thousand live readers woken by
   * one append cost two reads of the log, not a thousand.
   */
  view(path: string): Promise<TopicView> {
    const topic = this.topicOf(path);
    const queued = this.queued.get(topic);
    if (queued) return queued;
    const running = this.refreshing.get(topic);
    let next: Promise<TopicView>;
    if (running) {
      const start = () => {
        this.queued.delete(topic);
        return this.refresh(topic);
      };
      next = running.then(start, start);
      this.queued.set(topic, next);
    } else {
      next = this.refresh(topic);
    }
    this.refreshing.set(topic, next);
    const cleanup = () => {
      if (this.refreshing.get(topic) === next) this.refreshing.delete(topic);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private async refresh(topic: string): Promise<TopicView> {
    const cached = this.views.get(topic);
    if (cached) {
      const update = await this.log.readAfter([topic], cached.lastId);
      if (!update.truncated && !update.unknown && this.views.get(topic) === cached) {
        this.uncache(topic);
        for (const event of update.events) applyEvent(cached, event);
        this.cache(topic, cached);
        return cached;
      }
    }
    const whole = await this.log.readAfter([topic], undefined);
    const view = emptyView();
    for (const event of whole.events) applyEvent(view, event);
    this.uncache(topic);
    this.cache(topic, view);
    return view;
  }

  /** Caches a view as the newest; the oldest go past MAX_CACHED_VIEWS or the byte budget. */
  private cache(topic: string, view: TopicView): void {
    this.views.set(topic, view);
    this.cachedBytes += view.state?.heldBytes ?? 0;
    // The view just cached stays, however big: it is in use (and in the store) now.
    while (
      this.views.size > 1 &&
      (this.views.size > MAX_CACHED_VIEWS || this.cachedBytes > this.maxCachedBytes)
    ) {
      const oldest = this.views.keys().next().value;
      if (oldest === undefined) break;
      this.uncache(oldest);
    }
  }

  private uncache(topic: string): void {
    const view = this.views.get(topic);
    if (!view) return;
    this.cachedBytes -= view.state?.heldBytes ?? 0;
    this.views.delete(topic);
  }

  private forget(path: string): void {
    this.uncache(this.topicOf(path));
  }

  /**
   * One write to the stream: `decide` looks at the current fold and returns the event to append (or
   * none) and the answer; the event is appended only if the topic has not moved on meanwhile, else
   * the fold is refreshed and `decide` runs again. Writes of one instance to one stream queue up.
   */
  private write<R>(
    path: string,
    decide: (view: TopicView) => { event?: { type: string; data: unknown }; result: R },
    onAppended?: (id: string) => void,
  ): Promise<R> {
    const topic = this.topicOf(path);
    const run = async (): Promise<R> => {
      for (let attempt = 0; ; attempt++) {
        const view = await this.view(path);
        const seen = view.lastId;
        const { event, result } = decide(view);
        if (!event) return result;
        try {
          const appended = await this.log.append(
            { topic, type: event.type, data: event.data },
            { ifLastId: seen ?? null, keepAll: true, announceOnly: true },
          );
          onAppended?.(appended.id);
          return result;
        } catch (error) {
          if (!(error instanceof AppendConflictError) || attempt >= MAX_CONFLICT_RETRIES)
            throw error;
          // Another instance wrote first: refresh and decide again. If the fold did not move on,
          // the topic was deleted underneath it: rebuild it from scratch.
          const again = await this.view(path);
          if (again.lastId === seen) this.forget(path);
        }
      }
    };
    const previous = this.writing.get(topic) ?? Promise.resolve();
    const next = previous.then(run, run);
    this.writing.set(topic, next);
    const cleanup = () => {
      if (this.writing.get(topic) === next) this.writing.delete(topic);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private alive(path: string, view: TopicView): StreamState {
    if (view.historyLost) {
      throw new DurableStreamError(410, `Stream ${path} lost its history to the store's budget`);
    }
    const state = view.state;
    if (!state) throw new DurableStreamError(404, `Stream ${path} does not exist`);
    const expired = isExpired(state, Date.now());
    if (state.softDeleted || (expired && state.forks.size > 0)) {
      throw new DurableStreamError(410, `Stream ${path} is gone`);
    }
    if (expired) throw new DurableStreamError(404, `Stream ${path} does not exist`);
    return state;
  }

  private async forkSource(sourcePath: string): Promise<StreamState> {
    const view = await this.view(sourcePath);
    const state = view.state;
    if (!state || view.historyLost || (isExpired(state, Date.now()) && state.forks.size === 0)) {
      throw new DurableStreamError(404, `Source stream ${sourcePath} does not exist`);
    }
    if (state.softDeleted || isExpired(state, Date.now())) {
      throw new DurableStreamError(409, `Source stream ${sourcePath} was deleted`);
    }
    return state;
  }

  private async subOffsetPrefix(
    source: StreamState,
    forkOffset: string,
    subOffset: number,
  ): Promise<Chunk> {
    const next = (await this.collect(source, forkOffset))[0];
    if (!next)
      throw new DurableStreamError(400, 'Stream-Fork-Sub-Offset: no data after the fork offset');
    if (next.values) {
      if (subOffset > next.values.length) {
        throw new DurableStreamError(400, 'Stream-Fork-Sub-Offset is beyond the next message');
      }
      return { json: next.values.slice(0, subOffset) };
    }
    const bytes = next.bytes ?? Buffer.alloc(0);
    if (subOffset > bytes.length) {
      throw new DurableStreamError(400, 'Stream-Fork-Sub-Offset is beyond the next message');
    }
    return { b64: bytes.subarray(0, subOffset).toString('base64') };
  }

  private async addFork(sourcePath: string, forkPath: string): Promise<void> {
    await this.write(sourcePath, (view) => {
      const state = view.state;
      if (!state || state.softDeleted || isExpired(state, Date.now())) {
        throw new DurableStreamError(404, `Source stream ${sourcePath} does not exist`);
      }
      if (state.forks.has(forkPath)) return { result: undefined };
      return { event: { type: DS_EVENT.ref, data: { path: forkPath } }, result: undefined };
    });
  }

  /** Drops a fork's reference; a deleted (or expired) source with no fork left goes for good. */
  private async removeFork(sourcePath: string, forkPath: string): Promise<void> {
    let finalDelete = false;
    let sourceOfSource: string | undefined;
    let deletedWith: string | undefined;
    await this.write(sourcePath, (view) => {
      const state = view.state;
      if (!state) return { result: undefined };
      if (state.forks.has(forkPath)) {
        const remaining = state.forks.size - 1;
        finalDelete = remaining === 0 && (state.softDeleted || isExpired(state, Date.now()));
        sourceOfSource = state.forkedFrom;
        return { event: { type: DS_EVENT.unref, data: { path: forkPath } }, result: undefined };
      }
      return { result: undefined };
    });
    if (!finalDelete) return;
    await this.write(
      sourcePath,
      (view) => {
        const state = view.state;
        if (!state || state.forks.size > 0) {
          finalDelete = false;
          return { result: undefined };
        }
        return { event: { type: DS_EVENT.delete, data: { soft: false } }, result: undefined };
      },
      (id) => (deletedWith = id),
    );
    if (!finalDelete || deletedWith === undefined) return;
    await this.log.deleteTopic(this.topicOf(sourcePath), deletedWith);
    if (sourceOfSource !== undefined) await this.removeFork(sourceOfSource, sourcePath);
  }

  /** Throws the answer to a producer append that cannot be accepted (a duplicate is answered before). */
  private refuseProducer(verdict: ProducerVerdict): void {
    switch (verdict.status) {
      case 'accepted':
      case 'duplicate':
        return;
      case 'stale_epoch':
        throw new DurableStreamError(403, 'Stale producer epoch', {
          'Producer-Epoch': String(verdict.currentEpoch),
        });
      case 'invalid_epoch_seq':
        throw new DurableStreamError(400, 'A new producer epoch must start at Producer-Seq 0');
      case 'sequence_gap':
        throw new DurableStreamError(409, 'Producer sequence gap', {
          'Producer-Expected-Seq': String(verdict.expected),
          'Producer-Received-Seq': String(verdict.received),
        });
    }
  }

  private async collect(state: StreamState, after: string | undefined): Promise<StreamMessage[]> {
    const own =
      after === undefined ? state.messages : state.messages.filter((m) => m.offset > after);
    if (state.forkedFrom === undefined || state.forkOffset === undefined) return own;
    if (after !== undefined && after >= state.forkOffset) return own;
    const cap = state.forkOffset;
    const source = (await this.view(state.forkedFrom)).state;
    if (!source) return own;
    const inherited = (await this.collect(source, after)).filter((m) => m.offset <= cap);
    return [...inherited, ...own];
  }
}

function describe(state: StreamState, created: boolean): CreateResult {
  return { created, contentType: state.contentType, tail: state.tail, closed: state.closed };
}

/**
 * A request body as stored: JSON parsed and one level of array flattened, other types as bytes. JSON
 * nested deeper than MAX_JSON_DEPTH is a 400, as on every other route: serializing it again (its
 * offsets, every read) would overflow the stack.
 */
export function toChunk(
  contentType: string,
  body: Buffer,
  isCreate: boolean,
  maxDepth: number,
): Chunk | undefined;
export function toChunk(
  contentType: string,
  body: Buffer,
  isCreate: false,
  maxDepth: number,
): Chunk;
export function toChunk(
  contentType: string,
  body: Buffer,
  isCreate: boolean,
  maxDepth: number,
): Chunk | undefined {
  if (!isJsonContentType(contentType)) return { b64: body.toString('base64') };
  if (jsonDepth(body, maxDepth) > maxDepth) {
    throw new DurableStreamError(HttpStatus.BAD_REQUEST, new JsonTooDeepError(maxDepth).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new DurableStreamError(HttpStatus.BAD_REQUEST, 'The body is not valid JSON');
  }
  if (!Array.isArray(parsed)) return { json: [parsed] };
  if (parsed.length === 0) {
    if (isCreate) return undefined;
    throw new DurableStreamError(HttpStatus.BAD_REQUEST, 'An empty JSON array appends nothing');
  }
  return { json: parsed as unknown[] };
}
