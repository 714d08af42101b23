import type { Config } from 'jest';

const tsJest: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  // jose 6 and Nest 12 (@nestjs/*) are ESM only: Jest's module runtime on Node 20 cannot load
  // them with require(esm) as Node does, so they are compiled to CommonJS (see the transformer).
  '/node_modules/(jose|@nestjs)/.+\\.js$': '<rootDir>/scripts/jest-esm-to-cjs.cjs',
};
const transformIgnorePatterns = ['/node_modules/(?!(jose|@nestjs)/)'];

/**
 * Two projects: `unit` (specs beside the code) and `e2e` (test/, real HTTP over loopback and the
 * real parts users run: nginx, redis-server, Chromium). `npm test` runs both.
 */
const config: Config = {
  // A global option (Jest ignores it per project): generous, since e2e tests wait for real events.
  testTimeout: 30_000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      transform: tsJest,
      transformIgnorePatterns,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform: tsJest,
      transformIgnorePatterns,
    },
  ],
};

export default config;
