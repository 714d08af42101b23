import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { proxyTrust } from '../common/client-address';
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
    /** Memory store: total bytes of retained events; past it the oldest events go first, across topics. */
    STORE_MAX_BYTES: int(64 * 1024, Number.MAX_SAFE_INTEGER).default(256 * 1024 * 1024),
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
    /** Generations one user (one address in open mode) may run at once; past it 429. */
    AI_MAX_GENERATIONS_PER_USER: int(1, 100_000).default(3),
    /** How long a finished generation stays readable (its topic expires then, on both stores). */
    AI_RETENTION_MS: int(1000, 30 * 24 * 3_600_000).default(3_600_000),
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
    /** Deepest nesting of arrays and objects a JSON body may have; deeper is a 400. */
    MAX_JSON_DEPTH: int(1, 1000).default(64),
    /** Time to receive a request's headers and body; an open stream is not affected. */
    REQUEST_TIMEOUT_MS: int(100, 3_600_000).default(10000),
    /** Requests (other than open streams) in progress at once per client address; past it 429. */
    MAX_REQUESTS_PER_IP: int(1).default(100),
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
        message:
          'is required when NODE_ENV=production (set it, or AUTH_JWT_SECRET_FILE to a file holding it; open mode is for local use only)',
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

/** Suffix of the variables that name a file holding another variable's value (see readFileVariables). */
export const FILE_SUFFIX = '_FILE';

/**
 * The `_FILE` convention of official container images: for every variable NAME above, NAME_FILE is
 * the path of a file holding its value (a Docker or Kubernetes secret, a volume written by a
 * one-shot container). NAME itself wins when it is set; the file's content loses one trailing line
 * break. A file that cannot be read, or is empty, is a problem named after NAME_FILE. Values read
 * from files are marked secret, so error messages never echo them.
 */
function readFileVariables(present: Record<string, string>): {
  values: Record<string, string>;
  fromFiles: Set<string>;
  problems: string[];
} {
  const values = { ...present };
  const fromFiles = new Set<string>();
  const problems: string[] = [];
  for (const name of Object.keys(envSchema.shape)) {
    const fileVariable = `${name}${FILE_SUFFIX}`;
    const file = present[fileVariable];
    delete values[fileVariable];
    if (file === undefined || name in present) continue;
    let content: string;
    try {
      content = readFileSync(file.trim(), 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      problems.push(`${fileVariable}: cannot read "${file}" (${reason})`);
      continue;
    }
    if (content.trim() === '') {
      problems.push(`${fileVariable}: "${file}" is empty`);
      continue;
    }
    values[name] = content;
    fromFiles.add(name);
  }
  return { values, fromFiles, problems };
}

/** Variables whose value never appears in an error message. */
const SECRET_VARIABLES = new Set(['AUTH_JWT_SECRET', 'AI_API_KEY']);

/** Parses the raw environment; throws a ConfigError whose message names every bad variable. */
export function parseEnv(raw: Record<string, string | undefined>): Env {
  // An empty value counts as unset, as in most .env tooling.
  const present = Object.fromEntries(
    Object.entries(raw).filter((entry): entry is [string, string] => {
      const value = entry[1];
      return value !== undefined && value.trim() !== '';
    }),
  );
  const { values, fromFiles, problems } = readFileVariables(present);
  const result = envSchema.safeParse(values);
  if (result.success && problems.length === 0) return result.data;
  for (const issue of result.success ? [] : result.error.issues) {
    const name = issue.path.join('.');
    const got = fromFiles.has(name)
      ? ` (read from ${name}${FILE_SUFFIX})`
      : name in values && !SECRET_VARIABLES.has(name)
        ? ` (got "${values[name]}")`
        : '';
    problems.push(`${name}: ${issue.message}${got}`);
  }
  throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
}
