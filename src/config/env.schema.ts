import { z } from 'zod';
import { isStreamPattern } from './stream-pattern';

/** Integer milliseconds (or counts) from an environment string; rejects "abc", "1.5", "-1". */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

const url = z.string().trim().url('must be a URL');

/**
 * Every variable Rivulet reads, with its default. Parsed once at start-up; an invalid value stops
 * the process with a message naming the variable (see parseEnv).
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: int(0, 65535).default(3000),
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
    CORS_ORIGINS: list.default([]),
    CORS_CREDENTIALS: bool.default(false),
    STORE: z.enum(['memory', 'redis']).default('memory'),
    REDIS_URL: url.default('redis://127.0.0.1:6379'),
    STORE_RETENTION: int(1, 1_000_000).optional(),
    /** The seed article's name for STORE_RETENTION; STORE_RETENTION wins when both are set. */
    MAX_HISTORY_SIZE: int(1, 1_000_000).optional(),
    SSE_RETRY_MS: int(0, 3_600_000).default(3000),
    SSE_HEARTBEAT_MS: int(100, 3_600_000).default(15000),
    SSE_MAX_BUFFER_BYTES: int(1024).default(1024 * 1024),
    TICKER_INTERVAL_MS: int(0).default(1000),
    TYPEWRITER_INTERVAL_MS: int(0, 60_000).default(100),
    TYPEWRITER_MAX_TEXT: int(1, 100_000).default(2000),
    MONITOR_INTERVAL_MS: int(0).default(5000),
    AI_PROVIDER: z.enum(['demo', 'openai']).default('demo'),
    AI_BASE_URL: url.default('https://api.openai.com/v1'),
    AI_API_KEY: z.string().optional(),
    AI_MODEL: z.string().trim().min(1).default('gpt-4o-mini'),
    AI_DETACH_GRACE_MS: int(0).default(30000),
    /** Upstream silence (no byte before the headers or between chunks) after which a generation fails. */
    AI_TIMEOUT_MS: int(100, 600_000).default(30000),
    /** Generations running at once on this instance; past it a new one is refused with 503. */
    AI_MAX_GENERATIONS: int(1, 100_000).default(100),
    /** Pace of the built-in demo model, per token. */
    AI_DEMO_TOKEN_MS: int(0, 10_000).default(30),
    AUTH_JWT_SECRET: z.string().min(1).optional(),
    PUBLIC_TOPICS: list.default(['ticker', 'chat:*']),
    MAX_CONNECTIONS: int(1).default(10000),
    MAX_CONNECTIONS_PER_IP: int(1).default(100),
    MAX_BODY_BYTES: int(1, 100 * 1024 * 1024).default(64 * 1024),
    SHUTDOWN_GRACE_MS: int(0, 600_000).default(10000),
    /** Durable Streams (/v1/stream/*): largest create or append body; past it 413. */
    DURABLE_MAX_BODY_BYTES: int(1, 100 * 1024 * 1024).default(1024 * 1024),
    /** How long a long-poll read waits for new data before answering 204. */
    DURABLE_LONG_POLL_MS: int(100, 600_000).default(20000),
    /** An SSE read is ended after this long (the client reconnects from its offset; CDN collapsing). */
    DURABLE_SSE_MAX_MS: int(1000, 3_600_000).default(60000),
    /** Durable stream path patterns anyone may read without a token (`demo/*`); default none. */
    PUBLIC_STREAMS: list.default([]),
  })
  .superRefine((env, ctx) => {
    if (env.CORS_CREDENTIALS && env.CORS_ORIGINS.includes('*')) {
      ctx.addIssue({
        code: 'custom',
        path: ['CORS_ORIGINS'],
        message: '"*" cannot be used while CORS_CREDENTIALS is true; list the exact origins',
      });
    }
    for (const origin of env.CORS_ORIGINS) {
      if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
        ctx.addIssue({
          code: 'custom',
          path: ['CORS_ORIGINS'],
          message: `"${origin}" is not an origin (scheme://host[:port], no path)`,
        });
      }
    }
    for (const pattern of env.PUBLIC_STREAMS) {
      if (!isStreamPattern(pattern)) {
        ctx.addIssue({
          code: 'custom',
          path: ['PUBLIC_STREAMS'],
          message: `"${pattern}" is not a stream path pattern (letters, digits, . _ : - /, optional trailing *)`,
        });
      }
    }
    if (env.NODE_ENV === 'production' && !env.AUTH_JWT_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message: 'is required when NODE_ENV=production (open mode is for local use only)',
      });
    }
  });

export type Env = z.output<typeof envSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the raw environment; throws a ConfigError whose message names every bad variable. */
export function parseEnv(raw: Record<string, string | undefined>): Env {
  // An empty value counts as unset, as in most .env tooling.
  const present = Object.fromEntries(
    Object.entries(raw).filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const result = envSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    return `${name}: ${issue.message}${name in present ? ` (got "${present[name]}")` : ''}`;
  });
  throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}
