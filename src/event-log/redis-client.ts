import Redis from 'ioredis';

/**
 * How a client behaves while Redis is away:
 * - `fail-fast`: commands fail at once instead of queueing (no offline queue, one retry), each within
 *   `commandTimeoutMs`, so a request is answered 503 rather than left hanging (appends, the lease);
 * - `queued`: commands sent while (re)connecting wait in the offline queue and go out once connected,
 *   each within `commandTimeoutMs` (AI reader presence);
 * - `blocking`: a reader whose blocking command waits through outages (no timeout, unlimited retries).
 */
export type RedisClientMode =
  | { kind: 'fail-fast'; commandTimeoutMs: number }
  | { kind: 'queued'; commandTimeoutMs: number }
  | { kind: 'blocking' };

/** A Lua script registered as a command of the client (`redis.<name>(...keys, ...args)`). */
export interface RedisScript {
  numberOfKeys: number;
  lua: string;
}

/** Connect timeout of every client; reconnects back off 50 ms a try, up to 1 s. */
const CONNECT_TIMEOUT_MS = 2000;

/**
 * The one way Rivulet builds an ioredis client: the same connect timeout and reconnect backoff for
 * all, the mode's queueing and timeouts, and the caller's scripts defined as commands. `T` is the
 * client type with those commands' signatures. The caller attaches its own `error` listener.
 */
export function createRedisClient<T extends Redis = Redis>(
  url: string,
  mode: RedisClientMode,
  scripts: Record<string, RedisScript> = {},
): T {
  const redis = new Redis(url, {
    enableOfflineQueue: mode.kind !== 'fail-fast',
    maxRetriesPerRequest: mode.kind === 'blocking' ? null : 1,
    commandTimeout: mode.kind === 'blocking' ? undefined : mode.commandTimeoutMs,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  });
  for (const [name, script] of Object.entries(scripts)) redis.defineCommand(name, script);
  return redis as T;
}
