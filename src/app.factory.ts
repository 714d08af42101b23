import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { NextFunction, Request, Response } from 'express';
import { join } from 'node:path';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import type { AppConfig } from './config/app-config';
import { buildCorsOptions } from './config/cors.config';
import { serveApiDocs } from './docs/api-document';

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
  app.enableCors(buildCorsOptions(config.cors));
  app.use(
    express.json({
      limit: config.http.maxBodyBytes,
      type: ['application/json', 'application/*+json'],
    }),
  );
  app.use(bodyErrorHandler);
  serveDemoPages(app);
  serveApiDocs(app);
  // SIGTERM/SIGINT: drain the streams (DrainService), close the server, then exit 0 (not re-kill).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
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
