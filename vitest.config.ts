import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Server/crash tests spawn real processes; two cores, so keep file parallelism modest.
    maxWorkers: 2,
    // Removes every tempDir() of a test file when it ends (test/helpers/setup.ts).
    setupFiles: ['test/helpers/setup.ts'],
  },
});
