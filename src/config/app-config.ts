import { Env, parseEnv } from './env.schema';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** The validated configuration, grouped by concern. Services inject it with @Inject(APP_CONFIG). */
export interface AppConfig {
  env: Env['NODE_ENV'];
  http: {
    port: number;
    host: string;
    maxBodyBytes: number;
    maxJsonDepth: number;
    requestTimeoutMs: number;
    maxRequestsPerIp: number;
    shutdownGraceMs: number;
    /** TRUST_PROXY: the peers whose X-Forwarded-For is believed (see common/client-address). */
    trustProxy: string[];
  };
  log: { level: Env['LOG_LEVEL'] };
  cors: { origins: string[]; credentials: boolean };
  store: { kind: Env['STORE']; redisUrl: string; retention: number; maxBytes: number };
  sse: { retryMs: number; heartbeatMs: number; maxBufferBytes: number };
  streams: {
    tickerIntervalMs: number;
    typewriterIntervalMs: number;
    typewriterMaxText: number;
    monitorIntervalMs: number;
  };
  ai: {
    provider: Env['AI_PROVIDER'];
    baseUrl: string;
    apiKey: string | undefined;
    model: string;
    detachGraceMs: number;
    timeoutMs: number;
    maxGenerations: number;
    maxGenerationsPerUser: number;
    retentionMs: number;
    demoTokenMs: number;
  };
  auth: { jwtSecret: string | undefined; publicTopics: string[]; clockSkewMs: number };
  limits: { maxConnections: number; maxConnectionsPerIp: number };
  durable: { maxBodyBytes: number; longPollMs: number; sseMaxMs: number; publicStreams: string[] };
}

export function toAppConfig(env: Env): AppConfig {
  return {
    env: env.NODE_ENV,
    http: {
      port: env.PORT,
      host: env.HOST,
      maxBodyBytes: env.MAX_BODY_BYTES,
      maxJsonDepth: env.MAX_JSON_DEPTH,
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      maxRequestsPerIp: env.MAX_REQUESTS_PER_IP,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
      trustProxy: env.TRUST_PROXY,
    },
    log: { level: env.LOG_LEVEL },
    cors: { origins: env.CORS_ORIGINS, credentials: env.CORS_CREDENTIALS },
    store: {
      kind: env.STORE,
      redisUrl: env.REDIS_URL,
      retention: env.STORE_RETENTION ?? env.MAX_HISTORY_SIZE ?? 1000,
      maxBytes: env.STORE_MAX_BYTES,
    },
    sse: {
      retryMs: env.SSE_RETRY_MS,
      heartbeatMs: env.SSE_HEARTBEAT_MS,
      maxBufferBytes: env.SSE_MAX_BUFFER_BYTES,
    },
    streams: {
      tickerIntervalMs: env.TICKER_INTERVAL_MS,
      typewriterIntervalMs: env.TYPEWRITER_INTERVAL_MS,
      typewriterMaxText: env.TYPEWRITER_MAX_TEXT,
      monitorIntervalMs: env.MONITOR_INTERVAL_MS,
    },
    ai: {
      provider: env.AI_PROVIDER,
      baseUrl: env.AI_BASE_URL,
      apiKey: env.AI_API_KEY,
      model: env.AI_MODEL,
      detachGraceMs: env.AI_DETACH_GRACE_MS,
      timeoutMs: env.AI_TIMEOUT_MS,
      maxGenerations: env.AI_MAX_GENERATIONS,
      maxGenerationsPerUser: env.AI_MAX_GENERATIONS_PER_USER,
      retentionMs: env.AI_RETENTION_MS,
      demoTokenMs: env.AI_DEMO_TOKEN_MS,
    },
    auth: {
      jwtSecret: env.AUTH_JWT_SECRET,
      publicTopics: env.PUBLIC_TOPICS,
      clockSkewMs: env.AUTH_CLOCK_SKEW_MS,
    },
    limits: {
      maxConnections: env.MAX_CONNECTIONS,
      maxConnectionsPerIp: env.MAX_CONNECTIONS_PER_IP,
    },
    durable: {
      maxBodyBytes: env.DURABLE_MAX_BODY_BYTES,
      longPollMs: env.DURABLE_LONG_POLL_MS,
      sseMaxMs: env.DURABLE_SSE_MAX_MS,
      publicStreams: env.PUBLIC_STREAMS,
    },
  };
}

/**
 * Builds the configuration from a raw environment: process.env in production, a plain object in
 * tests (so no test ever mutates process.env). Throws ConfigError naming each bad variable.
 */
export function loadConfig(raw: Record<string, string | undefined> = process.env): AppConfig {
  return toAppConfig(parseEnv(raw));
}
