import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, run } from './support/deploy-files';

/**
 * Negative control of the lint rule that keeps the image startable (eslint.config.mjs,
 * import-x/no-extraneous-dependencies): the project's own ESLint config, run on a fixture project
 * whose package.json has `express` back in devDependencies (the state that broke the image), must
 * fail on src/ importing it, and accept the same import from a test and a type-only import.
 * The fixture lives in test-artifacts/ (inside the repository, so the config's plugins resolve
 * from its node_modules; gitignored and outside `npm run lint`).
 */

jest.setTimeout(180_000);

const RULE = 'import-x/no-extraneous-dependencies';
const ESLINT = path.join(REPO, 'node_modules', 'eslint', 'bin', 'eslint.js');
const USES_EXPRESS = "import express from 'express';\n\nexport const app = express();\n";

interface LintResult {
  filePath: string;
  messages: Array<{ ruleId: string | null; message: string }>;
}

let dir: string;

beforeAll(() => {
  mkdirSync(path.join(REPO, 'test-artifacts'), { recursive: true });
  dir = mkdtempSync(path.join(REPO, 'test-artifacts', 'lint-fixture-'));
  for (const file of ['eslint.config.mjs', 'tsconfig.json'])
    copyFileSync(path.join(REPO, file), path.join(dir, file));
  mkdirSync(path.join(dir, 'src'));
  mkdirSync(path.join(dir, 'test'));
  writeFileSync(path.join(dir, 'src', 'server.ts'), USES_EXPRESS);
  writeFileSync(
    path.join(dir, 'src', 'types-only.ts'),
    "import type { Request } from 'express';\n\nexport type Incoming = Request;\n",
  );
  writeFileSync(path.join(dir, 'test', 'server.e2e-spec.ts'), USES_EXPRESS);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Lints the fixture with `manifest` as its package.json; the rule's messages by file. */
async function lintWith(manifest: Record<string, any>): Promise<Record<string, string[]>> {
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const result = await run(process.execPath, [ESLINT, '--format', 'json', 'src', 'test'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '' },
  });
  if (result.stdout.trim() === '') throw new Error(`eslint gave no report:\n${result.stderr}`);
  const report = JSON.parse(result.stdout) as LintResult[];
  const byFile: Record<string, string[]> = {};
  for (const file of report) {
    const relative = path.relative(dir, file.filePath);
    byFile[relative] = file.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
  }
  return byFile;
}

const realManifest = () =>
  JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Record<string, any>;

describe(`${RULE} (eslint.config.mjs)`, () => {
  it('fails src/ importing a devDependency (express moved back to devDependencies)', async () => {
    const manifest = realManifest();
    const { express, ...dependencies } = manifest.dependencies as Record<string, string>;
    expect(express).toBeDefined();
    manifest.dependencies = dependencies;
    manifest.devDependencies = { ...manifest.devDependencies, express };

    const messages = await lintWith(manifest);
    expect(messages['src/server.ts']).toEqual([
      "'express' should be listed in the project's dependencies, not devDependencies.",
    ]);
    // Tests may use devDependencies; a type-only import is erased from dist/.
    expect(messages['test/server.e2e-spec.ts']).toEqual([]);
    expect(messages['src/types-only.ts']).toEqual([]);
  });

  it('control: accepts the same source with the real package.json (express a dependency)', async () => {
    const messages = await lintWith(realManifest());
    expect(messages).toEqual({
      'src/server.ts': [],
      'src/types-only.ts': [],
      'test/server.e2e-spec.ts': [],
    });
  });
});
