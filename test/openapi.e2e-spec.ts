import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createParser } from 'eventsource-parser';
import http from 'node:http';
import type { OpenAPIV3 } from 'openapi-types';
import { startApp, type RunningApp } from './support/app';
import { FakeOpenAi } from './support/fake-openai';
import { post, request } from './support/http';
import { StreamReader, type StreamRequest } from './support/sse-client';

/**
 * The API document (/docs/openapi.json): a valid OpenAPI 3 document, every route the app serves is
 * in it and nothing else, and each stream route's event schema accepts every event a real stream
 * of that route sends (recorded over loopback HTTP, validated with ajv).
 */

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];
const METHODS_OF_HTTP = http.METHODS.map((method) => method.toLowerCase());

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
}

/**
 * Every route of the running app as `METHOD /path/{param}`: the Express router's routes (Nest's
 * controllers and what SwaggerModule registers). Static files (public/) are a middleware, not
 * routes, and are not part of the API; so is a Nest middleware bound to every route (the request
 * logger): Nest 12 registers it on the router as a route for each and every HTTP method. The
 * reference UI's own files below /docs/ (its HTML, init script, licence) are the UI at /docs.
 */
function servedRoutes(running: RunningApp): string[] {
  const express = running.app.getHttpAdapter().getInstance() as {
    router: { stack: ExpressLayer[] };
  };
  const routes = new Set<string>();
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    const everyMethod = METHODS_OF_HTTP.every((method) => layer.route!.methods[method]);
    if (everyMethod) continue;
    const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
    for (const path of paths) {
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (!on || method === '_all') continue;
        if (path.startsWith('/docs/') && path !== '/docs/openapi.json') continue;
        routes.add(`${method.toUpperCase()} ${openApiPath(path)}`);
      }
    }
  }
  return [...routes].sort();
}

function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function documentedRoutes(doc: OpenAPIV3.Document): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      if (item?.[method]) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return routes.sort();
}

function missingFrom(doc: OpenAPIV3.Document, routes: string[]): string[] {
  const documented = new Set(documentedRoutes(doc));
  return routes.filter((route) => !documented.has(route));
}

/** The routes whose 200 answer is `text/event-stream`. */
function streamRoutes(doc: OpenAPIV3.Document): string[] {
  return documentedRoutes(doc).filter((route) => {
    const [method, path] = route.split(' ') as [string, string];
    const op = doc.paths[path]![method.toLowerCase() as Method] as OpenAPIV3.OperationObject;
    const ok = op.responses['200'] as OpenAPIV3.ResponseObject | undefined;
    return ok?.content?.['text/event-stream'] !== undefined;
  });
}

interface RecordedEvent {
  event: string | undefined;
  id: string | undefined;
  data: string;
}

/** A stream read over loopback HTTP, parsed by eventsource-parser (the wire format, not our code). */
class RecordedStream {
  readonly events: RecordedEvent[] = [];
  readonly reader: StreamReader;
  private parsed = 0;
  private readonly parser = createParser({
    onEvent: (event) => this.events.push({ event: event.event, id: event.id, data: event.data }),
  });

  constructor(url: string, options: StreamRequest = {}) {
    this.reader = new StreamReader(url, options);
  }

  private sync(): RecordedEvent[] {
    this.parser.feed(this.reader.text.slice(this.parsed));
    this.parsed = this.reader.text.length;
    return this.events;
  }

  async until(done: (events: RecordedEvent[]) => boolean, what: string): Promise<RecordedEvent[]> {
    await this.reader.waitFor(() => done(this.sync()), 20_000, what);
    return this.events;
  }

  close(): void {
    this.reader.close();
  }
}

const jsonOf = (event: RecordedEvent): any => JSON.parse(event.data);
const has = (type: string) => (events: RecordedEvent[]) =>
  events.some((e) => e.data !== '[DONE]' && jsonOf(e)?.type === type);

describe('the API document: /docs/openapi.json and /docs', () => {
  let running: RunningApp;
  let fake: FakeOpenAi;
  let doc: OpenAPIV3.Document;
  /** `METHOD /path` → events recorded from a real stream of that route. */
  const recorded = new Map<string, RecordedEvent[]>();
  const open: RecordedStream[] = [];

  beforeAll(async () => {
    fake = await new FakeOpenAi().start();
    running = await startApp({
      AI_PROVIDER: 'openai',
      AI_BASE_URL: fake.baseUrl,
      AI_API_KEY: 'test',
      TICKER_INTERVAL_MS: '20',
    });
    const res = await request(`${running.url}/docs/openapi.json`, 'GET');
    expect(res.status).toBe(200);
    doc = res.json as OpenAPIV3.Document;
  });

  afterAll(async () => {
    for (const stream of open) stream.close();
    await running?.close();
    await fake?.stop();
  });

  function stream(route: string, url: string, options: StreamRequest = {}): RecordedStream {
    const recording = new RecordedStream(`${running.url}${url}`, options);
    open.push(recording);
    // The recording's own array: events keep arriving into it.
    recorded.set(route, recording.events);
    return recording;
  }

  it('is a valid OpenAPI 3 document (swagger-parser), and a broken one is not', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    const broken = structuredClone(doc);
    (broken.paths['/api/events']!.get!.responses['200'] as OpenAPIV3.ResponseObject).content![
      'text/event-stream'
    ]!.schema = { $ref: '#/components/schemas/NoSuchSchema' };
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow(/NoSuchSchema/);
  });

  it('serves the reference UI at /docs', async () => {
    const res = await request(`${running.url}/docs`, 'GET');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/swagger-ui/i);
  });

  it('documents every route the app serves, and only those', () => {
    const served = servedRoutes(running);
    // The enumeration is real: it sees the stream, publish, health and docs routes.
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /events',
        'POST /api/events/{topic}',
        'GET /api/ai/sdk/chat/{chatId}/stream',
        'GET /health/ready',
        'GET /docs/openapi.json',
      ]),
    );
    expect(served.length).toBeGreaterThanOrEqual(20);
    expect(missingFrom(doc, served)).toEqual([]);
    expect(documentedRoutes(doc)).toEqual(served);
    // Control: a route left out of the document is reported.
    const partial = structuredClone(doc);
    delete partial.paths['/api/chat/{roomId}/message'];
    expect(missingFrom(partial, served)).toEqual(['POST /api/chat/{roomId}/message']);
  });

  it('describes each stream: text/event-stream with a oneOf of its events, Last-Event-ID, lastEventId, access_token, errors', () => {
    const streams = streamRoutes(doc);
    expect(streams).toHaveLength(12);
    for (const route of streams) {
      const [method, path] = route.split(' ') as [string, string];
      const op = doc.paths[path]![method.toLowerCase() as Method] as OpenAPIV3.OperationObject;
      const schema = (op.responses['200'] as OpenAPIV3.ResponseObject).content![
        'text/event-stream'
      ]!.schema as OpenAPIV3.ReferenceObject;
      const component = doc.components!.schemas![
        schema.$ref.split('/').pop()!
      ] as OpenAPIV3.SchemaObject;
      expect({ route, oneOf: Array.isArray(component.oneOf) }).toEqual({ route, oneOf: true });
      const params = (op.parameters ?? []) as OpenAPIV3.ParameterObject[];
      expect(params.map((p) => `${p.in}:${p.name}`)).toEqual(
        expect.arrayContaining(['header:Last-Event-ID', 'query:lastEventId', 'query:access_token']),
      );
      expect(Object.keys(op.responses)).toEqual(
        expect.arrayContaining(['200', '204', '400', '401', '403', '429', '503']),
      );
    }
    const error = doc.components!.schemas!.ErrorBody as OpenAPIV3.SchemaObject;
    expect(error.required).toEqual(['statusCode', 'error', 'message']);
    const all = new Set(
      documentedRoutes(doc).flatMap((route) => {
        const [method, path] = route.split(' ') as [string, string];
        return Object.keys(doc.paths[path]![method.toLowerCase() as Method]!.responses);
      }),
    );
    expect([...all]).toEqual(
      expect.arrayContaining(['400', '401', '403', '404', '413', '429', '503']),
    );
  });

  it('documents the publish bodies from the schemas the routes validate with', () => {
    const body = (path: string) =>
      (doc.paths[path]!.post!.requestBody as OpenAPIV3.RequestBodyObject).content[
        'application/json'
      ]!.schema as OpenAPIV3.SchemaObject;
    expect(body('/api/events/{topic}').properties!.type).toMatchObject({
      pattern: '^[A-Za-z0-9._:-]{1,64}$',
    });
    expect(body('/api/chat/{roomId}/message').required).toEqual(['user', 'text']);
    expect(body('/api/notifications').required).toEqual(['title', 'body']);
    expect(body('/api/ai/chat').required).toEqual(['messages']);
    expect(body('/api/ai/sdk/chat').required).toEqual(
      expect.arrayContaining(['id', 'messages', 'trigger']),
    );
  });

  describe("each stream route's events, recorded from the real stream", () => {
    let validators: Map<string, ValidateFunction>;

    beforeAll(async () => {
      const deref = (await SwaggerParser.dereference(
        structuredClone(doc) as never,
      )) as OpenAPIV3.Document;
      const ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      validators = new Map(
        streamRoutes(deref).map((route) => {
          const [method, path] = route.split(' ') as [string, string];
          const op = deref.paths[path]![method.toLowerCase() as Method]!;
          const schema = (op.responses['200'] as OpenAPIV3.ResponseObject).content![
            'text/event-stream'
          ]!.schema!;
          return [route, ajv.compile(schema)];
        }),
      );
    });

    it('records a stream of every stream route', async () => {
      const url = running.url;
      // The ticker: fresh, resumed (catch-up), and resumed from an id the log never gave (reset).
      const ticker = stream('GET /events', '/events');
      const ticks = await ticker.until((e) => e.filter((x) => x.id).length >= 2, 'two ticks');
      const firstId = ticks.find((x) => x.id)!.id!;
      ticker.close();
      const resumed = new RecordedStream(`${url}/events`, {
        headers: { 'Last-Event-ID': firstId },
      });
      open.push(resumed);
      await resumed.until(has('catch_up_end'), 'catch-up');
      const forged = new RecordedStream(`${url}/events?lastEventId=999999999`);
      open.push(forged);
      await forged.until(has('reset'), 'reset');
      recorded.set('GET /events', [...ticks, ...resumed.events, ...forged.events]);

      await stream('GET /api/stream', '/api/stream?text=abc').until(has('end'), 'typewriter end');

      const topics = stream('GET /api/events', '/api/events?topic=docs-a&topic=docs-b');
      const channels = stream('GET /api/stream/{channels}', '/api/stream/docs-a,docs-b');
      await topics.reader.waitFor((s) => s.text.includes(': connected'), 10_000, 'open');
      await channels.reader.waitFor((s) => s.text.includes(': connected'), 10_000, 'open');
      expect((await post(`${url}/api/events/docs-a`, { data: { n: 1 } })).status).toBe(202);
      expect((await post(`${url}/api/events/docs-b`, { type: 'x.y', data: 'two' })).status).toBe(
        202,
      );
      await topics.until((e) => e.length >= 2, 'two topic events');
      await channels.until((e) => e.length >= 2, 'two channel events');

      const notifications = stream(
        'GET /api/notifications/stream',
        '/api/notifications/stream?userId=ann',
      );
      await notifications.reader.waitFor((s) => s.text.includes(': connected'), 10_000, 'open');
      const sent = await post(`${url}/api/notifications`, {
        userId: 'ann',
        title: 'Hi',
        body: 'there',
        data: { k: 1 },
      });
      expect(sent.status).toBe(202);
      await notifications.until(has('notification'), 'notification');

      const room = stream('GET /api/chat/{roomId}', '/api/chat/docs');
      await room.reader.waitFor((s) => s.text.includes(': connected'), 10_000, 'open');
      expect(
        (await post(`${url}/api/chat/docs/message`, { user: 'ann', text: 'hello' })).status,
      ).toBe(201);
      await room.until(has('message'), 'chat message');

      await stream('GET /api/monitor', '/api/monitor').until((e) => e.length >= 1, 'a sample');

      fake.behaviour = { kind: 'tokens', tokens: ['Hel', 'lo'] };
      const seed = stream('GET /api/ai/chat', '/api/ai/chat?message=hi&pace=char');
      const seedEvents = await seed.until(has('done'), 'AI done');
      const generationId = jsonOf(seedEvents[0]!).generationId as string;
      await stream('POST /api/ai/chat', '/api/ai/chat', {
        method: 'POST',
        body: { messages: [{ role: 'user', content: 'hi' }] },
      }).until(has('done'), 'AI POST done');
      await stream('GET /api/ai/chat/{generationId}', `/api/ai/chat/${generationId}`).until(
        has('done'),
        'AI resume done',
      );

      // An AI SDK answer held open by the fake model, so the reconnect GET finds it running.
      fake.behaviour = { kind: 'tokens', tokens: ['One', ' two', ' three'], holdAfter: 1 };
      const chat = {
        id: 'docs-chat',
        trigger: 'submit-message',
        messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'Count' }] }],
      };
      const sdk = stream('POST /api/ai/sdk/chat', '/api/ai/sdk/chat', {
        method: 'POST',
        body: chat,
      });
      await fake.waitForHold();
      const sdkResume = stream(
        'GET /api/ai/sdk/chat/{chatId}/stream',
        '/api/ai/sdk/chat/docs-chat/stream',
      );
      await sdkResume.until(has('text-delta'), 'the running answer');
      fake.release();
      await sdk.until((e) => e.some((x) => x.data === '[DONE]'), 'SDK [DONE]');
      await sdkResume.until((e) => e.some((x) => x.data === '[DONE]'), 'resumed [DONE]');

      // Every stream route of the document has a recording.
      expect([...recorded.keys()].sort()).toEqual(streamRoutes(doc));
    });

    it("finds every recorded event valid against its route's schema, and a wrong event invalid", () => {
      expect(recorded.size).toBe(validators.size);
      const failures: string[] = [];
      let checked = 0;
      for (const [route, events] of recorded) {
        const validate = validators.get(route)!;
        expect(events.length).toBeGreaterThan(0);
        for (const event of events) {
          const data: unknown = event.data === '[DONE]' ? event.data : JSON.parse(event.data);
          checked++;
          if (!validate(data)) {
            failures.push(
              `${route}: ${event.data} -> ${JSON.stringify(validate.errors?.slice(0, 3))}`,
            );
          }
        }
      }
      expect(failures).toEqual([]);
      expect(checked).toBeGreaterThan(30);
      // Controls: the schemas are not vacuous.
      expect(validators.get('GET /api/chat/{roomId}')!({ type: 'message', roomId: 'r' })).toBe(
        false,
      );
      expect(validators.get('GET /api/stream')!({ type: 'chunk', char: 'a', index: 0 })).toBe(
        false,
      );
      expect(
        validators.get('GET /events')!({ type: 'connected', message: 'x', timestamp: 'y' }),
      ).toBe(false);
    });
  });
});
