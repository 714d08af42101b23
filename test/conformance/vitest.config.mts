import { defineConfig } from 'vitest/config';

/**
 * The published Durable Streams conformance suite (@durable-streams/server-conformance-tests),
 * run by `npm test` after Jest against real Rivulet processes on loopback: the memory store, Redis,
 * and two replicas on Redis behind the project's nginx. One file at a time (a shared 2-core machine).
 */
export default defineConfig({
  test: {
    include: ['test/conformance/**/*.conformance.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // The suite's tests wait on real servers; a retry would hide a real failure.
    retry: 0,
  },
});
