import { join } from 'node:path';
import { runToExit } from './support/app-process';

/** Runs src/main.ts the way `npm start` runs dist/main.js, with a given environment. */
const runMain = (env: Record<string, string>) =>
  runToExit(
    ['-r', 'ts-node/register/transpile-only', join(__dirname, '..', 'src', 'main.ts')],
    env,
  );

describe('start-up configuration', () => {
  it.each([
    ['SSE_HEARTBEAT_MS', 'abc'],
    ['PORT', '-1'],
    ['STORE', 'mongo'],
  ])(
    'exits 1 with a message naming %s when it is %j',
    async (name, value) => {
      const { code, stderr } = await runMain({ [name]: value });
      expect(code).toBe(1);
      expect(stderr).toContain(`${name}: `);
      expect(stderr).toContain(`got "${value}"`);
    },
    30_000,
  );

  it('refuses to start in production without AUTH_JWT_SECRET', async () => {
    const { code, stderr } = await runMain({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/AUTH_JWT_SECRET: is required when NODE_ENV=production/);
  }, 30_000);
});
