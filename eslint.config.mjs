// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Where devDependencies may be imported: never from what ships in dist/. */
export const DEV_DEPENDENCIES_ALLOWED = [
  'test/**',
  'bench/**',
  'scripts/**',
  '**/*.spec.ts',
  '**/*.e2e-spec.ts',
];

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'bench/',
      'public/',
      'eslint.config.mjs',
      '.dependency-cruiser.cjs',
      'jest.config.ts',
      'jest.stack.config.ts',
      'test/conformance/vitest.config.mts',
      'test-artifacts/',
      'scripts/',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Everything dist/ imports at run time must be a production dependency: the image installs
    // `npm ci --omit=dev`, so a devDependency imported from src/ makes the container fail at start.
    // devDependencies are for tests, specs, benchmarks and scripts only; `import type` is erased at
    // compile time and stays allowed. test/lint-deps.e2e-spec.ts is this rule's negative control.
    plugins: { 'import-x': importX },
    rules: {
      'import-x/no-extraneous-dependencies': [
        'error',
        {
          devDependencies: DEV_DEPENDENCIES_ALLOWED,
          optionalDependencies: false,
          peerDependencies: false,
          bundledDependencies: false,
        },
      ],
    },
  },
  {
    // Tests read JSON payloads off the wire: `any` there is the honest type.
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
