import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import http from 'node:http';
import { RunningApp, startApp } from './support/app';
import { request } from './support/http';
import { RedisServer } from './support/redis';

/**
 * Property-based fuzzing of everything a client sends: the bodies of publish, notifications, chat
 * and AI, query strings and Last-Event-ID. Whatever arrives: no 5xx, the process lives and still
 * answers, and no input becomes a frame of its own. Run counts are bounded (a loaded 2-core machine
 * runs this in seconds); fast-check prints the seed of a failure to replay it.
 */
const RUNS = 40;

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.dispose();
});

/** One request with a raw body and headers; resolves with the status (a stream is closed at once). */
function send(
  url: string,
  method: 'GET' | 'POST',
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) {
      headers['Content-Type'] ??= 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(options.body));
    }
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        req.destroy();
        resolve(status);
        return;
      }
      res.resume();
      res.on('end', () => resolve(status));
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end(options.body);
  });
}

/** JSON values of every shape (deep ones too), and raw text that is not JSON at all. */
const anyJson = fc.jsonValue({ maxDepth: 6 });
const deepJson = fc
  .integer({ min: 60, max: 5000 })
  .map((depth) => '['.repeat(depth) + ']'.repeat(depth));
const rawBody = fc.oneof(
  anyJson.map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  deepJson,
  deepJson.map((nested) => `{"data":${nested},"title":"t","body":"b","broadcast":true}`),
);
/** Objects close to the real shapes, with fuzzed fields: these get past the first checks. */
const shapedBody = fc.oneof(
  fc.record(
    { type: fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/)), data: anyJson },
    { requiredKeys: ['data'] },
  ),
  fc.record(
    {
      userId: fc.string(),
      userIds: fc.array(fc.string(), { maxLength: 5 }),
      broadcast: fc.boolean(),
      title: fc.string(),
      body: fc.string(),
      data: anyJson,
    },
    { requiredKeys: [] },
  ),
  fc.record({ user: fc.string(), text: fc.string() }, { requiredKeys: [] }),
  fc.record({
    messages: fc.array(
      fc.record({
        role: fc.oneof(fc.constantFrom('user', 'system', 'assistant'), fc.string()),
        content: fc.string({ maxLength: 50 }),
      }),
      { maxLength: 4 },
    ),
  }),
);
const anyBody = fc.oneof(
  rawBody,
  shapedBody.map((value) => JSON.stringify(value)),
);
const bodyRoute = fc.constantFrom(
  '/api/events/fuzz',
  '/api/events/ai:x',
  '/api/notifications',
  '/api/chat/lobby/message',
  '/api/ai/chat?pace=char',
);
/** Anything a header may carry (printable ASCII). */
const headerText = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
/** Raw query strings: encoded pairs, and unencoded junk (stray %, +, =, &). */
const queryString = fc.oneof(
  fc
    .array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 24 })), { maxLength: 30 })
    .map((pairs) =>
      pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
    ),
  fc.stringMatching(/^[!-"$-~]{0,80}$/),
  fc
    .array(fc.constantFrom('topic=a', 'topic=b,c', 'lastEventId=1', 'topic=', 'x'), {
      maxLength: 140,
    })
    .map((parts) => parts.join('&')),
);
const streamPath = fc.constantFrom(
  '/api/events',
  '/api/stream/a,b',
  '/api/notifications/stream',
  '/api/chat/lobby',
  '/api/stream',
  '/events',
  '/api/ai/chat',
  '/api/ai/chat/00000000-0000-4000-8000-000000000000',
);

describe.each(['memory', 'redis'] as const)('fuzzing what clients send (STORE=%s)', (store) => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp({
      ...(store === 'redis' ? { STORE: 'redis', REDIS_URL: redis.url } : {}),
      AI_DEMO_TOKEN_MS: '0',
      AI_MAX_GENERATIONS_PER_USER: '1000',
      LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    await running.close();
  });

  afterEach(async () => {
    // The instance still answers after every property.
    expect((await request(`${running.url}/health/live`, 'GET')).status).toBe(200);
  });

  it('bodies of publish, notifications, chat and AI: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(bodyRoute, anyBody, fc.boolean(), async (route, body, asJson) => {
        const headers: Record<string, string> = asJson ? {} : { 'Content-Type': 'text/plain' };
        const status = await send(`${running.url}${route}`, 'POST', { body, headers });
        expect(status).toBeGreaterThanOrEqual(200);
        expect(status).toBeLessThan(500);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('query strings and Last-Event-ID on every stream: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        streamPath,
        queryString,
        fc.option(headerText, { nil: undefined }),
        async (path, query, lastEventId) => {
          const headers: Record<string, string> =
            lastEventId === undefined ? {} : { 'Last-Event-ID': lastEventId };
          const status = await send(`${running.url}${path}?${query}`, 'GET', { headers });
          expect(status).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS * 3 },
    );
  });

  it('no published input becomes a frame of its own: a subscriber gets exactly what was accepted', async () => {
    const topic = `fuzz-frames-${store}`;
    const received: EventSourceMessage[] = [];
    let notify = () => undefined as void;
    const parser = createParser({
      onEvent: (event) => {
        received.push(event);
        notify();
      },
    });
    const subscriber = http.get(`${running.url}/api/events?topic=${topic}`, { agent: false });
    await new Promise<void>((resolve, reject) => {
      subscriber.once('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        resolve();
      });
      subscriber.once('error', reject);
    });
    const accepted: Array<{ id: string; type: string; data: string }> = [];
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
            fc.constant(undefined),
          ),
          fc.oneof(
            anyJson,
            fc.string({ unit: 'binary' }),
            fc.constantFrom('\n\ndata: x', 'a\r\nid: 9\r\n\r\n'),
          ),
          async (type, data) => {
            const body = JSON.stringify(type === undefined ? { data } : { type, data });
            const res = await request(`${running.url}/api/events/${topic}`, 'POST', {
              rawBody: body,
              headers: {
                'Content-Type': 'application/json',
                'Content-Length': String(Buffer.byteLength(body)),
              },
            });
            expect(res.status).toBeLessThan(500);
            if (res.status === 202) {
              accepted.push({
                id: (res.json as { id: string }).id,
                type: type ?? 'message',
                data: JSON.stringify(JSON.parse(body).data),
              });
            }
          },
        ),
        { numRuns: RUNS },
      );
      const last = accepted.at(-1);
      if (last) {
        await new Promise<void>((resolve) => {
          notify = () => {
            if (received.some((e) => e.id === last.id)) resolve();
          };
          notify();
        });
      }
      // Exactly one frame per accepted publish, in order, each one whole: its own id, its own
      // type, its own data. Nothing a publisher sent opened a frame, an id or an event of its own.
      expect(received.map((e) => e.id)).toEqual(accepted.map((a) => a.id));
      received.forEach((event, i) => {
        const sent = accepted[i]!;
        expect(event.event ?? 'message').toBe(sent.type);
        const payload = JSON.parse(event.data) as { id: string; topic: string; data: unknown };
        expect(payload.id).toBe(sent.id);
        expect(payload.topic).toBe(topic);
        expect(JSON.stringify(payload.data)).toBe(sent.data);
      });
      // Negative control: the property did publish, including values that hold line breaks.
      expect(accepted.length).toBeGreaterThan(0);
    } finally {
      subscriber.destroy();
    }
  });
});
