import type Redis from 'ioredis';
import { createRedisClient } from './redis-client';

describe(createRedisClient.name, () => {
  const clients: Redis[] = [];
  // Nothing listens on port 1: the clients are inspected, never used.
  const make = (...args: Parameters<typeof createRedisClient>) => {
    const client = createRedisClient(...args);
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  it('fails fast in fail-fast mode: no offline queue, one retry, the given timeout', () => {
    const { options } = make('redis://127.0.0.1:1', { kind: 'fail-fast', commandTimeoutMs: 700 });
    expect(options).toMatchObject({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 700,
      connectTimeout: 2000,
    });
  });

  it('queues commands sent while connecting in queued mode', () => {
    const { options } = make('redis://127.0.0.1:1', { kind: 'queued', commandTimeoutMs: 2000 });
    expect(options).toMatchObject({ enableOfflineQueue: true, maxRetriesPerRequest: 1 });
  });

  it('waits through outages in blocking mode: no command timeout, unlimited retries', () => {
    const { options } = make('redis://127.0.0.1:1', { kind: 'blocking' });
    expect(options.enableOfflineQueue).toBe(true);
    expect(options.maxRetriesPerRequest).toBeNull();
    expect(options.commandTimeout).toBeUndefined();
  });

  it('backs reconnects off 50 ms a try, up to 1 s', () => {
    const { options } = make('redis://127.0.0.1:1', { kind: 'blocking' });
    expect([1, 4, 20, 100].map((times) => options.retryStrategy?.(times))).toEqual([
      50, 200, 1000, 1000,
    ]);
  });

  it('defines the given scripts as commands, and only those', () => {
    const client = make(
      'redis://127.0.0.1:1',
      { kind: 'fail-fast', commandTimeoutMs: 100 },
      { rivuletTest: { numberOfKeys: 1, lua: 'return 1' } },
    ) as Redis & Record<string, unknown>;
    expect(typeof client.rivuletTest).toBe('function');
    expect(client.rivuletOther).toBeUndefined();
  });
});
