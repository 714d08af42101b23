import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createRedisClient } from '../event-log/redis-client';
import type { ReaderPresence } from './reader-presence';

export interface RedisReaderPresenceOptions {
  url: string;
  /** Key prefix; a generation's readers are `<prefix>:<generationId>`. */
  prefix: string;
  /** AI_DETACH_GRACE_MS: how long a generation outlives its last reader anywhere. */
  graceMs: number;
}

/**
 * Records that this instance (ARGV[1]) has readers until ARGV[2] ms from now, by Redis' clock (one
 * clock for every instance). The key lives as long as its furthest member.
 */
const TOUCH_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/** Ms until the furthest member of KEYS[1] lapses, by Redis' clock; 0 if none is left. */
const LEFT_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 0 then return 0 end
local left = tonumber(top[2]) - now
if left < 0 then return 0 end
return left
`;

interface RedisWithPresence {
  rivuletPresenceTouch(key: string, instance: string, ttlMs: number): Promise<number>;
  rivuletPresenceLeft(key: string): Promise<number>;
}

/**
 * Readers of each generation, shared through Redis (STORE=redis). Per generation, a sorted set of
 * instance ids scored with the Redis time until which that instance counts as reading:
 *
 * - while an instance has readers, it refreshes its member every `refreshMs` to
 *   now + grace + 2 × refreshMs (an instance that dies stops refreshing, and its member lapses a grace
 *   period after its last refresh);
 * - when its last reader leaves, it sets its member to now + grace: the grace period starts then;
 * - graceLeftMs is local readers ? grace : furthest member − now.
 */
export class RedisReaderPresence implements ReaderPresence {
  private readonly redis: Redis & RedisWithPresence;
  private readonly instance = randomUUID();
  private readonly logger = new Logger(RedisReaderPresence.name);
  private readonly local = new Map<string, number>();
  private readonly refreshMs: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private failureLogged = false;

  constructor(private readonly options: RedisReaderPresenceOptions) {
    this.refreshMs = Math.min(5000, Math.max(20, Math.floor(options.graceMs / 3)));
    // A touch made while (re)connecting is sent once connected; each waits at most 2 s.
    this.redis = createRedisClient<Redis & RedisWithPresence>(
      options.url,
      { kind: 'queued', commandTimeoutMs: 2000 },
      {
        rivuletPresenceTouch: { numberOfKeys: 1, lua: TOUCH_SCRIPT },
        rivuletPresenceLeft: { numberOfKeys: 1, lua: LEFT_SCRIPT },
      },
    );
    // Connection errors are reported by the event log on the same REDIS_URL.
    this.redis.on('error', () => undefined);
    this.timer = setInterval(() => this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  enter(generationId: string): void {
    const count = (this.local.get(generationId) ?? 0) + 1;
    this.local.set(generationId, count);
    if (count === 1) this.touch(generationId, this.presentTtlMs());
  }

  leave(generationId: string): void {
    const count = this.local.get(generationId);
    if (count === undefined) return;
    if (count > 1) {
      this.local.set(generationId, count - 1);
      return;
    }
    this.local.delete(generationId);
    this.touch(generationId, this.options.graceMs);
  }

  async graceLeftMs(generationId: string): Promise<number> {
    if (this.local.has(generationId)) return this.options.graceMs;
    return Number(await this.redis.rivuletPresenceLeft(this.key(generationId)));
  }

  forget(generationId: string): void {
    this.local.delete(generationId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.local.clear();
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }

  /** How long a member of an instance with readers stays valid without a refresh. */
  private presentTtlMs(): number {
    return this.options.graceMs + 2 * this.refreshMs;
  }

  private refresh(): void {
    if (this.closed || this.redis.status !== 'ready') return;
    for (const generationId of this.local.keys()) this.touch(generationId, this.presentTtlMs());
  }

  private touch(generationId: string, ttlMs: number): void {
    if (this.closed) return;
    this.redis.rivuletPresenceTouch(this.key(generationId), this.instance, ttlMs).then(
      () => (this.failureLogged = false),
      (error: Error) => {
        if (this.failureLogged) return;
        this.failureLogged = true;
        this.logger.warn(`AI reader presence not recorded in Redis: ${error.message}`);
      },
    );
  }

  private key(generationId: string): string {
    return `${this.options.prefix}:${generationId}`;
  }
}
