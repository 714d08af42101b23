import { UnauthorizedException } from '@nestjs/common';
import { extractAccessToken } from './access-token';

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
});
