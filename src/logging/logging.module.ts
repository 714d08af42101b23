import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { stdTimeFunctions } from 'pino';
import type { Options } from 'pino-http';
import { proxyTrust } from '../common/client-address';
import { APP_CONFIG, AppConfig } from '../config/app-config';
import {
  requestErrorMessage,
  requestErrorObject,
  requestLogLevel,
  requestSerializer,
  serializeResponse,
} from './http-log';
import { requestIdOf } from '../common/request-id';

/** pino-http options for one configuration: one JSON line per log record, on stdout. */
export function httpLoggerOptions(config: AppConfig): Options {
  return {
    level: config.log.level,
    name: 'rivulet',
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    genReqId: requestIdOf,
    customLogLevel: requestLogLevel,
    customErrorObject: requestErrorObject,
    customErrorMessage: requestErrorMessage,
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
