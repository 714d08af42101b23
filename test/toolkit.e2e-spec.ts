import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from './support/http';
import { freePort, waitUntilAccepting } from './support/ports';
import { StreamReader } from './support/sse-client';
import { dataFrames, parseFrames } from './support/sse-frames';
import { Changes, until } from './support/wait';

/**
 * The test toolkit itself (test/support/): the frame parser every stream test reads with, the
 * waits every test waits with, the request helper and the port helpers. A helper that accepted
 * anything would let every test built on it pass vacuously, so each case has its negative side.
 */

describe('parseFrames (eventsource-parser underneath)', () => {
  it('returns every complete frame with its fields, comments and retry; an unfinished one is left out', () => {
    const text = 'retry: 50\n: connected\n\nid: 7\nevent: x\ndata: a\ndata:b\n\ndata: cut';
    const frames = parseFrames(text);
    expect(frames).toEqual([
      {
        text: 'retry: 50\n: connected',
        end: 23,
        id: undefined,
        event: undefined,
        data: undefined,
        retry: 50,
        comments: ['connected'],
      },
      {
        text: 'id: 7\nevent: x\ndata: a\ndata:b',
        end: 54,
        id: '7',
        event: 'x',
        data: 'a\nb',
        retry: undefined,
        comments: [],
      },
    ]);
    expect(text.slice(frames[1]!.end)).toBe('data: cut');
  });

  it('ends frames on a blank line of any line end (LF, CRLF, CR), and only there', () => {
    const frames = parseFrames('data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\ndata: e\n\n');
    expect(frames.map((f) => f.data)).toEqual(['a', 'b', 'c', 'd\ne']);
    expect(frames.map((f) => f.text)).toEqual([
      'data: a',
      'data: b',
      'data: c',
      'data: d\r\ndata: e',
    ]);
    expect(parseFrames('data: a\ndata: b\n')).toEqual([]);
    expect(parseFrames('')).toEqual([]);
  });

  it('keeps an id only on the frame that carries it, and drops an id holding NUL', () => {
    const frames = parseFrames('id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\n');
    expect(frames.map((f) => f.id)).toEqual(['1', undefined, undefined]);
  });

  it('dataFrames: only frames with data, the data parsed as JSON; non-JSON data is an error', () => {
    expect(dataFrames('id: 1\ndata: {"a":1}\n\n: ping\n\nretry: 5\n\n')).toEqual([
      { id: '1', event: undefined, data: { a: 1 } },
    ]);
    expect(() => dataFrames('data: {oops\n\n')).toThrow(SyntaxError);
  });
});

describe('Changes.until (event-driven)', () => {
  it('checks again on each notify and resolves only once the check holds', async () => {
    const changes = new Changes();
    let value = 0;
    let resolved = false;
    const waited = changes.until(() => value >= 2, 'value 2').then(() => (resolved = true));
    value = 1;
    changes.notify();
    await Promise.resolve();
    expect(resolved).toBe(false);
    value = 2;
    expect(resolved).toBe(false); // no notify yet: nothing checked
    changes.notify();
    await waited;
    expect(resolved).toBe(true);
  });

  it('fails with what it waited for and what it got, or at once with the check’s own error', async () => {
    const changes = new Changes();
    await expect(
      changes.until(() => false, 'never', { timeoutMs: 20, got: () => 'nothing' }),
    ).rejects.toThrow('timed out after 20 ms waiting for never; got nothing');
    const failing = changes.until(() => {
      throw new Error('the stream closed');
    }, 'a frame');
    await expect(failing).rejects.toThrow('the stream closed');
  });
});

describe('until (polling)', () => {
  it('asks an asynchronous check again until it holds', async () => {
    let asked = 0;
    await until(() => Promise.resolve(++asked === 3), 'the third answer', { everyMs: 1 });
    expect(asked).toBe(3);
  });

  it('fails after its bound when the check never holds', async () => {
    await expect(until(() => false, 'never', { timeoutMs: 20, everyMs: 1 })).rejects.toThrow(
      'timed out after 20 ms waiting for never',
    );
  });
});

describe('request, StreamReader and the ports', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('retry: 10\n\ndata: {"n":1}\n\n');
        return; // stays open
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () =>
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({
            method: req.method,
            type: req.headers['content-type'],
            body: Buffer.concat(chunks).toString(),
            from: req.socket.remoteAddress,
          }),
        ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('request sends JSON or a raw body from the chosen local address and reads the whole answer', async () => {
    const json = await request(`${url}/x`, 'POST', { body: { a: 1 } });
    expect(json.status).toBe(201);
    expect(json.json).toEqual({
      method: 'POST',
      type: 'application/json',
      body: '{"a":1}',
      from: '127.0.0.1',
    });
    expect(json.bytes.toString()).toBe(json.body);
    const raw = await request(`${url}/x`, 'PUT', {
      rawBody: Buffer.from('plain'),
      headers: { 'Content-Type': 'text/plain' },
      localAddress: '127.0.0.2',
    });
    expect(raw.json).toEqual({
      method: 'PUT',
      type: 'text/plain',
      body: 'plain',
      from: '127.0.0.2',
    });
  });

  it('StreamReader: the status at once, the frames as they come, the stream left open', async () => {
    const stream = new StreamReader(`${url}/stream`);
    try {
      expect((await stream.responded()).status).toBe(200);
      await stream.waitFor((s) => s.dataFrames().length === 1, 10_000, 'the data frame');
      expect(stream.frames().map((f) => f.retry)).toEqual([10, undefined]);
      expect(stream.dataFrames()).toEqual([{ id: undefined, event: undefined, data: { n: 1 } }]);
      expect(stream.ended).toBe(false);
    } finally {
      stream.close();
    }
  });

  it('StreamReader.responded rejects when there is no server', async () => {
    const port = await freePort();
    await expect(new StreamReader(`http://127.0.0.1:${port}/`).responded()).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });

  it('waitUntilAccepting resolves for a listening port and fails at once for a process that is gone', async () => {
    await waitUntilAccepting(Number(new URL(url).port), 10_000);
    const port = await freePort();
    await expect(waitUntilAccepting(port, 60_000, () => false)).rejects.toThrow(
      `the process for port ${port} is not running`,
    );
  });
});
