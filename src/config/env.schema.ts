import { z } from 'zod';
import { proxyTrust } from '../common/client-address';

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

/** HS256 keys shorter than the hash (32 bytes) can be brute-forced from one token (RFC 7518 §3.2). */
export const MIN_PRODUCTION_SECRET_BYTES = 32;

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
    /** Allowance for clocks that disagree with the token issuer's, on `exp`, `nbf` and `iat`. */
    AUTH_CLOCK_SKEW_MS: int(0, 600_000).default(30_000),
    /**
     * Peers whose X-Forwarded-For is believed: addresses, CIDRs, or proxy-addr's names `loopback`,
     * `linklocal`, `uniquelocal`. Default: nobody, the client address is the socket's.
     */
    TRUST_PROXY: list.default([]).superRefine((entries, ctx) => {
      try {
        proxyTrust(entries);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
    PUBLIC_TOPICS: list.default(['ticker', 'chat:*']),
    MAX_CONNECTIONS: int(1).default(10000),
    MAX_CONNECTIONS_PER_IP: int(1).default(100),
    MAX_BODY_BYTES: int(1, 100 * 1024 * 1024).default(64 * 1024),
    SHUTDOWN_GRACE_MS: int(0, 600_000).default(10000),
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
    if (env.NODE_ENV === 'production' && !env.AUTH_JWT_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message: 'is required when NODE_ENV=production (open mode is for local use only)',
      });
    }
    const secretBytes = Buffer.byteLength(env.AUTH_JWT_SECRET ?? '', 'utf8');
    if (
      env.NODE_ENV === 'production' &&
      env.AUTH_JWT_SECRET &&
      secretBytes < MIN_PRODUCTION_SECRET_BYTES
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWT_SECRET'],
        message:
          `must be at least ${MIN_PRODUCTION_SECRET_BYTES} bytes when NODE_ENV=production ` +
          `(got ${secretBytes}; generate one with \`openssl rand -hex 32\`)`,
      });
    }
  });

export type Env = z.output<typeof envSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Variables whose value never appears in an error message. */
const SECRET_VARIABLES = new Set(['AUTH_JWT_SECRET', 'AI_API_KEY']);

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
    const shown = name in present && !SECRET_VARIABLES.has(name) ? ` (got "${present[name]}")` : '';
    return `${name}: ${issue.message}${shown}`;
  });
  throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}
