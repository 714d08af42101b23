// Loaded with `node -r` into every contender, the real app included, so all are set up alike:
// - SIGUSR2 runs a full GC (processes start with --expose-gc), so memory is read after a
//   collection even when the server has no endpoint that could trigger one;
// - the process exits when the harness that started it is gone (no orphaned servers).
'use strict';

process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') global.gc();
});

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
