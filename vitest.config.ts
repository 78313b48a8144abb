import { defineConfig } from 'vitest/config';
import { postgresAvailable } from './test/helpers/postgres.js';
import { PG_TEST_FILES } from './test/helpers/pg-files.js';

// The PostgreSQL half (issue #17): the store and API test files again, each ledger on a PostgreSQL database of its
// own (test/helpers/pg-mode.ts). Where PostgreSQL cannot run, it is skipped, and said so: `.ci/run` installs it.
const withPostgres = process.env.PROOFSTREAM_TEST_POSTGRES !== '0' && postgresAvailable();
if (!withPostgres) console.warn('PostgreSQL half of the suite SKIPPED: no PostgreSQL server binaries (apt-get install postgresql) or PROOFSTREAM_TEST_POSTGRES=0');

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
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: PG_TEST_FILES,
                env: { PROOFSTREAM_TEST_STORE: 'postgres' },
                globalSetup: ['test/helpers/pg-global.ts'],
                maxWorkers: 2,
                // After the SQLite half, not beside it: two cores, and both halves start servers.
                sequence: { groupOrder: 1 },
              },
            },
          ]
        : []),
      {
        // Load tests measure latency under a storm they make themselves; beside the rest of the suite on two cores
        // they would measure the suite instead. They run after it, one file at a time.
        extends: true,
        test: {
          name: 'alone',
          include: ['test/**/*.alone.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
