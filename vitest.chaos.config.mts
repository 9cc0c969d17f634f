// `npm run chaos`: every runbook under the realistic AWS layer's faults, a killed worker, a restarted Temporal
// server and generated bad inputs; writes docs/reliability.md. Not part of `npm test` (its fast subset is).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: ['test/helpers/stack/global-setup.ts', 'test/chaos/report-setup.ts'],
    setupFiles: ['test/helpers/stack/setup-env.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // describe.concurrent tests (the crash scenarios: mostly waiting for timeouts) run eight at a time in their file.
    maxConcurrency: 8,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
