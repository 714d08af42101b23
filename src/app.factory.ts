import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cors from 'cors';
import express, { NextFunction, Request, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Logger, PinoLogger } from 'nestjs-pino';
import proxyAddr from 'proxy-addr';
import { AppModule } from './app.module';
import type { AppConfig } from './config/app-config';
import { buildCorsOptions } from './config/cors.config';
import { logRequestEnd } from './logging/http-log';
import { HttpRules, SseRouteListener } from './sse/sse-route-listener';

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
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
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

export function configureApp(app: NestExpressApplication, config: AppConfig): void {
  app.disable('x-powered-by');
  // Behind nginx (same host or a private network): the client address comes from X-Forwarded-For.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  // Nest's enableCors(options) is app.use(cors(options)); the same function runs on stream routes.
  const corsMiddleware = cors(buildCorsOptions(config.cors));
  app.use(corsMiddleware);
  app.use(
    express.json({
      limit: config.http.maxBodyBytes,
      type: ['application/json', 'application/*+json'],
    }),
  );
  app.use(bodyErrorHandler);
  serveDemoPages(app);
  serveStreamsBelowExpress(app, [corsMiddleware]);
  // SIGTERM/SIGINT: drain the streams (DrainService), close the server, then exit 0 (not re-kill).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
}

/**
 * Stream routes are served by SseRouteListener, in front of Express, with Express's own rules for
 * the query, the client address and routing, and the same shared middlewares: every other request
 * goes on to Express as before.
 */
function serveStreamsBelowExpress(
  app: NestExpressApplication,
  middlewares: HttpRules['middlewares'],
): void {
  const expressApp = app.getHttpAdapter().getInstance();
  const server = app.getHttpServer();
  const parseQuery = expressApp.get('query parser fn') as
    ((query: string) => Record<string, unknown>) | undefined;
  const rules: HttpRules = {
    parseQuery: parseQuery ?? (() => ({})),
    clientIp: (req: IncomingMessage) =>
      proxyAddr(req, expressApp.get('trust proxy fn') as (addr: string, i: number) => boolean),
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
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (path.endsWith('.html')) {
        res.setHeader('Content-Security-Policy', PAGE_CSP);
        res.setHeader('Cache-Control', 'no-cache');
      }
    },
  });
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
      : status === 400
        ? 'Request body is not valid JSON'
        : (error as Error).message;
  const errorName = status === 413 ? 'Payload Too Large' : status === 400 ? 'Bad Request' : 'Error';
  res.status(status).json({ statusCode: status, error: errorName, message });
}

export type { INestApplication };
