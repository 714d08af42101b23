import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { cookieAcceptedFor, extractAccessToken, TokenSource } from './access-token';

describe(extractAccessToken.name, () => {
  it('reads a Bearer token from the Authorization header first', () => {
    const req = {
      headers: { authorization: 'Bearer aaa.bbb.ccc', cookie: 'access_token=cookie' },
      query: { access_token: 'query' },
    };
    expect(extractAccessToken(req)).toBe('aaa.bbb.ccc');
    expect(extractAccessToken({ headers: { authorization: 'bearer x.y.z' }, query: {} })).toBe(
      'x.y.z',
    );
  });

  it('then the access_token query parameter, then the access_token cookie', () => {
    expect(
      extractAccessToken({
        headers: { cookie: 'access_token=c.c.c' },
        query: { access_token: 'q.q.q' },
      }),
    ).toBe('q.q.q');
    expect(
      extractAccessToken({ headers: { cookie: 'theme=dark; access_token=c.c.c' }, query: {} }),
    ).toBe('c.c.c');
  });

  it('is undefined when no token is given', () => {
    expect(extractAccessToken({ headers: {}, query: {} })).toBeUndefined();
    expect(
      extractAccessToken({ headers: { cookie: 'theme=dark' }, query: { access_token: '' } }),
    ).toBeUndefined();
  });

  it('rejects a malformed Authorization header or a repeated parameter with 401', () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', 'Bearer a\r\nb']) {
      expect(() => extractAccessToken({ headers: { authorization }, query: {} })).toThrow(
        UnauthorizedException,
      );
    }
    expect(() => extractAccessToken({ headers: {}, query: { access_token: ['a', 'b'] } })).toThrow(
      UnauthorizedException,
    );
  });

  it('refuses the cookie when the caller says so (403), and never the header', () => {
    const req = { headers: { cookie: 'access_token=c.c.c' }, query: {} };
    expect(() => extractAccessToken(req, () => false)).toThrow(ForbiddenException);
    const withHeader = { ...req, headers: { ...req.headers, authorization: 'Bearer h.h.h' } };
    expect(extractAccessToken(withHeader, () => false)).toBe('h.h.h');
  });
});

describe(cookieAcceptedFor.name, () => {
  const write = (headers: TokenSource['headers'], method = 'POST'): TokenSource => ({
    method,
    headers: { host: 'rivulet.example', ...headers },
    query: {},
  });
  const allowed = ['https://app.example'];

  it('accepts it on reads from anywhere', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(cookieAcceptedFor(write({ 'sec-fetch-site': 'cross-site' }, method), allowed)).toBe(
        true,
      );
    }
  });

  it('accepts a write from this site, a listed origin, or a client that is no browser', () => {
    expect(cookieAcceptedFor(write({ 'sec-fetch-site': 'same-origin' }), allowed)).toBe(true);
    expect(cookieAcceptedFor(write({ 'sec-fetch-site': 'none' }), allowed)).toBe(true);
    const listed = { 'sec-fetch-site': 'cross-site', origin: 'https://app.example' };
    expect(cookieAcceptedFor(write(listed), allowed)).toBe(true);
    expect(cookieAcceptedFor(write({ origin: 'https://rivulet.example' }), allowed)).toBe(true);
    const proxied = { host: 'app:3000', 'x-forwarded-host': 'rivulet.example:8080' };
    expect(
      cookieAcceptedFor(write({ ...proxied, origin: 'http://rivulet.example:8080' }), []),
    ).toBe(true);
    expect(cookieAcceptedFor(write({}), allowed)).toBe(true);
  });

  it('refuses a write from another site', () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'post']) {
      expect(cookieAcceptedFor(write({ 'sec-fetch-site': 'cross-site' }, method), allowed)).toBe(
        false,
      );
    }
    expect(cookieAcceptedFor(write({ 'sec-fetch-site': 'same-site' }), allowed)).toBe(false);
    expect(cookieAcceptedFor(write({ origin: 'https://evil.example' }), allowed)).toBe(false);
    expect(cookieAcceptedFor(write({ origin: 'null' }), allowed)).toBe(false);
    // CORS_ORIGINS=* allows reading answers, not writing with someone's cookie.
    expect(cookieAcceptedFor(write({ origin: 'https://evil.example' }), ['*'])).toBe(false);
  });
});
