// Four projects. `unit` (test/unit: pure code, the CLI's rendering, the docs' commands checked statically) starts
// nothing: `npm run test:unit` runs it in seconds. The stack projects — `activities` (test/activities: activities
// against the emulator and PostgreSQL), `e2e` (test/e2e: workflows end to end on a real worker; test/replay: the
// committed histories against the current workflow code) and `browser` (test/browser: the Temporal Web UI) — each
// list the same global setup (test/helpers/stack/global-setup.ts: the Temporal dev server, moto, PostgreSQL and one
// workflow bundle). It is shared: however many stack projects a run has, the stack starts once and stops after the
// last of them (see the file). `npm run test:<project>` runs one project; `npm test` all four; `--project` picks.
import { defineConfig } from 'vitest/config';

const stack = {
  globalSetup: ['test/helpers/stack/global-setup.ts'],
  setupFiles: ['test/helpers/stack/setup-env.ts'],
  pool: 'forks' as const,
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    // Temporal's worker uses native code and V8 isolates: separate processes, two at a time on a 2-core machine —
    // for all projects together (no project sets maxWorkers of its own, so they run in one group of two workers).
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
      { test: { name: 'activities', include: ['test/activities/**/*.test.ts'], ...stack } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts', 'test/replay/**/*.test.ts'], ...stack } },
      { test: { name: 'browser', include: ['test/browser/**/*.test.ts'], ...stack } },
    ],
  },
});
