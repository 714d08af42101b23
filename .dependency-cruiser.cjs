// @ts-check
/**
 * Rivulet's layers, checked by `npm run depcheck` (and so by `npm run lint` and CI). Dependencies
 * point down:
 *
 *   main / app.module / app.factory
 *     → features (ai, topics, notifications, chat, replay, typewriter, monitor,
 *                 health, metrics, lifecycle, logging)
 *     → sse (the wire), auth
 *     → event-log (storage)
 *     → config, common (leaves)
 *
 * A rule names what may NOT be imported; no import cycle is allowed, between files or folders.
 * test/depcheck.e2e-spec.ts proves each kind of rule can fail (a planted cycle, an upward arrow).
 */

/** The stream features: each stands on the layers below, never on another one. */
const STREAM_FEATURES = 'ai|topics|notifications|chat|replay|typewriter|monitor';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle between files.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      comment: 'No import cycle between folders.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'leaves-import-no-layer',
      comment: 'config/ and common/ are the bottom: they import nothing of the app but each other.',
      severity: 'error',
      from: { path: '^src/(config|common)/' },
      to: { path: '^src/', pathNot: '^src/(config|common)/' },
    },
    {
      name: 'storage-does-not-know-the-wire',
      comment:
        'event-log/ (storage) imports only config/ and common/: never sse/, auth/ or a feature.',
      severity: 'error',
      from: { path: '^src/event-log/' },
      to: { path: '^src/', pathNot: '^src/(event-log|config|common)/' },
    },
    {
      name: 'wire-and-auth-below-features',
      comment: 'sse/ and auth/ import only each other and the layers below, never a feature.',
      severity: 'error',
      from: { path: '^src/(sse|auth)/' },
      to: { path: '^src/', pathNot: '^src/(sse|auth|event-log|config|common)/' },
    },
    {
      name: 'stream-features-stand-alone',
      comment: 'A stream feature never imports another one: shared parts belong a layer down.',
      severity: 'error',
      from: { path: `^src/(${STREAM_FEATURES})/` },
      to: { path: `^src/(${STREAM_FEATURES})/`, pathNot: '^src/$1/' },
    },
    {
      name: 'nothing-imports-the-app',
      comment: 'Only main.ts, app.factory.ts and the app module spec import the bootstrap files.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(main|app[.]factory|app[.]module[.]spec)[.]ts$' },
      to: { path: '^src/(main|app[.]module|app[.]factory)[.]ts$' },
    },
    {
      name: 'app-does-not-import-tests',
      comment: 'src/ never imports test/ (test helpers are not shipped in dist/).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing is a mistake (or a missing dependency).',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
