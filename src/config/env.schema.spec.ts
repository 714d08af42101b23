import { loadConfig } from './app-config';
import { ConfigError, parseEnv } from './env.schema';

describe('parseEnv', () => {
  it('gives every variable its documented default', () => {
    const config = loadConfig({});
    expect(config.http.port).toBe(3000);
    expect(config.store).toEqual({
      kind: 'memory',
      redisUrl: 'redis://127.0.0.1:6379',
      retention: 1000,
    });
    expect(config.sse).toEqual({ retryMs: 3000, heartbeatMs: 15000, maxBufferBytes: 1024 * 1024 });
    expect(config.streams.tickerIntervalMs).toBe(1000);
    expect(config.streams.typewriterIntervalMs).toBe(100);
    expect(config.streams.monitorIntervalMs).toBe(5000);
    expect(config.ai.provider).toBe('demo');
    expect(config.auth.publicTopics).toEqual(['ticker', 'chat:*']);
  });

  it.each([
    ['SSE_HEARTBEAT_MS', 'abc'],
    ['PORT', '-1'],
    ['PORT', '70000'],
    ['STORE', 'mongo'],
    ['SSE_RETRY_MS', '1.5'],
    ['CORS_CREDENTIALS', 'maybe'],
    ['REDIS_URL', 'not a url'],
    ['AI_PROVIDER', 'skynet'],
    ['MAX_CONNECTIONS', '0'],
  ])('stops start-up on %s=%s with a message naming the variable', (name, value) => {
    expect(() => parseEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => parseEnv({ [name]: value })).toThrow(
      new RegExp(`${name}: .*\\(got "${value}"\\)`),
    );
  });

  it('names every bad variable at once', () => {
    expect(() => parseEnv({ PORT: 'x', STORE: 'y' })).toThrow(/PORT[\s\S]*STORE|STORE[\s\S]*PORT/);
  });

  it('refuses NODE_ENV=production without AUTH_JWT_SECRET', () => {
    expect(() => parseEnv({ NODE_ENV: 'production' })).toThrow(/AUTH_JWT_SECRET/);
    expect(() => parseEnv({ NODE_ENV: 'production', AUTH_JWT_SECRET: 's3cret' })).not.toThrow();
  });

  it('refuses "*" in CORS_ORIGINS while credentials are on, and origins with a path', () => {
    expect(() => parseEnv({ CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' })).toThrow(/CORS_ORIGINS/);
    expect(() => parseEnv({ CORS_ORIGINS: 'https://a.example/path' })).toThrow(/CORS_ORIGINS/);
    expect(
      parseEnv({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).CORS_ORIGINS,
    ).toEqual(['https://a.example', 'http://localhost:5173']);
  });

  it('accepts the seed name MAX_HISTORY_SIZE for retention; STORE_RETENTION wins', () => {
    expect(loadConfig({ MAX_HISTORY_SIZE: '50' }).store.retention).toBe(50);
    expect(loadConfig({ MAX_HISTORY_SIZE: '50', STORE_RETENTION: '70' }).store.retention).toBe(70);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '' }).http.port).toBe(3000);
  });

  it('Durable Streams: defaults, and PUBLIC_STREAMS must be stream path patterns', () => {
    expect(loadConfig({}).durable).toEqual({
      maxBodyBytes: 1024 * 1024,
      longPollMs: 20000,
      sseMaxMs: 60000,
      publicStreams: [],
    });
    expect(loadConfig({ PUBLIC_STREAMS: 'demo/*, news' }).durable.publicStreams).toEqual([
      'demo/*',
      'news',
    ]);
    expect(() => parseEnv({ PUBLIC_STREAMS: 'a b' })).toThrow(
      /PUBLIC_STREAMS: "a b" is not a stream path pattern/,
    );
    expect(() => parseEnv({ DURABLE_LONG_POLL_MS: '10' })).toThrow(/DURABLE_LONG_POLL_MS/);
    expect(() => parseEnv({ DURABLE_MAX_BODY_BYTES: 'lots' })).toThrow(
      /DURABLE_MAX_BODY_BYTES: must be a whole number/,
    );
  });
});
