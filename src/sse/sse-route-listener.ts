import {
  ContextType,
  HttpServer,
  Injectable,
  NestInterceptor,
  RequestMethod,
} from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container';
// Nest 12 exports its internals by file (`@nestjs/core/<path>` is `<path>.js`); the consumers and
// context creators its router uses are gathered in `@nestjs/core/internal`.
import {
  GuardsConsumer,
  GuardsContextCreator,
  InterceptorsConsumer,
  InterceptorsContextCreator,
  PipesConsumer,
  PipesContextCreator,
} from '@nestjs/core/internal';
import { RouteParamsFactory } from '@nestjs/core/router/route-params-factory';
import { RouterExecutionContext } from '@nestjs/core/router/router-execution-context';
import { from } from 'rxjs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { match, MatchFunction } from 'path-to-regexp';
import { writeErrorResponse } from '../common/http-exception.filter';
import { REQUEST_ID_HEADER, requestIdFor } from '../common/request-id';
import { SSE_KIND } from './stream-hand-over';
import { SseInterceptor } from './sse.interceptor';

/** Express-style middleware (CORS and the like), run on stream requests as Express would run it. */
export type RequestMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/** What Express decides about a request that a stream route must decide the same way. */
export interface HttpRules {
  /** Express's `query parser fn`: the query string as `req.query`. */
  parseQuery(query: string): Record<string, unknown>;
  /** The client address, as Express's `req.ip` (its `trust proxy` setting). */
  clientIp(req: IncomingMessage): string;
  /** Express's `case sensitive routing` and `strict routing` settings. */
  caseSensitive: boolean;
  strict: boolean;
  /** The middlewares every response gets (CORS): the same functions the Express app uses. */
  middlewares: readonly RequestMiddleware[];
  /** The request's log line when its response closes (the line pino-http writes for the others). */
  logEnd(req: StreamRequest, res: ServerResponse, startedAt: number): void;
}

/** A stream request as the handlers, guards and the interceptor read it (what Express would set). */
export interface StreamRequest extends IncomingMessage {
  id: string;
  ip: string;
  query: Record<string, unknown>;
  params: Record<string, string>;
  /** Date.now() when the request came in (the log line's responseTime). */
  startedAt: number;
}

/** What an open stream's request keeps of its query and path parameters: they were read already. */
const READ: Record<string, never> = Object.freeze(Object.create(null) as Record<string, never>);

type Invoke = (req: StreamRequest, res: ServerResponse, next: () => void) => Promise<unknown>;

interface StreamRoute {
  path: string;
  kind: string;
  match: MatchFunction<Record<string, string | string[]>>;
  invoke: Invoke;
}

/**
 * What Nest's router asks of the HTTP adapter for a route that owns its response: the status it
 * sets before calling the handler (and headers for @Header routes), on a node:http response.
 */
const nodeResponses = {
  status: (res: ServerResponse, statusCode: number) => {
    res.statusCode = statusCode;
  },
  setHeader: (res: ServerResponse, name: string, value: string) => res.setHeader(name, value),
} as unknown as HttpServer;

function noop(): void {}

/**
 * Nest's InterceptorsConsumer, with one shortcut: a stream route whose only interceptor is
 * SseInterceptor (every @SseEndpoint route, unless a global interceptor is added) calls its
 * serve() directly. The chain Nest builds around interceptors (an AsyncResource-bound function
 * and a deferred Observable per interceptor per request, then lastValueFrom on the result) costs
 * more than the rest of a stream's set-up; any other list of interceptors runs as Nest runs it.
 */
class StreamInterceptorsConsumer extends InterceptorsConsumer {
  override intercept<TContext extends string = ContextType>(
    interceptors: NestInterceptor[],
    args: unknown[],
    instance: object,
    callback: (...args: unknown[]) => unknown,
    next: () => Promise<unknown>,
    type?: TContext,
  ): Promise<unknown> {
    const [only] = interceptors;
    if (interceptors.length !== 1 || !(only instanceof SseInterceptor)) {
      return super.intercept(interceptors, args, instance, callback, next, type);
    }
    const [req, res] = args as [StreamRequest, ServerResponse];
    return only.serve(req, res, callback, from(next())).then(() => null);
  }
}

/**
 * The stream routes (every GET @SseEndpoint), served by a node:http request listener in front of
 * Express: a stream request never builds Express's request and response, runs no middleware chain
 * but the shared one (CORS) and gets no pino-http child logger. Everything a stream route promises
 * still runs, through the same code as on the Express path:
 *
 * - the handler is called by Nest's ExternalContextCreator, with the route's guards, its
 *   SseInterceptor (admission limits, the writer) and its parameter decorators (@Query, @Param,
 *   @Req, @LastEventId: validation and access checks live in the handler, as before);
 * - an error before the stream starts is answered by writeErrorResponse, like HttpExceptionFilter;
 * - X-Request-Id is requestIdFor's (sent with the stream's headers or its error), the client address and the query are Express's own functions
 *   (HttpRules), routing follows Express's case and trailing-slash settings;
 * - one log line when the response ends, the same line pino-http writes (HttpRules.logEnd).
 *
 * Everything else (POST streams, whose body Express parses, and every other route) goes to Express.
 */
@Injectable()
export class SseRouteListener {
  private routes: StreamRoute[] = [];
  private rules: HttpRules | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /**
   * Finds the stream routes and returns the request listener: it serves them and hands any other
   * request to `fallback` (the Express app). `container` is the application's, from which Nest's
   * router builds each route's guards, interceptors and pipes.
   */
  listener(
    container: NestContainer,
    rules: HttpRules,
    fallback: (req: IncomingMessage, res: ServerResponse) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    this.rules = rules;
    this.logEnd = function (this: ServerResponse) {
      const req = this.req as StreamRequest;
      rules.logEnd(req, this, req.startedAt);
    };
    this.routes = this.findRoutes(container, rules);
    return (req, res) => {
      if (!this.serve(req, res)) fallback(req, res);
    };
  }

  /** The paths served here (for tests and the start-up log). */
  get paths(): string[] {
    return this.routes.map((route) => route.path);
  }

  private serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    let route: StreamRoute | undefined;
    let params: Record<string, string | string[]> | undefined;
    try {
      for (const candidate of this.routes) {
        const found = candidate.match(path);
        if (found) {
          route = candidate;
          params = found.params;
          break;
        }
      }
    } catch {
      // A path that does not decode (bad percent-escape): Express answers it.
      return false;
    }
    if (!route || !params) return false;
    const rules = this.rules!;
    // Only what the handlers, guards, the interceptor and the log line read (req.url is the
    // original URL: nothing rewrites it on this path).
    const request = req as StreamRequest;
    request.id = requestIdFor(req);
    request.ip = rules.clientIp(req);
    request.query = rules.parseQuery(q === -1 ? '' : url.slice(q + 1));
    request.params = params as Record<string, string>;
    request.startedAt = Date.now();
    res.on('close', this.logEnd);
    // A stream request has no body to wait for: reading it to its end now lets node:http finish
    // with the request at once. Left unread, the request is still "incoming" when the client goes,
    // and node:http destroys it with an ECONNRESET error whose stack it formats, on every close.
    req.resume();
    this.runMiddlewares(request, res, 0, route);
    return true;
  }

  /** The request's log line when its response closes: one shared listener, nothing per request. */
  private logEnd: (this: ServerResponse) => void = noop;

  /** An error before the stream started, answered as HttpExceptionFilter answers it. */
  private fail(req: StreamRequest, res: ServerResponse, error: unknown): void {
    if (!res.headersSent) res.setHeader(REQUEST_ID_HEADER, req.id);
    writeErrorResponse(res, error);
  }

  private runMiddlewares(
    req: StreamRequest,
    res: ServerResponse,
    index: number,
    route: StreamRoute,
  ): void {
    const middleware = this.rules!.middlewares[index];
    if (!middleware) {
      route.invoke(req, res, noop).then(
        () => {
          // Answered (the stream is open): the handler has read them, the connection need not keep them.
          req.query = READ;
          req.params = READ;
        },
        (error: unknown) => this.fail(req, res, error),
      );
      return;
    }
    middleware(req, res, (error?: unknown) => {
      if (error !== undefined && error !== null) this.fail(req, res, error);
      else this.runMiddlewares(req, res, index + 1, route);
    });
  }

  private findRoutes(container: NestContainer, rules: HttpRules): StreamRoute[] {
    // The same construction as Nest's RouterExplorer: what runs around a handler is Nest's own.
    const config = container.applicationConfig;
    const execution = new RouterExecutionContext(
      new RouteParamsFactory(config),
      new PipesContextCreator(container, config),
      new PipesConsumer(),
      new GuardsContextCreator(container, config),
      new GuardsConsumer(),
      new InterceptorsContextCreator(container, config),
      new StreamInterceptorsConsumer(),
      nodeResponses,
    );
    const routes: StreamRoute[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || !wrapper.metatype) continue;
      const moduleKey = wrapper.host?.token;
      if (moduleKey === undefined) continue;
      const prefix = Reflect.getMetadata(PATH_METADATA, wrapper.metatype) as string | undefined;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = instance[name] as (...args: unknown[]) => unknown;
        const kind = Reflect.getMetadata(SSE_KIND, handler) as string | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (kind === undefined || method !== RequestMethod.GET) continue;
        const path = joinPath(prefix, Reflect.getMetadata(PATH_METADATA, handler) as string);
        const invoke = execution.create(
          instance,
          handler,
          name,
          moduleKey,
          RequestMethod.GET,
        ) as unknown as Invoke;
        routes.push({
          path,
          kind,
          invoke,
          match: match(path, { sensitive: rules.caseSensitive, trailing: !rules.strict }),
        });
      }
    }
    return routes;
  }
}

function joinPath(...parts: Array<string | undefined>): string {
  const segments = parts
    .flatMap((part) => (part ?? '').split('/'))
    .filter((segment) => segment !== '');
  return `/${segments.join('/')}`;
}
