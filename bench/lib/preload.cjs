// Loaded with `node -r` into every contender, the real app included, so all are set up alike:
// - SIGWINCH runs a full GC (processes start with --expose-gc), so memory is read after a
//   collection even when the server has no endpoint that could trigger one. SIGWINCH because its
//   default action is to do nothing and no framework treats it as a shutdown signal (Nest's
//   enableShutdownHooks() without arguments listens to SIGUSR2, for one);
// - the process exits when the harness that started it is gone (no orphaned servers).
'use strict';

process.on('SIGWINCH', () => {
  if (typeof global.gc === 'function') global.gc();
});

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
