import { Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../config/app-config';
import { ConnectionRegistry } from '../sse/connection-registry.service';
import { DrainService } from './drain.service';

function response(): { res: ServerResponse; text: () => string; ended: () => boolean } {
  const stream = new PassThrough();
  let text = '';
  let ended = false;
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  stream.on('finish', () => (ended = true));
  return { res: stream as unknown as ServerResponse, text: () => text, ended: () => ended };
}

describe(DrainService.name, () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  const setUp = (env: Record<string, string> = {}) => {
    const config = loadConfig({ SSE_RETRY_MS: '1000', SHUTDOWN_GRACE_MS: '4000', ...env });
    const registry = new ConnectionRegistry(config);
    const drain = new DrainService(registry, config);
    return { registry, drain };
  };

  it('is not draining until shutdown begins, then stays draining', () => {
    const { drain } = setUp();
    expect(drain.draining).toBe(false);
    drain.onModuleDestroy();
    expect(drain.draining).toBe(true);
    drain.beginDrain();
    expect(drain.draining).toBe(true);
  });

  it('ends streams with a retry hint between SSE_RETRY_MS and twice that', () => {
    const { drain } = setUp();
    drain.random = () => 0;
    expect(drain.lastFrame()).toBe(': shutdown\nretry: 1000\n\n');
    drain.random = () => 0.999999;
    expect(drain.lastFrame()).toBe(': shutdown\nretry: 2000\n\n');
    drain.random = () => 0.5;
    expect(drain.lastFrame()).toBe(': shutdown\nretry: 1500\n\n');
  });

  it('on a signal, spreads the ends over half of SHUTDOWN_GRACE_MS, one slot per stream', async () => {
    const { registry, drain } = setUp();
    drain.random = () => 0.5;
    const clients = Array.from({ length: 4 }, () => response());
    for (const client of clients) registry.open(client.res, 'replay', 'ip');

    const done = drain.beforeApplicationShutdown('SIGTERM');
    let finished = false;
    void done.then(() => (finished = true));
    expect(drain.draining).toBe(true);

    // Window 2000 ms, 4 slots of 500 ms, each stream ended in the middle of its slot.
    const openAt = (ms: number) => {
      jest.advanceTimersByTime(ms);
      return registry.size;
    };
    expect(openAt(249)).toBe(4);
    expect(openAt(1)).toBe(3);
    expect(openAt(500)).toBe(2);
    expect(openAt(500)).toBe(1);
    expect(openAt(500)).toBe(0);
    await done;
    expect(finished).toBe(true);
    for (const client of clients) {
      expect(client.text().endsWith(': shutdown\nretry: 1500\n\n')).toBe(true);
    }
    expect(registry.stats.closedBy.shutdown).toBe(4);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('ends every stream before the end of the window whatever the jitter', async () => {
    const { registry, drain } = setUp({ SHUTDOWN_GRACE_MS: '1000' });
    drain.random = () => 0.999999;
    for (let i = 0; i < 50; i++) registry.open(response().res, 'replay', 'ip');
    const done = drain.beforeApplicationShutdown('SIGTERM');
    jest.advanceTimersByTime(500);
    expect(registry.size).toBe(0);
    await done;
  });

  it('does not wait for a stream the client already left', async () => {
    const { registry, drain } = setUp();
    const gone = registry.open(response().res, 'replay', 'ip');
    registry.open(response().res, 'replay', 'ip');
    drain.random = () => 0.99;
    const done = drain.beforeApplicationShutdown('SIGTERM');
    gone.released();
    jest.advanceTimersByTime(2000);
    await done;
    expect(registry.stats.closedBy.client).toBe(1);
    expect(registry.stats.closedBy.shutdown).toBe(1);
  });

  it('on a programmatic close (no signal), ends every stream at once', async () => {
    const { registry, drain } = setUp();
    const client = response();
    registry.open(client.res, 'replay', 'ip');
    await drain.beforeApplicationShutdown();
    expect(registry.size).toBe(0);
    expect(client.text()).toMatch(/^: shutdown\nretry: \d+\n\n$/);
  });

  it('with SHUTDOWN_GRACE_MS=0, ends every stream at once even on a signal', async () => {
    const { registry, drain } = setUp({ SHUTDOWN_GRACE_MS: '0' });
    registry.open(response().res, 'replay', 'ip');
    await drain.beforeApplicationShutdown('SIGTERM');
    expect(registry.size).toBe(0);
  });
});
