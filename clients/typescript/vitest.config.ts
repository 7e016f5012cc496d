import { defineConfig } from 'vitest/config';

// The tests run against real archivist serve processes (test/node.ts):
// ARCHIVIST_BIN names the binary, else test/setup.ts builds one with go.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file starts its own nodes; one at a time keeps a loaded CI
    // machine's timings sane.
    fileParallelism: false,
  },
});
