import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { SseConnection } from './sse-connection';

/** A response stand-in whose consumer reads only when told to: Node's own buffering and drain. */
class SlowResponse extends Writable {
  readonly written: string[] = [];
  private pending: Array<() => void> = [];

  constructor() {
    super({ highWaterMark: 64, decodeStrings: false });
  }

  override _write(chunk: string, _enc: BufferEncoding, done: () => void): void {
    this.written.push(chunk);
    this.pending.push(done);
  }

  /** The client reads everything written so far. */
  read(): void {
    const pending = this.pending.splice(0);
    pending.forEach((done) => done());
  }

  get text(): string {
    return this.written.join('');
  }
}

function connectionOn(res: SlowResponse, maxBufferBytes: number): SseConnection {
  return new SseConnection(
    1,
    'test',
    '127.0.0.1',
    res as unknown as ServerResponse,
    maxBufferBytes,
    0,
  );
}

describe(SseConnection.name, () => {
  describe('when the client stops reading', () => {
    it('drops the connection once unsent bytes pass the buffer limit', () => {
      const res = new SlowResponse();
      const connection = connectionOn(res, 1024);
      const reasons: string[] = [];
      connection.onClose((reason) => reasons.push(reason));
      for (let i = 0; i < 100 && !connection.closed; i++)
        connection.send(`data: ${'x'.repeat(40)}\n\n`, i);
      expect(connection.closed).toBe(true);
      expect(reasons).toEqual(['slow_consumer']);
      expect(res.destroyed).toBe(true);
    });

    it('keeps a connection whose client reads, however much goes through it', () => {
      const res = new SlowResponse();
      const connection = connectionOn(res, 1024);
      for (let i = 0; i < 1000; i++) {
        connection.send(`data: ${'x'.repeat(40)}\n\n`, i);
        res.read();
      }
      expect(connection.closed).toBe(false);
    });
  });

  describe('a batch (replay)', () => {
    it('is written with backpressure, waiting for drain, and live frames wait behind it', async () => {
      const res = new SlowResponse();
      const connection = connectionOn(res, 4096);
      const batch = Array.from({ length: 50 }, (_, i) => `id: ${i}\ndata: replay\n\n`);
      const done = connection.sendBatch(batch, () => 0);
      connection.send('id: 50\ndata: live\n\n', 0);
      // Only what fits the buffer went out: the rest waits for the client to read.
      expect(res.written.length).toBeLessThan(batch.length);
      while (res.written.join('').split('\n\n').length - 1 < 51) {
        res.read();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await done;
      const ids = res.text.match(/id: \d+/g)?.map((line) => Number(line.slice(4)));
      expect(ids).toEqual(Array.from({ length: 51 }, (_, i) => i));
      expect(connection.closed).toBe(false);
    });

    it('does not count the batch itself against the buffer limit (a big replay is not a slow consumer)', async () => {
      const res = new SlowResponse();
      const connection = connectionOn(res, 1024);
      const batch = Array.from({ length: 200 }, (_, i) => `id: ${i}\ndata: ${'y'.repeat(40)}\n\n`);
      const done = connection.sendBatch(batch, () => 0);
      while (!connection.closed && res.written.length < batch.length) {
        res.read();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      res.read();
      await done;
      expect(connection.closed).toBe(false);
      expect(res.written).toHaveLength(200);
    });

    it('ends the stream only after the batch is out', async () => {
      const res = new SlowResponse();
      const connection = connectionOn(res, 4096);
      const done = connection.sendBatch(['data: a\n\n'.repeat(20), 'data: b\n\n'], () => 0);
      connection.end('completed');
      expect(res.writableEnded).toBe(false);
      while (!res.writableEnded) {
        res.read();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await done;
      expect(res.text.endsWith('data: b\n\n')).toBe(true);
    });
  });
});
