// Two projects. `unit` (test/unit: pure code, the CLI's rendering, the docs' commands checked statically) starts
// nothing: `npm run test:unit` runs it in seconds. `stack` (activities, workflows end to end, replay, browser) shares
// one global setup — the Temporal dev server, moto, PostgreSQL and one workflow bundle — started once for all of it.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's worker uses native code and V8 isolates: separate processes, two at a time on a 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'stack',
          include: [
            'test/activities/**/*.test.ts',
            'test/e2e/**/*.test.ts',
            'test/replay/**/*.test.ts',
            'test/browser/**/*.test.ts',
          ],
          globalSetup: ['test/helpers/global-setup.ts'],
          setupFiles: ['test/helpers/setup-env.ts'],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
