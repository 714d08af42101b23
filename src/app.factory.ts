import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import cors from 'cors';
import express, { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, Server } from 'node:http';
import { join } from 'node:path';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { JsonTooDeepError, verifyJsonDepth } from './common/json-depth';
import { queryParamLimit, requestsPerAddressLimit } from './common/request-limits';
import { retryAfterSeconds } from './common/retryable.exception';
import { clientAddress, proxyTrust } from './common/client-address';
import type { AppConfig } from './config/app-config';
import { buildCorsOptions } from './config/cors.config';
import { serveApiDocs } from './docs/api-document';
import { logRequestEnd } from './logging/http-log';
import { HttpRules, RequestMiddleware, SseRouteListener } from './sse/sse-route-listener';

const NEST_LOG_LEVELS: Record<AppConfig['log']['level'], LogLevel[]> = {
  silent: [],
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

/** Creates the application with everything main.ts and the e2e tests share. */
export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const adapter = new ExpressAdapter(strictExpress());
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), adapter, {
    forceCloseConnections: true,
    bodyParser: false,
    logger: NEST_LOG_LEVELS[config.log.level],
    // Start-up logs wait for the JSON logger (LoggingModule) instead of going out as plain text.
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  configureApp(app, config);
  return app;
}

/**
 * The Express instance under Nest, with routing settings that must exist before its router does:
 * one spelling per route. `/metrics` is `/metrics`: `/METRICS` and `/metrics/` are 404, so a proxy
 * rule written for the exact path cannot be walked around by another spelling of it.
 */
function strictExpress(): express.Express {
  const server = express();
  server.set('case sensitive routing', true);
  server.set('strict routing', true);
  return server;
}

export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  // X-Forwarded-For only from TRUST_PROXY peers (default nobody): req.ip is clientAddress's answer.
  app.set('trust proxy', proxyTrust(config.http.trustProxy));
  // First of all middleware, so every answer has it: pages, API errors, 404s, streams.
  app.use(noSniff);
  // Nest's enableCors(options) is app.use(cors(options)); the same function runs on stream routes.
  const corsMiddleware = cors(buildCorsOptions(config.cors));
  app.use(corsMiddleware);
  limitRequests(app, config);
  const json = express.json({
    limit: config.http.maxBodyBytes,
    type: ['application/json', 'application/*+json'],
    // Refused before parsing: a value nested deeper than MAX_JSON_DEPTH never enters the log.
    verify: verifyJsonDepth(config.http.maxJsonDepth),
  });
  // Durable streams read their bodies themselves, as bytes, after the access check (any type, and
  // a JSON body is stored as sent, up to DURABLE_MAX_BODY_BYTES).
  app.use((req: Request, res: Response, next: NextFunction) =>
    req.path.startsWith('/v1/stream/') ? next() : json(req, res, next),
  );
  app.use(bodyErrorHandler);
  serveDemoPages(app);
  serveApiDocs(app);
  // What Express runs for every request, in the same order, for the streams served below it.
  serveStreamsBelowExpress(app, config, [
    noSniff as unknown as RequestMiddleware,
    corsMiddleware,
    queryParamLimit() as unknown as RequestMiddleware,
  ]);
  // SIGTERM/SIGINT: drain the streams (DrainService), close the server, then exit 0 (not re-kill).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
}

/**
 * What a single client can hold: the time to send a request (headers and body, REQUEST_TIMEOUT_MS;
 * Node answers 408 and closes the connection; an open stream's request is complete, so it is not
 * affected), the requests in progress per address (MAX_REQUESTS_PER_IP), and the query's size.
 */
function limitRequests(app: NestExpressApplication, config: AppConfig): void {
  // connectionsCheckingInterval is a documented createServer option that Node reads from the server
  // when it starts listening; @types/node does not declare the property.
  const server = app.getHttpServer() as Server & { connectionsCheckingInterval: number };
  const timeoutMs = config.http.requestTimeoutMs;
  server.requestTimeout = timeoutMs;
  server.headersTimeout = timeoutMs;
  // How often Node checks those two timeouts (read when the server starts listening; default 30 s).
  server.connectionsCheckingInterval = Math.min(1000, Math.max(50, Math.floor(timeoutMs / 4)));
  app.use(
    requestsPerAddressLimit(config.http.maxRequestsPerIp, retryAfterSeconds(config.sse.retryMs)),
  );
  app.use(queryParamLimit());
}

/**
 * Stream routes are served by SseRouteListener, in front of Express, with Express's own rules for
 * the query, the client address and routing, and the same shared middlewares: every other request
 * goes on to Express as before.
 */
function serveStreamsBelowExpress(
  app: NestExpressApplication,
  config: AppConfig,
  middlewares: HttpRules['middlewares'],
): void {
  const expressApp = app.getHttpAdapter().getInstance();
  const server = app.getHttpServer();
  const parseQuery = expressApp.get('query parser fn') as
    ((query: string) => Record<string, unknown>) | undefined;
  const trust = proxyTrust(config.http.trustProxy);
  const rules: HttpRules = {
    parseQuery: parseQuery ?? (() => ({})),
    clientIp: (req: IncomingMessage) => clientAddress(req, trust),
    caseSensitive: Boolean(expressApp.get('case sensitive routing')),
    strict: Boolean(expressApp.get('strict routing')),
    middlewares,
    logEnd: (req, res, startedAt) => logRequestEnd(PinoLogger.root, req, res, startedAt),
  };
  const fallback = server.listeners('request')[0] as (...args: unknown[]) => void;
  // The container Nest's router builds routes from (the application keeps it to itself).
  const { container } = app as unknown as { container: NestContainer };
  const listener = app.get(SseRouteListener).listener(container, rules, fallback);
  server.removeListener('request', fallback);
  server.on('request', listener);
}

/**
 * The demo pages and the browser client (public/, next to src/ and dist/: the same relative path
 * from src/app.factory.ts under ts-jest and from dist/app.factory.js). `/` is public/index.html.
 * Pages load nothing but same-origin files, which the Content-Security-Policy makes explicit.
 */
export const PUBLIC_DIR = join(__dirname, '..', 'public');

const PAGE_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function serveDemoPages(app: NestExpressApplication): void {
  app.useStaticAssets(PUBLIC_DIR, {
    index: 'index.html',
    extensions: ['html'],
    setHeaders: (res: Response, path: string) => {
      // TypeScript declarations (rivulet-client.d.ts) are text, not MPEG transport streams (.ts).
      if (path.endsWith('.d.ts')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      if (path.endsWith('.html')) {
        res.setHeader('Content-Security-Policy', PAGE_CSP);
        res.setHeader('Cache-Control', 'no-cache');
      }
    },
  });
}

/** No MIME sniffing of any answer: a browser takes the Content-Type as given. */
function noSniff(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
}

/** Body parser failures as the contract's JSON errors: 413 for a body over MAX_BODY_BYTES, 400 for bad JSON. */
function bodyErrorHandler(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  const status = (error as { status?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status >= 500) {
    next(error);
    return;
  }
  const message =
    status === 413
      ? 'Request body exceeds MAX_BODY_BYTES'
      : error instanceof JsonTooDeepError
        ? error.message
        : status === 400
          ? 'Request body is not valid JSON'
          : (error as Error).message;
  const errorName = status === 413 ? 'Payload Too Large' : status === 400 ? 'Bad Request' : 'Error';
  res.status(status).json({ statusCode: status, error: errorName, message });
}

export type { INestApplication };
