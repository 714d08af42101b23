import SwaggerParser from '@apidevtools/swagger-parser';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { createParser } from 'eventsource-parser';
import http from 'node:http';
import type { OpenAPIV3 } from 'openapi-types';
import { startApp, type RunningApp } from './support/app';
import { FakeOpenAi } from './support/fake-openai';
import { post, request } from './support/http';
import { StreamReader, type StreamRequest } from './support/sse-client';
import { SseRouteListener } from '../src/sse/sse-route-listener';

/**
 * The API document (/docs/openapi.json): a valid OpenAPI 3 document, every route the app serves is
 * in it and nothing else, and each stream route's event schema accepts every event a real stream
 * of that route sends (recorded over loopback HTTP, validated with ajv).
 */

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';
const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];
const METHODS_OF_HTTP = http.METHODS.map((method) => method.toLowerCase());

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
}

/**
 * Every route of the running app as `METHOD /path/{param}`, from two sources:
 * - Nest's own route table: each controller method with a route (PATH_METADATA and METHOD_METADATA,
 *   read through DiscoveryService as Nest's router reads them). An `@All` route is a path's
 *   fallback for the methods no other route serves (Durable Streams answers them 405): it is
 *   returned apart, and its path must be documented through its other methods.
 * - the Express router, for what is registered outside any controller (SwaggerModule's routes).
 *   Static files (public/) are a middleware, not routes, and are not part of the API; so is a Nest
 *   middleware bound to every route (the request logger): Nest 12 registers it on the router as a
 *   route for each and every HTTP method. The reference UI's own files below /docs/ (its HTML,
 *   init script, licence) are the UI at /docs.
 */
function servedRoutes(running: RunningApp): { routes: string[]; fallbacks: string[] } {
  const routes = new Set<string>();
  const fallbacks = new Set<string>();
  const controllerPaths = new Set<string>();
  const discovery = running.app.get(DiscoveryService, { strict: false });
  const scanner = running.app.get(MetadataScanner, { strict: false });
  for (const wrapper of discovery.getControllers()) {
    if (!wrapper.metatype || !wrapper.instance) continue;
    const prefixes = asList(Reflect.getMetadata(PATH_METADATA, wrapper.metatype));
    const prototype = Object.getPrototypeOf(wrapper.instance) as object;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as object;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (paths === undefined || method === undefined) continue;
      for (const prefix of prefixes) {
        for (const path of asList(paths)) {
          const route = openApiPath(joinPath(prefix, path));
          controllerPaths.add(route);
          if (method === RequestMethod.ALL) fallbacks.add(route);
          else routes.add(`${RequestMethod[method]} ${route}`);
        }
      }
    }
  }
  const express = running.app.getHttpAdapter().getInstance() as {
    router: { stack: ExpressLayer[] };
  };
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    const everyMethod = METHODS_OF_HTTP.every((method) => layer.route!.methods[method]);
    if (everyMethod) continue;
    const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
    for (const path of paths) {
      if (controllerPaths.has(openApiPath(path))) continue;
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (!on || method === '_all') continue;
        if (path.startsWith('/docs/') && path !== '/docs/openapi.json') continue;
        routes.add(`${method.toUpperCase()} ${openApiPath(path)}`);
      }
    }
  }
  return { routes: [...routes].sort(), fallbacks: [...fallbacks].sort() };
}

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [''];
  return Array.isArray(value) ? value : [value];
}

function joinPath(...parts: string[]): string {
  return `/${parts
    .flatMap((part) => part.split('/'))
    .filter((segment) => segment !== '')
    .join('/')}`;
}

/** A route path (path-to-regexp 8: `:param`, `*wildcard`) as an OpenAPI path template. */
function openApiPath(routePath: string): string {
  return routePath.replace(/[:*]([A-Za-z0-9_]+)/g, '{$1}');
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
    const { routes: served, fallbacks } = servedRoutes(running);
    // The enumeration is real: it sees the stream, publish, Durable Streams, health and docs routes.
    expect(served).toEqual(
      expect.arrayContaining([
        'GET /events',
        'POST /api/events/{topic}',
        'POST /api/ai/sdk/chat',
        'GET /api/ai/sdk/chat/{chatId}/stream',
        'DELETE /api/ai/sdk/chat/{chatId}/stream',
        'PUT /v1/stream/{path}',
        'POST /v1/stream/{path}',
        'GET /v1/stream/{path}',
        'HEAD /v1/stream/{path}',
        'DELETE /v1/stream/{path}',
        'GET /health/ready',
        'GET /docs/openapi.json',
      ]),
    );
    expect(served.length).toBeGreaterThanOrEqual(25);
    expect(missingFrom(doc, served)).toEqual([]);
    expect(documentedRoutes(doc)).toEqual(served);
    // The @All fallback (405 for any other method) is at a documented path.
    expect(fallbacks).toEqual(['/v1/stream/{path}']);
    for (const path of fallbacks) expect(Object.keys(doc.paths)).toContain(path);
    // The stream routes the node:http listener serves below Express are all in the document.
    const below = running.app.get(SseRouteListener, { strict: false }).paths.map(openApiPath);
    expect(below.length).toBeGreaterThanOrEqual(10);
    expect(
      missingFrom(
        doc,
        below.map((path) => `GET ${path}`),
      ),
    ).toEqual([]);
    // Control: a route left out of the document is reported.
    const partial = structuredClone(doc);
    delete partial.paths['/api/chat/{roomId}/message'];
    delete partial.paths['/v1/stream/{path}']!.head;
    expect(missingFrom(partial, served)).toEqual([
      'HEAD /v1/stream/{path}',
      'POST /api/chat/{roomId}/message',
    ]);
  });

  it('describes each stream: text/event-stream with a oneOf of its events, how to resume, access_token, errors', () => {
    const streams = streamRoutes(doc);
    expect(streams).toHaveLength(13);
    expect(streams).toContain('GET /v1/stream/{path}');
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
      const named = params.map((p) => `${p.in}:${p.name}`);
      // Durable Streams resume from an offset; every other stream from Last-Event-ID.
      const resume = path.startsWith('/v1/stream/')
        ? ['query:offset', 'query:live', 'query:cursor', 'header:If-None-Match', 'path:path']
        : ['header:Last-Event-ID', 'query:lastEventId'];
      expect({ route, named }).toEqual({
        route,
        named: expect.arrayContaining([...resume, 'query:access_token']),
      });
      expect({ route, statuses: Object.keys(op.responses) }).toEqual({
        route,
        statuses: expect.arrayContaining(['200', '204', '400', '401', '403', '429', '503']),
      });
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
    // Every error answer of every operation is the ErrorBody, as JSON (also on a stream route),
    // except the health probes' 503: Terminus's own report of each check.
    for (const route of documentedRoutes(doc)) {
      if (route.startsWith('GET /health/')) continue;
      const [method, path] = route.split(' ') as [string, string];
      const op = doc.paths[path]![method.toLowerCase() as Method]!;
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        const content = (response as OpenAPIV3.ResponseObject).content;
        expect({ route, status, content }).toEqual({
          route,
          status,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
        });
      }
    }
  });

  it("documents the Durable Streams operations: each method's headers, parameters and answers", () => {
    const item = doc.paths['/v1/stream/{path}']!;
    const names = (op: OpenAPIV3.OperationObject | undefined) =>
      ((op?.parameters ?? []) as OpenAPIV3.ParameterObject[]).map((p) => `${p.in}:${p.name}`);
    expect(Object.keys(item).sort()).toEqual(['delete', 'get', 'head', 'options', 'post', 'put']);
    expect(names(item.put)).toEqual(
      expect.arrayContaining([
        'header:Content-Type',
        'header:Stream-TTL',
        'header:Stream-Expires-At',
        'header:Stream-Closed',
        'header:Stream-Forked-From',
        'header:Stream-Fork-Offset',
      ]),
    );
    expect(names(item.post)).toEqual(
      expect.arrayContaining([
        'header:Stream-Seq',
        'header:Stream-Closed',
        'header:Producer-Id',
        'header:Producer-Epoch',
        'header:Producer-Seq',
      ]),
    );
    expect(Object.keys(item.put!.responses)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '403', '409', '413', '503']),
    );
    expect(Object.keys(item.post!.responses)).toEqual(
      expect.arrayContaining(['200', '204', '404', '409', '413']),
    );
    expect(Object.keys(item.head!.responses)).toEqual(expect.arrayContaining(['200', '404']));
    expect(Object.keys(item.delete!.responses)).toEqual(expect.arrayContaining(['204', '404']));
    const ok = item.get!.responses['200'] as OpenAPIV3.ResponseObject;
    expect(Object.keys(ok.content!).sort()).toEqual([
      'application/json',
      'application/octet-stream',
      'text/event-stream',
    ]);
    expect(Object.keys(ok.headers!)).toEqual(
      expect.arrayContaining(['Stream-Next-Offset', 'Stream-Up-To-Date', 'ETag']),
    );
    const query = (name: string) =>
      ((item.get!.parameters ?? []) as OpenAPIV3.ParameterObject[]).find(
        (p) => p.in === 'query' && p.name === name,
      )!.schema as OpenAPIV3.SchemaObject;
    expect(query('live').enum).toEqual(['long-poll', 'sse']);
    // The offset's pattern is the one the controller parses with: sentinels and offsets pass.
    const offset = new RegExp(query('offset').pattern!);
    expect(
      ['-1', 'now', '0000000000000000_0000000000000012', '1_2'].every((o) => offset.test(o)),
    ).toBe(true);
    expect(['', 'later', '12', '1_2_3'].some((o) => offset.test(o))).toBe(false);
  });

  it('documents the publish bodies from the schemas the routes validate with', () => {
    const body = (path: string) =>
      (doc.paths[path]!.post!.requestBody as OpenAPIV3.RequestBodyObject).content[
        'application/json'
      ]!.schema as OpenAPIV3.SchemaObject;
    expect(body('/api/events/{topic}').properties!.type).toMatchObject({
      pattern: '^[A-Za-z0-9._:-]{1,64}$',
    });
    // With auth on, the author is the token's: `user` may be left out (ChatController).
    expect(body('/api/chat/{roomId}/message').required).toEqual(['text']);
    expect(body('/api/chat/{roomId}/message').properties).toHaveProperty('user');
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

      // A Durable Streams live read (a JSON stream): data and control events, before and after
      // an append, then the close's last control event.
      const durable = `${url}/v1/stream/docs/feed-${Date.now()}`;
      const created = await fetch(durable, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: '[{"n":1}]',
      });
      expect(created.status).toBe(201);
      const live = stream(
        'GET /v1/stream/{path}',
        `${durable.slice(url.length)}?offset=-1&live=sse`,
      );
      await live.until((e) => e.filter((x) => x.event === 'control').length >= 1, 'a control');
      const appended = await fetch(durable, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Stream-Closed': 'true' },
        body: '{"n":2}',
      });
      expect(appended.status).toBe(204);
      await live.until(
        (e) => e.some((x) => x.event === 'control' && jsonOf(x).streamClosed === true),
        'the closing control',
      );
      expect(live.events.map((e) => e.event)).toEqual(['data', 'control', 'data', 'control']);

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
      expect(validators.get('GET /v1/stream/{path}')!({ streamNextOffset: 'x' })).toBe(false);
      expect(validators.get('GET /v1/stream/{path}')!('[1]')).toBe(false);
    });
  });
});
