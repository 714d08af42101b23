import type { Config } from 'jest';
import base from './jest.config';

/**
 * The stack test (`npm run test:stack`, a step of .ci/run): builds the real Dockerfile and runs the
 * real docker-compose.yml on Docker or podman. Kept out of `npm test`: it needs root (podman) or a
 * Docker engine, and minutes of image building on a cold machine.
 */
const e2e = (base.projects as Config[]).find((p) => p.displayName === 'e2e')!;
const config: Config = {
  testTimeout: 5 * 60_000,
  projects: [{ ...e2e, displayName: 'stack', testMatch: ['<rootDir>/test/**/*.stack-spec.ts'] }],
};

export default config;
