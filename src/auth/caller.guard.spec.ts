import { UnauthorizedException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { SignJWT } from 'jose';
import { loadConfig } from '../config/app-config';
import { AccessService } from './access.service';
import type { TokenSource } from './access-token';
import { CallerGuard, principalOf } from './caller.guard';

const SECRET = 'unit-test-secret-unit-test-secret';

function guard(env: Record<string, string>): CallerGuard {
  return new CallerGuard(new AccessService(loadConfig({ NODE_ENV: 'test', ...env })));
}

function request(authorization?: string): TokenSource {
  return { headers: authorization === undefined ? {} : { authorization }, query: {} };
}

const contextOf = (req: TokenSource) => new ExecutionContextHost([req, {}, () => undefined]);

function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));
}

describe(CallerGuard.name, () => {
  it('in open mode lets every request through at once, with no principal, whatever its token', () => {
    const req = request('Bearer not-even-a-jwt');
    expect(guard({}).canActivate(contextOf(req))).toBe(true);
    expect(principalOf(req)).toBeUndefined();
  });

  describe('with AUTH_JWT_SECRET', () => {
    const withAuth = guard({ AUTH_JWT_SECRET: SECRET });

    it("resolves a valid token's principal for the handler", async () => {
      const req = request(`Bearer ${await token({ sub: 'ann', rivulet: { subscribe: ['a.*'] } })}`);
      await expect(withAuth.canActivate(contextOf(req))).resolves.toBe(true);
      expect(principalOf(req)).toMatchObject({ sub: 'ann', subscribe: ['a.*'], publish: [] });
    });

    it('lets a request without a token through as nobody: the handler decides (public topics)', async () => {
      const req = request();
      await expect(withAuth.canActivate(contextOf(req))).resolves.toBe(true);
      expect(principalOf(req)).toBeUndefined();
    });

    it('refuses a bad token with 401 before the handler runs', async () => {
      const forged = await new SignJWT({ sub: 'ann' })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode('another-secret-another-secret-xx'));
      const req = request(`Bearer ${forged}`);
      await expect(withAuth.canActivate(contextOf(req))).rejects.toBeInstanceOf(
        UnauthorizedException,
      );
      expect(principalOf(req)).toBeUndefined();
    });
  });
});
