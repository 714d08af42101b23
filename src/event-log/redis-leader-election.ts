import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { LeaderElection } from './leader-election';
import { createRedisClient } from './redis-client';
import type { LogSink } from './redis-streams-event-log';

export interface RedisLeaderElectionOptions {
  url: string;
  /** The lease key (one per singleton job). */
  key: string;
  /** Lease length: a killed leader is replaced within this time; renewed every third of it. */
  ttlMs?: number;
  logger?: LogSink;
}

/** Renews the lease if we hold it, else takes it if free. KEYS: lease. ARGV: owner, ttl. */
const ACQUIRE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`;

/** Deletes the lease only if we still hold it. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface RedisWithLease {
  rivuletAcquire(key: string, owner: string, ttlMs: number): Promise<number>;
  rivuletRelease(key: string, owner: string): Promise<number>;
}

/**
 * A lease in Redis (SET NX PX, renewed every ttl/3). This instance counts as leader only while the
 * lease it last renewed is still running by its own clock, so two instances never both lead for
 * longer than the clock drift over one renewal, even when Redis is unreachable.
 */
export class RedisLeaderElection implements LeaderElection {
  private readonly redis: Redis & RedisWithLease;
  private readonly owner = randomUUID();
  private readonly ttlMs: number;
  private readonly logger: LogSink;
  private leaseUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: RedisLeaderElectionOptions) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.logger = options.logger ?? new Logger(RedisLeaderElection.name);
    this.redis = createRedisClient<Redis & RedisWithLease>(
      options.url,
      { kind: 'fail-fast', commandTimeoutMs: Math.max(100, Math.floor(this.ttlMs / 3)) },
      {
        rivuletAcquire: { numberOfKeys: 1, lua: ACQUIRE_SCRIPT },
        rivuletRelease: { numberOfKeys: 1, lua: RELEASE_SCRIPT },
      },
    );
    // Connection errors are reported by the event log on the same REDIS_URL; the lease just lapses.
    this.redis.on('error', () => undefined);
    this.redis.on('ready', () => this.renew());
    this.timer = setInterval(() => this.renew(), Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  isLeader(): boolean {
    return !this.closed && Date.now() < this.leaseUntil;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    if (this.redis.status === 'ready') {
      if (this.leaseUntil > Date.now()) {
        await this.redis.rivuletRelease(this.options.key, this.owner).catch(() => 0);
      }
      await this.redis.quit().catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
    this.leaseUntil = 0;
  }

  private renew(): void {
    if (this.closed || this.renewing || this.redis.status !== 'ready') return;
    const started = Date.now();
    const wasLeader = this.isLeader();
    this.renewing = this.redis
      .rivuletAcquire(this.options.key, this.owner, this.ttlMs)
      .then(
        (held) => {
          this.leaseUntil = held === 1 ? started + this.ttlMs : 0;
          if (held === 1 && !wasLeader) this.logger.log(`leading ${this.options.key}`);
        },
        () => undefined, // Keep the lease we have until it runs out; the next renewal tries again.
      )
      .finally(() => (this.renewing = undefined));
  }
}
