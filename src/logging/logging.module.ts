import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { stdTimeFunctions } from 'pino';
import type { Options } from 'pino-http';
import { proxyTrust } from '../common/client-address';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  redactUrl,
  requestErrorMessage,
  requestErrorObject,
  requestLogLevel,
  requestSerializer,
  serializeResponse,
} from './http-log';
import { requestIdOf } from '../common/request-id';

/**
 * How pino-pretty prints for a human: one line per record, `[context] message`, the request's
 * fields folded into its message (see prettyRequestLine) instead of a JSON tail.
 */
export const PRETTY_OPTIONS = {
  singleLine: true,
  colorize: true,
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,name,context,req,res,responseTime',
  messageFormat: '{if context}[{context}] {end}{msg}',
} as const;

/** A request's line for a human: `GET /events?x=1 200 12ms` (credentials redacted). */
export function prettyRequestLine(req: IncomingMessage, res: ServerResponse, ms: number): string {
  const url = redactUrl((req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url);
  return `${req.method ?? '-'} ${url} ${res.statusCode} ${Math.round(ms)}ms`;
}

/**
 * pino-http options for one configuration. JSON lines on stdout, except in development on a
 * terminal: then pino-pretty, one readable line per request. Production always logs JSON.
 */
export function httpLoggerOptions(
  config: AppConfig,
  stdoutIsTty: boolean = process.stdout.isTTY === true,
): Options {
  const forHuman = config.env === 'development' && stdoutIsTty;
  return {
    ...(forHuman
      ? {
          transport: { target: 'pino-pretty', options: PRETTY_OPTIONS },
          customSuccessMessage: prettyRequestLine,
          customErrorMessage: (req, res, error) =>
            `${prettyRequestLine(req, res, 0).replace(/ \d+ms$/, '')} ${requestErrorMessage(req, res, error)}`,
        }
      : { customErrorMessage: requestErrorMessage }),
    level: config.log.level,
    name: 'rivulet',
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    genReqId: requestIdOf,
    customLogLevel: requestLogLevel,
    customErrorObject: requestErrorObject,
    serializers: {
      req: requestSerializer(proxyTrust(config.http.trustProxy)),
      res: serializeResponse,
    },
  };
}

/**
 * Structured JSON logs (nestjs-pino): Nest's Logger goes through pino (see createApp), and every
 * HTTP request gets one line when it ends, with its request id (X-Request-Id in and out), status
 * and duration; a stream's line is written when the stream ends.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ pinoHttp: httpLoggerOptions(config) }),
    }),
  ],
})
export class LoggingModule {}
