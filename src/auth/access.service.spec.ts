import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { SignJWT } from 'jose';
import { loadConfig } from '../config/app-config';
import { AccessService } from './access.service';
import type { Principal } from './principal';

const SECRET = 'unit-test-secret-unit-test-secret';

function service(env: Record<string, string> = { AUTH_JWT_SECRET: SECRET }): AccessService {
  return new AccessService(loadConfig({ NODE_ENV: 'test', ...env }));
}

function sign(claims: Record<string, unknown>, secret = SECRET, expiresIn = '5m'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

const alice: Principal = { sub: 'alice', subscribe: ['orders.*'], publish: ['chat:*', 'user:*'] };

describe(AccessService.name, () => {
  describe('in open mode (no AUTH_JWT_SECRET)', () => {
    it('allows everything and ignores tokens', async () => {
      const access = service({});
      expect(access.openMode).toBe(true);
      expect(() => access.check(undefined, 'publish', ['anything'])).not.toThrow();
      await expect(
        access.identify({ headers: { authorization: 'Bearer garbage' }, query: {} }),
      ).resolves.toBeUndefined();
    });
  });

  describe('when subscribing', () => {
    const access = service();

    it('lets anyone read public topics (PUBLIC_TOPICS, default ticker,chat:*)', () => {
      expect(() => access.check(undefined, 'subscribe', ['ticker', 'chat:lobby'])).not.toThrow();
    });

    it('asks for a token (401) for anything else', () => {
      expect(() => access.check(undefined, 'subscribe', ['orders.eu'])).toThrow(
        UnauthorizedException,
      );
      expect(() => access.check(undefined, 'subscribe', ['user:alice'])).toThrow(
        UnauthorizedException,
      );
    });

    it("gives a user their own user topic and broadcast, never another user's (403)", () => {
      expect(() => access.check(alice, 'subscribe', ['user:alice', 'broadcast'])).not.toThrow();
      expect(() => access.check(alice, 'subscribe', ['user:bob'])).toThrow(ForbiddenException);
      const everything: Principal = { sub: 'admin', subscribe: ['*'], publish: [] };
      expect(() => access.check(everything, 'subscribe', ['user:bob'])).toThrow(ForbiddenException);
    });

    it('checks other topics against the subscribe patterns (403 when none matches)', () => {
      expect(() => access.check(alice, 'subscribe', ['orders.eu'])).not.toThrow();
      expect(() => access.check(alice, 'subscribe', ['orders.eu', 'payments'])).toThrow(
        ForbiddenException,
      );
    });
  });

  describe('when publishing', () => {
    const access = service();

    it('needs a token even for public topics, and a matching publish pattern', () => {
      expect(() => access.check(undefined, 'publish', ['chat:lobby'])).toThrow(
        UnauthorizedException,
      );
      expect(() => access.check(alice, 'publish', ['chat:lobby', 'user:bob'])).not.toThrow();
      expect(() => access.check(alice, 'publish', ['broadcast'])).toThrow(ForbiddenException);
    });
  });

  describe('when verifying a token', () => {
    const access = service();

    it('reads sub and the rivulet scopes', async () => {
      const token = await sign({ sub: 'alice', rivulet: { subscribe: ['a'], publish: ['b*'] } });
      await expect(access.verify(token)).resolves.toEqual({
        sub: 'alice',
        admin: false,
        subscribe: ['a'],
        publish: ['b*'],
        streams: { read: [], write: [] },
      });
      await expect(access.verify(await sign({ sub: 'bob' }))).resolves.toEqual({
        sub: 'bob',
        admin: false,
        subscribe: [],
        publish: [],
        streams: { read: [], write: [] },
      });
    });

    it('rejects a forged, an expired, an unsigned or a malformed token with 401', async () => {
      await expect(
        access.verify(await sign({ sub: 'a' }, 'another-secret-another-secret')),
      ).rejects.toThrow('The access token is invalid');
      await expect(access.verify(await sign({ sub: 'a' }, SECRET, '-1m'))).rejects.toThrow(
        'The access token has expired',
      );
      const header = Buffer.from('{"alg":"none"}').toString('base64url');
      const body = Buffer.from('{"sub":"a"}').toString('base64url');
      await expect(access.verify(`${header}.${body}.`)).rejects.toThrow(UnauthorizedException);
      await expect(access.verify('not-a-jwt')).rejects.toThrow(UnauthorizedException);
      await expect(
        access.verify(await sign({ sub: 'a', rivulet: { subscribe: ['a*b'] } })),
      ).rejects.toThrow(/claims are malformed/);
    });
  });

  describe('on durable streams (/v1/stream/<path>)', () => {
    const access = service({ AUTH_JWT_SECRET: SECRET, PUBLIC_STREAMS: 'public/*' });
    const request = async (claims: Record<string, unknown> | undefined) => ({
      headers: claims ? { authorization: `Bearer ${await sign(claims)}` } : {},
      query: {},
    });

    it('reads and writes with the rivulet.streams patterns, each separately', async () => {
      const req = await request({
        rivulet: {
          subscribe: [],
          publish: [],
          streams: { read: ['orders/*'], write: ['orders/mine'] },
        },
      });
      await expect(access.authorizeStream(req, 'read', 'orders/1')).resolves.toBeDefined();
      await expect(access.authorizeStream(req, 'read', 'payroll/1')).rejects.toBeInstanceOf(
        ForbiddenException,
      );
      await expect(access.authorizeStream(req, 'write', 'orders/1')).rejects.toBeInstanceOf(
        ForbiddenException,
      );
      await expect(access.authorizeStream(req, 'write', 'orders/mine')).resolves.toBeDefined();
    });

    it('topic scopes grant nothing on streams; no token is 401; public patterns are read-only', async () => {
      const topicsOnly = await request({ rivulet: { subscribe: ['*'], publish: ['*'] } });
      await expect(access.authorizeStream(topicsOnly, 'read', 'orders/1')).rejects.toBeInstanceOf(
        ForbiddenException,
      );
      const anonymous = await request(undefined);
      await expect(access.authorizeStream(anonymous, 'read', 'orders/1')).rejects.toBeInstanceOf(
        UnauthorizedException,
      );
      await expect(
        access.authorizeStream(anonymous, 'read', 'public/news'),
      ).resolves.toBeUndefined();
      await expect(
        access.authorizeStream(anonymous, 'write', 'public/news'),
      ).rejects.toBeInstanceOf(UnauthorizedException);
    });

    it('refuses a token whose stream patterns are malformed (401)', async () => {
      const bad = await request({
        rivulet: { subscribe: [], publish: [], streams: { read: ['has space'] } },
      });
      await expect(access.authorizeStream(bad, 'read', 'x')).rejects.toBeInstanceOf(
        UnauthorizedException,
      );
    });

    it('allows everything in open mode', async () => {
      await expect(
        service({}).authorizeStream(await request(undefined), 'write', 'any/path'),
      ).resolves.toBeUndefined();
    });
  });
});
