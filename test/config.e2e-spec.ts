import { buildAppOnce, runToExit } from './support/app-process';

let mainJs: string;

/** Runs the compiled app (buildAppOnce: what `npm start` runs) with a given environment. */
const runMain = (env: Record<string, string>) => runToExit([mainJs], env);

describe('start-up configuration', () => {
  // A process start is slow on a loaded machine (Nest 12 loads as ESM through require(esm)): the
  // bounds below only catch a hang. The compiled app, not ts-node, which transpiled all of src/
  // in every child.
  jest.setTimeout(120_000);
  beforeAll(async () => {
    mainJs = await buildAppOnce();
  }, 300_000);

  it.each([
    ['SSE_HEARTBEAT_MS', 'abc'],
    ['PORT', '-1'],
    ['STORE', 'mongo'],
  ])('exits 1 with a message naming %s when it is %j', async (name, value) => {
    const { code, stderr } = await runMain({ [name]: value });
    expect(code).toBe(1);
    expect(stderr).toContain(`${name}: `);
    expect(stderr).toContain(`got "${value}"`);
  });

  it('refuses to start in production without AUTH_JWT_SECRET', async () => {
    const { code, stderr } = await runMain({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/AUTH_JWT_SECRET: is required when NODE_ENV=production/);
  });
});
