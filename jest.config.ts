import type { Config } from 'jest';

const tsJest: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
  // jose 6 is ESM only: Node loads it with require(esm), but Jest's module runtime cannot, so
  // Jest compiles it to CommonJS like our own sources.
  '/node_modules/jose/.+\\.js$': [
    'ts-jest',
    { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true },
  ],
};
const transformIgnorePatterns = ['/node_modules/(?!jose/)'];

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
