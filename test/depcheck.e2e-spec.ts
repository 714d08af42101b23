import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm run depcheck` (dependency-cruiser with .dependency-cruiser.cjs): the real src/ passes, and each
 * kind of rule fails on a small tree planted in a temporary folder, so the check cannot pass vacuously.
 */
const ROOT = path.resolve(__dirname, '..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const CLI = path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
/** One cruise starts the TypeScript compiler: seconds on a quiet machine, more on a busy one. */
const CRUISE_TIMEOUT_MS = 180_000;

interface Run {
  code: number;
  output: string;
}

function depcruise(cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, 'src', '--config', CONFIG, '--output-type', 'err'],
      { cwd },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** A tree of one-line modules: each file exports a constant and imports the files it names. */
type Tree = Record<string, string[]>;

const dirs: string[] = [];

async function plant(tree: Tree): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rivulet-depcheck-'));
  dirs.push(dir);
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'commonjs', target: 'ES2022', strict: true } }),
  );
  for (const [file, imports] of Object.entries(tree)) {
    const full = path.join(dir, file);
    await mkdir(path.dirname(full), { recursive: true });
    const lines = imports.map((target, i) => {
      let relative = path.relative(path.dirname(full), path.join(dir, target)).replace(/\.ts$/, '');
      if (!relative.startsWith('.')) relative = `./${relative}`;
      return `import { value as v${i} } from '${relative}';`;
    });
    const uses = imports.map((_, i) => ` + String(v${i})`).join('');
    lines.push(`export const value = '${file}'${uses};`);
    await writeFile(full, `${lines.join('\n')}\n`);
  }
  return dir;
}

/** A tree that follows every layer rule: the positive control for the planted trees below. */
const CLEAN: Tree = {
  'src/main.ts': ['src/app.module.ts'],
  'src/app.module.ts': ['src/topics/topics.module.ts', 'src/chat/chat.module.ts'],
  'src/topics/topics.module.ts': ['src/sse/sse-message.ts', 'src/auth/access.ts'],
  'src/chat/chat.module.ts': ['src/sse/sse-message.ts', 'src/common/topic-names.ts'],
  'src/auth/access.ts': ['src/common/topic-names.ts', 'src/config/app-config.ts'],
  'src/sse/sse-message.ts': ['src/event-log/event-log.ts'],
  'src/event-log/event-log.ts': ['src/config/app-config.ts', 'src/common/unavailable.ts'],
  'src/common/topic-names.ts': [],
  'src/common/unavailable.ts': [],
  'src/config/app-config.ts': [],
};

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm run depcheck', () => {
  it(
    'passes on the project itself',
    async () => {
      const run = await depcruise(ROOT);
      expect(run.output).toContain('no dependency violations found');
      expect(run.code).toBe(0);
    },
    CRUISE_TIMEOUT_MS,
  );

  it(
    'passes on a planted tree that keeps the layers',
    async () => {
      const run = await depcruise(await plant(CLEAN));
      expect(run.output).toContain('no dependency violations found');
      expect(run.code).toBe(0);
    },
    CRUISE_TIMEOUT_MS,
  );

  const violations: [string, Tree, string][] = [
    [
      'an import cycle between two files',
      { ...CLEAN, 'src/common/a.ts': ['src/common/b.ts'], 'src/common/b.ts': ['src/common/a.ts'] },
      'no-circular',
    ],
    [
      'an import cycle between folders with no file cycle',
      {
        ...CLEAN,
        'src/auth/guard.ts': ['src/sse/writer.ts'],
        'src/sse/writer.ts': ['src/auth/patterns.ts'],
        'src/auth/patterns.ts': [],
      },
      'no-circular-folders',
    ],
    [
      'common/ importing event-log/',
      { ...CLEAN, 'src/common/filter.ts': ['src/event-log/event-log.ts'] },
      'leaves-import-no-layer',
    ],
    [
      'storage importing the wire format',
      { ...CLEAN, 'src/event-log/emissions.ts': ['src/sse/sse-message.ts'] },
      'storage-does-not-know-the-wire',
    ],
    [
      'auth/ importing a feature',
      { ...CLEAN, 'src/auth/access.ts': ['src/topics/topics.module.ts'] },
      'wire-and-auth-below-features',
    ],
    [
      'an sse/ file importing lifecycle/',
      {
        ...CLEAN,
        'src/sse/registry.ts': ['src/lifecycle/drain.service.ts'],
        'src/lifecycle/drain.service.ts': [],
      },
      'wire-and-auth-below-features',
    ],
    [
      'one stream feature importing another',
      { ...CLEAN, 'src/chat/chat.module.ts': ['src/topics/topics.module.ts'] },
      'stream-features-stand-alone',
    ],
    [
      'a feature importing the app module',
      { ...CLEAN, 'src/chat/chat.module.ts': ['src/app.module.ts'] },
      'nothing-imports-the-app',
    ],
    [
      'the app importing a test helper',
      { ...CLEAN, 'src/chat/chat.module.ts': ['test/support/http.ts'], 'test/support/http.ts': [] },
      'app-does-not-import-tests',
    ],
  ];

  it.each(violations)(
    'fails on %s',
    async (_, tree, rule) => {
      const run = await depcruise(await plant(tree));
      expect(run.output).toContain(`error ${rule}:`);
      expect(run.code).not.toBe(0);
    },
    CRUISE_TIMEOUT_MS,
  );
});
