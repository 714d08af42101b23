import { EVENT_LOG, EventLog } from '../src/event-log/event-log';
import { TickerService } from '../src/replay/ticker.service';
import { ConnectionRegistry } from '../src/sse/connection-registry.service';
import { startApp, RunningApp } from './support/app';
import { RawStream } from './support/sse-client';

/** Ids of the complete ticker frames of a raw stream, live or replayed (a cut-off frame does not count). */
function ids(stream: RawStream): number[] {
  return stream
    .frames()
    .map((frame) => /^id: (\d+)$/m.exec(frame)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number);
}

describe('a consumer that stops reading', () => {
  let running: RunningApp;

  beforeEach(async () => {
    running = await startApp({ SSE_MAX_BUFFER_BYTES: '65536', STORE_RETENTION: '5000' });
  });
  afterEach(() => running.close());

  it('is cut off past SSE_MAX_BUFFER_BYTES, then resumes with Last-Event-ID losing nothing', async () => {
    const ticker = running.app.get(TickerService);
    const registry = running.app.get(ConnectionRegistry);
    const log = running.app.get<EventLog>(EVENT_LOG);
    const slow = new RawStream(`${running.url}/events`);
    await slow.waitFor((s) => s.text.includes('"connected"'));
    // Stop reading: the socket buffers fill, then the server's buffer passes the limit.
    slow.response!.pause();
    slow.request.socket!.pause();
    let published = 0;
    // Ids start from the clock: the ticker's events follow the id of this first one.
    const before = Number((await log.append({ topic: 'other', type: 'm', data: null })).id);
    while (registry.stats.closedBy.slow_consumer === 0 && published < 20_000) {
      await ticker.publish();
      published++;
    }
    expect(registry.stats.closedBy.slow_consumer).toBe(1);
    expect(registry.size).toBe(0);
    expect(log.subscriberCount()).toBe(0);

    // What the client did get, it read in full before the cut; it resumes from its last id.
    slow.response!.resume();
    slow.request.socket!.resume();
    await slow.waitFor((s) => s.ended, 10_000, 'the cut connection to end');
    const received = ids(slow);
    const last = received[received.length - 1] ?? before;
    const resumed = new RawStream(`${running.url}/events`, { 'Last-Event-ID': String(last) });
    await resumed.waitFor((s) => s.text.includes('"catch_up_end"'), 10_000, 'catch-up');
    resumed.close();
    const all = [...received, ...ids(resumed)];
    expect(all).toEqual(Array.from({ length: published }, (_, i) => before + i + 1));
  });
});
