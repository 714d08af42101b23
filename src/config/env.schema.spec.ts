import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
      maxBytes: 256 * 1024 * 1024,
    });
    expect(config.http).toMatchObject({
      maxJsonDepth: 64,
      requestTimeoutMs: 10000,
      maxRequestsPerIp: 100,
    });
    expect(config.ai).toMatchObject({ maxGenerationsPerUser: 3, retentionMs: 3_600_000 });
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
    ['MAX_JSON_DEPTH', '0'],
    ['MAX_JSON_DEPTH', 'deep'],
    ['STORE_MAX_BYTES', '1k'],
    ['STORE_MAX_BYTES', '100'],
    ['REQUEST_TIMEOUT_MS', '0'],
    ['MAX_REQUESTS_PER_IP', '0'],
    ['AI_MAX_GENERATIONS_PER_USER', '0'],
    ['AI_RETENTION_MS', '-5'],
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
    const strong = 'k'.repeat(32);
    expect(() => parseEnv({ NODE_ENV: 'production', AUTH_JWT_SECRET: strong })).not.toThrow();
  });

  it('refuses a production AUTH_JWT_SECRET under 32 bytes, without echoing it', () => {
    expect(() => parseEnv({ NODE_ENV: 'production', AUTH_JWT_SECRET: 's3cret' })).toThrow(
      /AUTH_JWT_SECRET: must be at least 32 bytes when NODE_ENV=production \(got 6;/,
    );
    expect(() => parseEnv({ NODE_ENV: 'production', AUTH_JWT_SECRET: 's3cret' })).not.toThrow(
      /"s3cret"/,
    );
    // Outside production a short secret is allowed (tests, local use).
    expect(() => parseEnv({ AUTH_JWT_SECRET: 's3cret' })).not.toThrow();
  });

  it('parses TRUST_PROXY as a list of addresses and CIDRs, and names it when an entry is not one', () => {
    expect(parseEnv({}).TRUST_PROXY).toEqual([]);
    expect(parseEnv({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,loopback' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      'loopback',
    ]);
    expect(() => parseEnv({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY/);
    expect(() => parseEnv({ TRUST_PROXY: 'nginx' })).toThrow(/TRUST_PROXY/);
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

  describe('NAME_FILE (the _FILE convention of official images)', () => {
    let dir: string;
    const file = (name: string, content: string) => {
      const at = path.join(dir, name);
      writeFileSync(at, content);
      return at;
    };
    beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'rivulet-env-file-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('reads AUTH_JWT_SECRET from AUTH_JWT_SECRET_FILE, without the trailing line break', () => {
      const secret = 'from-the-file-'.padEnd(40, 'x');
      const secretFile = file('jwt', `${secret}\n`);
      const config = loadConfig({ NODE_ENV: 'production', AUTH_JWT_SECRET_FILE: secretFile });
      expect(config.auth.jwtSecret).toBe(secret);
    });

    it('works for any variable, and validates what the file holds like the variable', () => {
      expect(loadConfig({ PORT_FILE: file('port', '4100\n') }).http.port).toBe(4100);
      const bad = () => parseEnv({ PORT_FILE: file('bad-port', 'http\n') });
      expect(bad).toThrow(ConfigError);
      expect(bad).toThrow(/PORT: .*\(read from PORT_FILE\)/);
    });

    it('lets the variable itself win when both are set', () => {
      const secretFile = file('jwt', 'from-the-file');
      const config = loadConfig({ AUTH_JWT_SECRET: 'plain', AUTH_JWT_SECRET_FILE: secretFile });
      expect(config.auth.jwtSecret).toBe('plain');
    });

    it('stops start-up naming the variable when the file cannot be read', () => {
      const missing = path.join(dir, 'nope');
      const start = () => parseEnv({ AUTH_JWT_SECRET_FILE: missing });
      expect(start).toThrow(ConfigError);
      expect(start).toThrow(`AUTH_JWT_SECRET_FILE: cannot read "${missing}" (ENOENT)`);
      expect(() => parseEnv({ AUTH_JWT_SECRET_FILE: dir })).toThrow(
        /AUTH_JWT_SECRET_FILE: cannot read .* \(EISDIR\)/,
      );
    });

    it('stops start-up on an empty file rather than running without the value', () => {
      expect(() => parseEnv({ AUTH_JWT_SECRET_FILE: file('empty', '\n') })).toThrow(
        /AUTH_JWT_SECRET_FILE: ".*" is empty/,
      );
    });

    it('never echoes a value read from a file in an error', () => {
      const start = () => parseEnv({ STORE_FILE: file('store', 'sekrit-looking') });
      expect(start).toThrow(/STORE: .*\(read from STORE_FILE\)/);
      expect(start).not.toThrow(/sekrit-looking/);
    });
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
