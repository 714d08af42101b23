import type { IncomingMessage, ServerResponse } from 'node:http';
import { proxyTrust } from '../common/client-address';
import { redactUrl, requestErrorObject, requestLogLevel, requestSerializer } from './http-log';

const req = (url: string) => ({ url, originalUrl: url }) as unknown as IncomingMessage;
const res = (statusCode: number) => ({ statusCode }) as unknown as ServerResponse;
const statusOnly = (status: number) => new Error(`failed with status code ${status}`);

describe(requestLogLevel.name, () => {
  it('logs ordinary requests and finished streams at info', () => {
    expect(requestLogLevel(req('/events'), res(200))).toBe('info');
    expect(requestLogLevel(req('/api/stream?text=hi'), res(204))).toBe('info');
  });

  it('logs probes and scrapes at debug, even a readiness 503 while draining', () => {
    expect(requestLogLevel(req('/health/live'), res(200))).toBe('debug');
    expect(requestLogLevel(req('/health/ready'), res(503), statusOnly(503))).toBe('debug');
    expect(requestLogLevel(req('/metrics'), res(200))).toBe('debug');
    expect(requestLogLevel(req('/metricsx'), res(200))).toBe('info');
  });

  it('logs client errors and deliberate 503s at warn, other server errors at error', () => {
    expect(requestLogLevel(req('/events?lastEventId=x'), res(400))).toBe('warn');
    expect(requestLogLevel(req('/events'), res(503), statusOnly(503))).toBe('warn');
    expect(requestLogLevel(req('/events'), res(500), statusOnly(500))).toBe('error');
    expect(requestLogLevel(req('/events'), res(200), new Error('socket hang up'))).toBe('error');
  });
});

describe(requestErrorObject.name, () => {
  it('drops the stand-in error of a status-only failure and keeps a real one', () => {
    const value = { res: {}, err: new Error('x'), responseTime: 1 };
    expect(requestErrorObject(req('/'), res(503), statusOnly(503), value)).toEqual({
      res: {},
      responseTime: 1,
    });
    const real = new Error('boom');
    expect(requestErrorObject(req('/'), res(500), real, value)).toBe(value);
  });
});

describe(redactUrl.name, () => {
  it('removes credentials from the query string', () => {
    expect(redactUrl('/api/events?topic=a&access_token=eyJ.x.y&b=1')).toBe(
      '/api/events?topic=a&access_token=[redacted]&b=1',
    );
    expect(redactUrl('/x?token=abc')).toBe('/x?token=[redacted]');
    expect(redactUrl('/events?lastEventId=3')).toBe('/events?lastEventId=3');
  });

  it('removes them under every spelling the query parser reads as their name', () => {
    expect(redactUrl('/a?access%5Ftoken=eyJ.x.y&b=1')).toBe('/a?access%5Ftoken=[redacted]&b=1');
    expect(redactUrl('/a?access_token[]=t1&access_token[]=t2')).toBe(
      '/a?access_token[]=[redacted]&access_token[]=[redacted]',
    );
    expect(redactUrl('/a?access_token%5B0%5D=t1&ACCESS_TOKEN=t2#x')).toBe(
      '/a?access_token%5B0%5D=[redacted]&ACCESS_TOKEN=[redacted]#x',
    );
    // Negative controls: other names, a bad escape, a key without a value.
    expect(redactUrl('/a?my_access_token=v&%E0%A4%A=v&access_token')).toBe(
      '/a?my_access_token=v&%E0%A4%A=v&access_token',
    );
  });
});

describe(requestSerializer.name, () => {
  const incoming = (peer: string, forwarded?: string) => {
    const raw = {
      url: '/events',
      headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
      socket: { remoteAddress: peer },
    } as unknown as IncomingMessage;
    return {
      id: 1,
      method: 'GET',
      url: '/events',
      headers: raw.headers,
      remoteAddress: peer,
      raw,
    };
  };

  it('logs the socket peer when TRUST_PROXY is empty, whatever X-Forwarded-For says', () => {
    const serialize = requestSerializer(proxyTrust([]));
    expect(serialize(incoming('127.0.0.1', '203.0.113.9')).remoteAddress).toBe('127.0.0.1');
  });

  it('logs the forwarded client behind a trusted proxy, and never a hop the client wrote', () => {
    const serialize = requestSerializer(proxyTrust(['127.0.0.1']));
    expect(serialize(incoming('127.0.0.1', '203.0.113.9')).remoteAddress).toBe('203.0.113.9');
    // The client sent "198.51.100.1"; a trusted proxy appended the address it saw.
    expect(serialize(incoming('127.0.0.1', '198.51.100.1, 203.0.113.9')).remoteAddress).toBe(
      '203.0.113.9',
    );
    // An untrusted peer's header counts for nothing.
    expect(serialize(incoming('10.0.0.5', '203.0.113.9')).remoteAddress).toBe('10.0.0.5');
  });
});
