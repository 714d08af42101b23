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
});
