import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { signToken } from './sign-token';

const SECRET = 'sign-token-spec-secret-0123456789ab';
const key = new TextEncoder().encode(SECRET);

describe(signToken.name, () => {
  it('signs HS256 with the secret: the claims the app reads, nothing else', async () => {
    const token = await signToken(SECRET, {
      sub: 'ann',
      subscribe: ['orders*'],
      admin: true,
      streams: { read: ['docs/*'] },
      name: 'Ann',
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256' });
    const { payload } = await jwtVerify(token, key);
    expect(payload).toEqual({
      sub: 'ann',
      name: 'Ann',
      rivulet: {
        subscribe: ['orders*'],
        publish: [],
        admin: true,
        streams: { read: ['docs/*'], write: [] },
      },
      iat: expect.any(Number),
      exp: payload.iat! + 3600,
    });
  });

  it('leaves the rivulet claim out when no scope is given, and sets iat, nbf and a past exp as asked', async () => {
    const token = await signToken(SECRET, { issuedAt: 1000, notBefore: 2000 }, '-1m');
    const payload = decodeJwt(token);
    expect(payload).toEqual({ iat: 1000, nbf: 2000, exp: expect.any(Number) });
    expect(payload.exp).toBeLessThan(Date.now() / 1000);
  });

  it('is refused by a verifier with another secret (negative control)', async () => {
    const token = await signToken(SECRET, { sub: 'ann' });
    await expect(jwtVerify(token, new TextEncoder().encode(`${SECRET}-other`))).rejects.toThrow();
  });
});
