import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { EventEmitter } from 'node:events';
import {
  AppendConflictError,
  AppendInput,
  AppendOptions,
  compareIds,
  epochSeed,
  EventLog,
  LiveListener,
  LogEvent,
  mergeById,
  ReadResult,
  StoreUnavailableError,
  Unsubscribe,
  UnserializableEventError,
} from './event-log';
import { LiveFanout } from './live-fanout';
import { createRedisClient } from './redis-client';

export interface RedisStreamsEventLogOptions {
  /** redis://[user:pass@]host:port[/db] (REDIS_URL). */
  url: string;
  /** Events kept per topic (STORE_RETENTION): the topic stream is capped with an exact MAXLEN. */
  retention: number;
  /** Key prefix; every key of the log starts with `<prefix>:`. */
  prefix?: string;
  /** Approximate cap of the fan-out stream that carries live events to every instance. */
  fanOutMaxLen?: number;
  /** Per-command timeout: a command that gets no answer in time fails with StoreUnavailableError. */
  commandTimeoutMs?: number;
  /** While (re)connecting, how long a command waits for the connection before failing. */
  connectWaitMs?: number;
  /** How long the live reader blocks on XREAD before asking again. */
  blockMs?: number;
  logger?: LogSink;
}

/** Where the adapter reports connection trouble (a Nest Logger by default). */
export type LogSink = Pick<Logger, 'log' | 'warn' | 'error'>;

/** Fields of a fan-out entry, and of a topic entry (without `topic`). */
type StreamEntry = [id: string, fields: string[]];

/**
 * KEYS: sequence, topic stream, fan-out stream, dropped hash, epoch.
 * ARGV: retention, topic, type, data, timestamp, fan-out max length, floor, seed, check, expected
 * newest id, fan-out data (the data again, or '' to announce the event without it).
 * One global sequence gives every event the id `<seq>-0` in both streams. Before the topic stream is
 * trimmed to `retention` (0: kept whole), the newest id it drops is kept in the dropped hash (for
 * `truncated`). A store without a sequence (new, or wiped: Redis came back empty) starts a new epoch:
 * the sequence and the epoch key are set to `seed`, the larger of the clock (epochSeed) and `floor`,
 * the highest id the calling instance has seen, so the new ids are above every id clients hold and
 * readAfter knows an id at or below the epoch as one from before. With `check` = 1 the append
 * happens only if the topic's newest entry is the expected id ('' = none); else it returns -1.
 * Numbers go to Redis as the strings they came as and ids are formatted with %d: Lua would write
 * 16-digit numbers as 1.7e+15.
 */
const APPEND_SCRIPT = `
if ARGV[9] == '1' then
  local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  local have = ''
  if #newest > 0 then have = newest[1][1] end
  if have ~= ARGV[10] then return -1 end
end
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[8])
  redis.call('SET', KEYS[5], ARGV[8])
elseif tonumber(current) < tonumber(ARGV[7]) then
  redis.call('SET', KEYS[1], ARGV[7])
end
local seq = redis.call('INCR', KEYS[1])
local id = string.format('%d', seq) .. '-0'
local retention = tonumber(ARGV[1])
if retention > 0 then
  local excess = redis.call('XLEN', KEYS[2]) + 1 - retention
  if excess > 0 then
    local dropped = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', excess)
    redis.call('HSET', KEYS[4], ARGV[2], dropped[#dropped][1])
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', retention, id, 'type', ARGV[3], 'data', ARGV[4], 'ts', ARGV[5])
else
  redis.call('XADD', KEYS[2], id, 'type', ARGV[3], 'data', ARGV[4], 'ts', ARGV[5])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], id, 'topic', ARGV[2], 'type', ARGV[3], 'data', ARGV[11], 'ts', ARGV[5])
return string.format('%d', seq)
`;

/**
 * KEYS: topic stream, dropped hash. ARGV: topic, expected newest id ('' = any). Drops the topic's
 * events and marks its newest id as dropped, so a reader from before the deletion gets `truncated`.
 * Returns 0 (and does nothing) when the newest id is not the expected one.
 */
const DELETE_TOPIC_SCRIPT = `
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if ARGV[2] ~= '' and (#newest == 0 or newest[1][1] ~= ARGV[2]) then return 0 end
if #newest > 0 then redis.call('HSET', KEYS[2], ARGV[1], newest[1][1]) end
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * The event log on Redis Streams, for several instances (STORE=redis).
 *
 * - `<prefix>:seq` is the one global sequence; an event's id is its decimal value (Redis id `<seq>-0`).
 *   `<prefix>:epoch` is where it started (from the clock): an id at or below it is from before Redis
 *   lost its data, and is answered with a reset rather than read as a position in the new data.
 * - `<prefix>:topic:<topic>` holds a topic's last `retention` events (exact MAXLEN); readAfter reads them
 *   with XRANGE from an exclusive start and merges topics in id order.
 * - `<prefix>:all` carries every event to every instance: ONE reader per instance (its own connection,
 *   XREAD BLOCK from the last id it saw) fans events out in process to local subscribers by topic. Events
 *   this instance appends reach its own subscribers through the same reader, so exactly once and in order.
 * - Redis down: commands fail fast with StoreUnavailableError (no offline queue), ioredis reconnects, the
 *   reader resumes from its last id and delivers what was published meanwhile.
 */
export class RedisStreamsEventLog implements EventLog {
  private readonly redis: Redis & RedisWithAppend;
  private readonly reader: Redis;
  private readonly prefix: string;
  private readonly retention: number;
  private readonly fanOutMaxLen: number;
  private readonly blockMs: number;
  private readonly logger: LogSink;
  private readonly fanout = new LiveFanout();
  /** The newest sequence number the reader has delivered (or started after). */
  private lastSeen: number | undefined;
  private closed = false;
  /** Settles when close() starts: whatever the read loop waits on (a reconnect, a queued XREAD) ends then. */
  private readonly closing: Promise<void>;
  private signalClosing: () => void = () => undefined;
  private unreachableLogged = false;
  private readonly readerDone: Promise<void>;
  /** Emits `started` once the live reader knows where it starts. */
  private readonly readerStarted = new EventEmitter();

  constructor(private readonly options: RedisStreamsEventLogOptions) {
    this.prefix = options.prefix ?? 'rivulet';
    this.retention = options.retention;
    this.fanOutMaxLen = options.fanOutMaxLen ?? 100_000;
    this.blockMs = options.blockMs ?? 5000;
    this.logger = options.logger ?? new Logger(RedisStreamsEventLog.name);
    // Fail fast while Redis is away: an append must not hang; callers answer 503.
    this.redis = createRedisClient<Redis & RedisWithAppend>(
      options.url,
      { kind: 'fail-fast', commandTimeoutMs: options.commandTimeoutMs ?? 2000 },
      {
        rivuletAppend: { numberOfKeys: 5, lua: APPEND_SCRIPT },
        rivuletDeleteTopic: { numberOfKeys: 2, lua: DELETE_TOPIC_SCRIPT },
      },
    );
    // The reader waits through outages: its XREAD is queued until the connection is back.
    this.reader = createRedisClient(options.url, { kind: 'blocking' });
    this.redis.on('error', (error: Error) => this.onConnectionError(error));
    this.reader.on('error', (error: Error) => this.onConnectionError(error));
    this.redis.on('ready', () => {
      if (this.unreachableLogged)
        this.logger.log(`Redis at REDIS_URL=${this.safeUrl()} is reachable again`);
      this.unreachableLogged = false;
    });
    // Every request waiting out a reconnect adds a listener for a moment: not a leak.
    this.redis.setMaxListeners(0);
    this.readerStarted.setMaxListeners(0);
    this.closing = new Promise((resolve) => (this.signalClosing = resolve));
    this.readerDone = this.readLoop();
  }

  async append<T>(input: AppendInput<T>, options: AppendOptions = {}): Promise<LogEvent<T>> {
    const timestamp = Date.now();
    let data: string;
    try {
      data = JSON.stringify(input.data) ?? '';
    } catch (error) {
      throw new UnserializableEventError(
        `The event's data cannot be stored as JSON: ${(error as Error).message}`,
      );
    }
    const floor = this.lastSeen ?? 0;
    const seed = Math.max(epochSeed(timestamp), floor);
    const seq = await this.command('append', () =>
      this.redis.rivuletAppend(
        this.key('seq'),
        this.topicKey(input.topic),
        this.key('all'),
        this.key('dropped'),
        this.key('epoch'),
        options.keepAll === true ? 0 : this.retention,
        input.topic,
        input.type,
        data,
        timestamp,
        this.fanOutMaxLen,
        String(floor),
        String(seed),
        options.ifLastId === undefined ? '0' : '1',
        options.ifLastId == null ? '' : `${options.ifLastId}-0`,
        options.announceOnly ? '' : data,
      ),
    );
    if (String(seq) === '-1') {
      throw new AppendConflictError(`topic ${input.topic} has moved on past ${options.ifLastId}`);
    }
    return { id: String(seq), topic: input.topic, type: input.type, data: input.data, timestamp };
  }

  async deleteTopic(topic: string, ifLastId?: string): Promise<boolean> {
    const deleted = await this.command('deleteTopic', () =>
      this.redis.rivuletDeleteTopic(
        this.topicKey(topic),
        this.key('dropped'),
        topic,
        ifLastId === undefined ? '' : `${ifLastId}-0`,
      ),
    );
    return deleted === 1;
  }

  async readAfter(topics: readonly string[], afterId: string | undefined): Promise<ReadResult> {
    const unique = [...new Set(topics)];
    // Past the largest sequence Redis can hold: certainly unknown (and not a valid stream id).
    if (afterId !== undefined && compareIds(afterId, MAX_SEQUENCE) > 0)
      return { events: [], truncated: false, unknown: true };
    const start = afterId === undefined ? '-' : `(${afterId}-0`;
    const results = await this.command('readAfter', async () => {
      // One transaction: the sequence, the truncation marks and the topic streams form one snapshot.
      const multi = this.redis.multi().get(this.key('seq')).get(this.key('epoch'));
      if (unique.length > 0) multi.hmget(this.key('dropped'), ...unique);
      for (const topic of unique) multi.xrange(this.topicKey(topic), start, '+');
      return (await multi.exec()) ?? [];
    });
    const values = results.map(([error, value]) => {
      if (error) throw new StoreUnavailableError(`Redis readAfter failed: ${error.message}`);
      return value;
    });
    const sequence = (values[0] as string | null) ?? '0';
    const epoch = values[1] as string | null;
    if (afterId !== undefined && compareIds(afterId, sequence) > 0)
      return { events: [], truncated: false, unknown: true };
    // An id from before this epoch (Redis lost its data since): what followed it then is gone.
    const beforeEpoch = afterId !== undefined && epoch !== null && compareIds(afterId, epoch) <= 0;
    if (unique.length === 0) return { events: [], truncated: beforeEpoch, unknown: false };
    const dropped = values[2] as (string | null)[];
    const truncated =
      beforeEpoch ||
      (afterId !== undefined &&
        dropped.some((id) => id !== null && compareIds(stripSeq(id), afterId) > 0));
    const parts = unique.map((topic, i) =>
      (values[3 + i] as StreamEntry[]).map((entry) => toEvent(topic, entry[0], entry[1])),
    );
    const events = mergeById(parts);
    return { events, truncated, unknown: false };
  }

  subscribe(topics: readonly string[], listener: LiveListener): Unsubscribe {
    return this.fanout.subscribe(topics, listener);
  }

  /** A key expiry on each topic's stream (PEXPIRE); Redis forgets it on its own, on every instance. */
  async expire(topics: readonly string[], afterMs: number): Promise<void> {
    const unique = [...new Set(topics)];
    if (unique.length === 0) return;
    const ms = Math.max(1, Math.ceil(afterMs));
    const results = await this.command('expire', async () => {
      const multi = this.redis.multi();
      for (const topic of unique) multi.pexpire(this.topicKey(topic), ms);
      return (await multi.exec()) ?? [];
    });
    for (const [error] of results) {
      if (error) throw new StoreUnavailableError(`Redis expire failed: ${error.message}`);
    }
  }

  async persist(topics: readonly string[]): Promise<void> {
    const unique = [...new Set(topics)];
    if (unique.length === 0) return;
    const results = await this.command('persist', async () => {
      const multi = this.redis.multi();
      for (const topic of unique) multi.persist(this.topicKey(topic));
      return (await multi.exec()) ?? [];
    });
    for (const [error] of results) {
      if (error) throw new StoreUnavailableError(`Redis persist failed: ${error.message}`);
    }
  }

  async lastId(): Promise<string | undefined> {
    const value = await this.command('lastId', () => this.redis.get(this.key('seq')));
    return value === null || value === '0' ? undefined : value;
  }

  subscriberCount(): number {
    return this.fanout.count;
  }

  whenLive(): Promise<void> {
    if (this.lastSeen !== undefined || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.readerStarted.once('started', () => resolve()));
  }

  async isHealthy(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.usable();
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /**
   * Closes both connections, and returns promptly whatever Redis does: the read loop stops waiting
   * at once (a blocking XREAD, an XREAD queued while ioredis reconnects, or a wait for a `ready`
   * that a reconnecting client never emits once disconnected), so shutdown never hangs on a store
   * that is down.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClosing();
    this.fanout.clear();
    // The reader may sit in a blocking XREAD: drop its socket rather than wait for the block to end.
    this.reader.disconnect();
    await this.readerDone;
    if (this.redis.status === 'ready') {
      await this.redis.quit().catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
  }

  /** The live reader: one XREAD BLOCK loop on the fan-out stream, dispatching to local listeners. */
  private async readLoop(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.lastSeen === undefined) {
          // Start after everything appended so far: history is readAfter's job, this is live only.
          const start = this.reader.get(this.key('seq'));
          start.catch(() => undefined);
          const seq = await Promise.race([start, this.closing.then(() => undefined)]);
          if (this.closed) break;
          this.lastSeen = Number(seq ?? '0');
          this.readerStarted.emit('started');
          continue;
        }
        const read = this.reader.xread(
          'COUNT',
          1000,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          this.key('all'),
          `${this.lastSeen}-0`,
        );
        // Queued while reconnecting, it may never settle once disconnected: closing ends the wait.
        read.catch(() => undefined);
        const reply = await Promise.race([read, this.closing.then(() => null)]);
        if (this.closed) break;
        for (const [, entries] of reply ?? []) for (const entry of entries) this.dispatch(entry);
      } catch (error) {
        if (this.closed) break;
        this.onConnectionError(error as Error);
        await this.whenReaderReady();
      }
    }
  }

  private dispatch([redisId, fields]: StreamEntry): void {
    const seq = Number(stripSeq(redisId));
    if (this.lastSeen !== undefined && seq > this.lastSeen + 1) {
      this.logger.warn(
        `live reader skipped ids ${this.lastSeen + 1}..${seq - 1}: the fan-out stream was trimmed before ` +
          'this instance read them (raise fanOutMaxLen); subscribers resume them from the topic streams',
      );
    }
    this.lastSeen = seq;
    const topic = field(fields, 'topic');
    this.fanout.dispatch(toEvent(topic, redisId, fields));
  }

  /** Resolves when the reader connection is ready again (or the log is closed). */
  private whenReaderReady(): Promise<void> {
    if (this.closed) return Promise.resolve();
    // Ready but the command failed (a Redis error reply): pause briefly rather than spin.
    if (this.reader.status === 'ready') return new Promise((resolve) => setTimeout(resolve, 100));
    return new Promise((resolve) => {
      const done = () => {
        this.reader.off('ready', done);
        this.reader.off('end', done);
        resolve();
      };
      this.reader.once('ready', done);
      this.reader.once('end', done);
      void this.closing.then(done);
    });
  }

  private async command<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`event log is closed (${what})`);
    try {
      await this.usable();
      return await run();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      throw new StoreUnavailableError(
        `Redis at REDIS_URL=${this.safeUrl()} is unavailable (${what}): ${(error as Error).message}`,
      );
    }
  }

  /**
   * Resolves when the command connection is ready and the live reader has its start point; waits at
   * most `connectWaitMs` (start-up, reconnects). Appends and reads wait for the reader's start so that
   * nothing this instance appends, or reads as history, can fall before the point live delivery starts.
   */
  private usable(): Promise<void> {
    if (this.redis.status === 'ready' && this.lastSeen !== undefined) return Promise.resolve();
    const waitMs = this.options.connectWaitMs ?? 1000;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.redis.status !== 'ready' || this.lastSeen === undefined) return;
        done();
        resolve();
      };
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', check);
        this.readerStarted.off('started', check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`not connected (${this.redis.status}) after ${waitMs} ms`));
      }, waitMs);
      this.redis.on('ready', check);
      this.readerStarted.on('started', check);
    });
  }

  private onConnectionError(error: Error): void {
    if (this.closed || this.unreachableLogged) return;
    this.unreachableLogged = true;
    this.logger.error(
      `Redis at REDIS_URL=${this.safeUrl()} is unreachable (${error.message}); retrying, readiness is false ` +
        'and appends fail with 503 until it is back',
    );
  }

  /** REDIS_URL without its password, for log lines. */
  private safeUrl(): string {
    try {
      const url = new URL(this.options.url);
      if (url.password) url.password = '***';
      return url.toString();
    } catch {
      return '<invalid url>';
    }
  }

  private key(name: string): string {
    return `${this.prefix}:${name}`;
  }

  private topicKey(topic: string): string {
    return `${this.prefix}:topic:${topic}`;
  }
}

/** INCR works on signed 64-bit integers. */
const MAX_SEQUENCE = '9223372036854775807';

interface RedisWithAppend {
  /** Resolves with the new sequence number, as a decimal string (-1: compare-and-append lost). */
  rivuletAppend(...args: (string | number)[]): Promise<string | number>;
  rivuletDeleteTopic(...args: string[]): Promise<number>;
}

function stripSeq(redisId: string): string {
  const dash = redisId.indexOf('-');
  return dash === -1 ? redisId : redisId.slice(0, dash);
}

function field(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
  return '';
}

function toEvent(topic: string, redisId: string, fields: string[]): LogEvent {
  const data = field(fields, 'data');
  return {
    id: stripSeq(redisId),
    topic,
    type: field(fields, 'type'),
    data: data === '' ? undefined : (JSON.parse(data) as unknown),
    timestamp: Number(field(fields, 'ts')),
  };
}
