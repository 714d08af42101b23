import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../config/app-config';
import { ConnectionRegistry } from './connection-registry.service';

function response(): { res: ServerResponse; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { res: stream as unknown as ServerResponse, text: () => text };
}

describe(ConnectionRegistry.name, () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  const registryWith = (heartbeatMs: number) =>
    new ConnectionRegistry(loadConfig({ SSE_HEARTBEAT_MS: String(heartbeatMs) }));

  it('pings a stream that has been quiet for SSE_HEARTBEAT_MS, and only that one', () => {
    const registry = registryWith(1000);
    const quiet = response();
    const busy = response();
    registry.open(quiet.res, 'a', 'ip');
    const busyConnection = registry.open(busy.res, 'b', 'ip');
    for (let t = 0; t < 4; t++) {
      jest.advanceTimersByTime(250);
      busyConnection.send('data: x\n\n', registry.clock());
    }
    jest.advanceTimersByTime(250);
    expect(quiet.text()).toBe(': ping\n\n');
    expect(busy.text()).not.toContain(': ping');
    expect(registry.stats.heartbeats).toBe(1);
    registry.onModuleDestroy();
  });

  it('runs one shared timer for every connection, and none once they are all gone', () => {
    const registry = registryWith(1000);
    const connections = Array.from({ length: 100 }, () => registry.open(response().res, 'a', 'ip'));
    expect(jest.getTimerCount()).toBe(1);
    connections.forEach((c) => c.released());
    expect(registry.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('counts connections by kind and by address, and forgets them on close', () => {
    const registry = registryWith(1000);
    const a = registry.open(response().res, 'replay', '10.0.0.1');
    registry.open(response().res, 'replay', '10.0.0.2');
    registry.open(response().res, 'topics', '10.0.0.1');
    expect(registry.countByKind()).toEqual({ replay: 2, topics: 1 });
    expect(registry.countForIp('10.0.0.1')).toBe(2);
    a.released();
    expect(registry.countByKind()).toEqual({ replay: 1, topics: 1 });
    expect(registry.countForIp('10.0.0.1')).toBe(1);
    registry.onModuleDestroy();
  });

  it('reserves slots at admission against both limits, hands them to the stream, and gives them back', () => {
    const registry = registryWith(1000);
    const limits = { maxConnections: 3, maxConnectionsPerIp: 2 };
    const first = registry.reserve('10.0.0.1', limits);
    const second = registry.reserve('10.0.0.1', limits);
    expect(registry.reserve('10.0.0.1', limits)).toBe('ip');
    const other = registry.reserve('10.0.0.2', limits);
    expect(registry.reserve('10.0.0.3', limits)).toBe('instance');
    if (typeof first === 'string' || typeof second === 'string' || typeof other === 'string')
      throw new Error('expected reservations');
    // A stream takes over its slot: counted once.
    const connection = registry.open(response().res, 'a', '10.0.0.1', first);
    expect(registry.countForIp('10.0.0.1')).toBe(2);
    first.release(); // a no-op once claimed
    expect(registry.countForIp('10.0.0.1')).toBe(2);
    // Refused or failed: released, twice is once.
    second.release();
    second.release();
    other.release();
    expect(registry.countForIp('10.0.0.1')).toBe(1);
    expect(registry.countForIp('10.0.0.2')).toBe(0);
    connection.released();
    expect(registry.countForIp('10.0.0.1')).toBe(0);
    expect(typeof registry.reserve('10.0.0.1', limits)).toBe('object');
    registry.onModuleDestroy();
  });
});
