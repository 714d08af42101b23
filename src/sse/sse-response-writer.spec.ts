import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subject } from 'rxjs';
import { loadConfig } from '../config/app-config';
import { ConnectionRegistry } from './connection-registry.service';
import { directSseSource, SSE_OPEN, sseBatch, SseEmission, SseSink } from './sse-message';
import { SseResponseWriter, SseWriterHooks } from './sse-response-writer';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A real node:http server whose one route hands its response to `start`, and a client that reads
 * the whole reply (or what arrived when `until` says so, then disconnects).
 */
async function serve(
  start: (req: IncomingMessage, res: ServerResponse) => void,
  method = 'GET',
  until?: (body: string) => boolean,
): Promise<Reply> {
  const server = http.createServer(start);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ port, host: '127.0.0.1', method }, (res) => {
        let body = '';
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (until?.(body)) {
            done();
            req.destroy();
          }
        });
        res.on('end', done);
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const config = loadConfig({ SSE_RETRY_MS: '1500' });

function writerFor(
  req: IncomingMessage,
  res: ServerResponse,
  registry: ConnectionRegistry,
  hooks: Partial<SseWriterHooks> = {},
  onStreamError: (error: unknown) => void = () => undefined,
): SseResponseWriter {
  return new SseResponseWriter(
    res,
    registry,
    {
      kind: 'test',
      ip: '127.0.0.1',
      retryMs: config.sse.retryMs,
      headOnly: req.method === 'HEAD',
      keepAlive: true,
      onStreamError,
      requestId: 'req-1',
    },
    { answered: () => undefined, failed: () => undefined, ...hooks },
  );
}

describe(SseResponseWriter.name, () => {
  let registry: ConnectionRegistry;
  beforeEach(() => (registry = new ConnectionRegistry(config)));
  afterEach(() => registry.onModuleDestroy());

  describe('before the source emits', () => {
    it('writes nothing, so a failure is answered by the caller with a real status', async () => {
      const failures: unknown[] = [];
      const reply = await serve((req, res) => {
        const source = new Subject<SseEmission>();
        const writer = writerFor(req, res, registry, {
          failed: (error) => {
            failures.push(error);
            res.writeHead(403).end('refused');
          },
        });
        writer.attach(source);
        expect(res.headersSent).toBe(false);
        source.error(new Error('no access'));
      });
      expect(reply).toMatchObject({ status: 403, body: 'refused' });
      expect(failures).toEqual([new Error('no access')]);
      expect(registry.size).toBe(0);
    });

    it('answers 204 when the source completes without emitting (nothing left to send)', async () => {
      let answered = 0;
      const reply = await serve((req, res) => {
        const source = new Subject<SseEmission>();
        writerFor(req, res, registry, { answered: () => answered++ }).attach(source);
        source.complete();
      });
      expect(reply.status).toBe(204);
      expect(reply.headers['x-request-id']).toBe('req-1');
      expect(reply.body).toBe('');
      expect(answered).toBe(1);
      expect(registry.stats.opened).toBe(0);
    });
  });

  describe('once the source opens the stream', () => {
    it('sends the headers, retry and the opening comment, then each message, and ends on complete', async () => {
      let answered = 0;
      const reply = await serve((req, res) => {
        const source = new Subject<SseEmission>();
        writerFor(req, res, registry, { answered: () => answered++ }).attach(source);
        source.next(SSE_OPEN);
        source.next({ id: '7', type: 'note', data: { a: 1 } });
        source.next(sseBatch([{ id: '8', data: 'x' }, { data: 'two\nlines' }]));
        source.complete();
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(reply.headers['cache-control']).toBe('no-cache, no-transform');
      expect(reply.headers['x-accel-buffering']).toBe('no');
      expect(reply.headers['x-request-id']).toBe('req-1');
      expect(reply.body).toBe(
        'retry: 1500\n: connected\n\n' +
          'event: note\nid: 7\ndata: {"a":1}\n\n' +
          'id: 8\ndata: x\n\n' +
          'data: two\ndata: lines\n\n',
      );
      expect(answered).toBe(1);
      expect(registry.stats).toMatchObject({ opened: 1, delivered: 1, replayed: 2 });
      expect(registry.stats.closedBy.completed).toBe(1);
    });

    it('ends a stream that fails with a final error event, and reports a non-HTTP error', async () => {
      const reported: unknown[] = [];
      const reply = await serve((req, res) => {
        const source = new Subject<SseEmission>();
        writerFor(req, res, registry, {}, (error) => reported.push(error)).attach(source);
        source.next({ id: '1', data: 'a' });
        source.error(new Error('store gone'));
      });
      expect(reply.body).toBe(
        'retry: 1500\n: connected\n\nid: 1\ndata: a\n\n' +
          'data: {"type":"error","message":"The stream failed; reconnect to resume"}\n\n',
      );
      expect(reported).toEqual([new Error('store gone')]);
      expect(registry.stats.closedBy.error).toBe(1);
    });

    it('answers HEAD with the stream headers and no body, and releases the source', async () => {
      const source = new Subject<SseEmission>();
      const reply = await serve((req, res) => {
        writerFor(req, res, registry).attach(source);
        source.next(SSE_OPEN);
      }, 'HEAD');
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(reply.body).toBe('');
      expect(source.observed).toBe(false);
      expect(registry.stats.closedBy.completed).toBe(1);
    });
  });

  describe('when the client disconnects', () => {
    it('releases the source at once', async () => {
      const source = new Subject<SseEmission>();
      let closedResponse: () => void = () => undefined;
      const closed = new Promise<void>((resolve) => (closedResponse = resolve));
      await serve(
        (req, res) => {
          res.once('close', () => setImmediate(closedResponse));
          writerFor(req, res, registry).attach(source);
          source.next({ data: 'hello' });
        },
        'GET',
        (body) => body.includes('hello'),
      );
      await closed;
      expect(source.observed).toBe(false);
      expect(registry.size).toBe(0);
      expect(registry.stats.closedBy.client).toBe(1);
    });
  });

  describe('with a DirectSseSource', () => {
    it('is fed by the source directly (live messages without a subscription) and releases it on close', async () => {
      let sink: SseSink | undefined;
      let subscribed = 0;
      let released = 0;
      const source = directSseSource((s) => {
        sink = s;
        return () => released++;
      });
      const originalSubscribe = source.subscribe.bind(source);
      source.subscribe = ((...args: Parameters<typeof source.subscribe>) => {
        subscribed++;
        return originalSubscribe(...args);
      }) as typeof source.subscribe;
      const reply = await serve((req, res) => {
        const writer = writerFor(req, res, registry);
        writer.attach(source);
        expect(sink).toBe(writer);
        sink!.next(SSE_OPEN);
        const message = { id: '3', data: 'live' };
        sink!.live(message);
        sink!.live(message);
        sink!.complete();
      });
      expect(reply.body).toBe(
        'retry: 1500\n: connected\n\nid: 3\ndata: live\n\nid: 3\ndata: live\n\n',
      );
      expect(subscribed).toBe(0);
      expect(released).toBe(1);
      expect(registry.stats.delivered).toBe(2);
    });
  });
});
