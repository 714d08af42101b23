import type { IncomingMessage, ServerResponse } from 'node:http';
import { prettyFactory } from 'pino-pretty';
import { loadConfig } from '../config/app-config';
import { httpLoggerOptions, PRETTY_OPTIONS, prettyRequestLine } from './logging.module';

const config = (NODE_ENV: string) =>
  loadConfig(
    NODE_ENV === 'production' ? { NODE_ENV, AUTH_JWT_SECRET: 'x'.repeat(32) } : { NODE_ENV },
  );

describe('httpLoggerOptions', () => {
  it('prints for a human (pino-pretty) only in development on a terminal', () => {
    expect(httpLoggerOptions(config('development'), true).transport).toMatchObject({
      target: 'pino-pretty',
    });
  });

  it('logs JSON lines when stdout is not a terminal, in tests, and always in production', () => {
    expect(httpLoggerOptions(config('development'), false).transport).toBeUndefined();
    expect(httpLoggerOptions(config('test'), true).transport).toBeUndefined();
    expect(httpLoggerOptions(config('production'), true).transport).toBeUndefined();
    expect(httpLoggerOptions(config('production'), true).customSuccessMessage).toBeUndefined();
  });

  describe('when printed for a human', () => {
    const req = {
      method: 'GET',
      url: '/events?access_token=secret',
      originalUrl: '/events?access_token=secret',
    } as unknown as IncomingMessage;
    const res = { statusCode: 200 } as ServerResponse;

    it('makes each request one readable line, credentials redacted', () => {
      const pretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: false });
      const line = pretty({
        level: 30,
        time: Date.UTC(2026, 0, 1),
        pid: 1,
        hostname: 'h',
        name: 'rivulet',
        req: { id: 'r1', method: 'GET', url: '/events' },
        res: { statusCode: 200 },
        responseTime: 12,
        msg: prettyRequestLine(req, res, 12.4),
      });
      expect(line.trimEnd().split('\n')).toHaveLength(1);
      expect(line).toContain('INFO');
      expect(line).toContain('GET /events?access_token=[redacted] 200 12ms');
      expect(line).not.toContain('secret');
      expect(line).not.toContain('{');
    });

    it('prefixes other records with their context', () => {
      const pretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: false });
      const line = pretty({ level: 40, time: 0, context: 'Rivulet', msg: 'open mode' });
      expect(line).toContain('[Rivulet] open mode');
    });
  });
});
