// Loaded with `node -r` into every contender, the real app included, so all are set up alike:
// - SIGWINCH runs a full GC (processes start with --expose-gc), so memory is read after a
//   collection even when the server has no endpoint that could trigger one. SIGWINCH because its
//   default action is to do nothing and no framework treats it as a shutdown signal (Nest's
//   enableShutdownHooks() without arguments listens to SIGUSR2, for one);
// - the process exits when the harness that started it is gone (no orphaned servers);
// - with BENCH_EXIT_ON_SIGTERM=1 (bench/profile.mjs), a baseline exits on SIGTERM, so that Node
//   writes its --cpu-prof profile (Rivulet exits on SIGTERM by itself, after its drain).
'use strict';

process.on('SIGWINCH', () => {
  if (typeof global.gc === 'function') global.gc();
});

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();

if (process.env.BENCH_EXIT_ON_SIGTERM === '1') process.once('SIGTERM', () => process.exit(0));
