import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Removes every tempDir() of a test file when it ends (test/helpers/setup.ts).
    setupFiles: ['test/helpers/setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.alone.test.ts'],
          // Server/crash tests spawn real processes; two cores, so keep file parallelism modest.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Load tests measure latency under a storm they make themselves; beside the rest of the suite on two cores
        // they would measure the suite instead. They run after it, one file at a time.
        extends: true,
        test: {
          name: 'alone',
          include: ['test/**/*.alone.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
