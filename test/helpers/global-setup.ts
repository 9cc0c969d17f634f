// Starts what the tests need once per `npm test`: the Temporal CLI dev server (in memory, free ports, the
// runbooks' search attributes), moto as the AWS emulator, and one workflow bundle shared by every test worker.
// TEST_TEMPORAL_ADDRESS / TEST_AWS_ENDPOINT point the tests at services already running instead.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { stopAll } from '../../scripts/lib/processes';
import { startPostgres } from '../../scripts/lib/postgres';
import { repoRoot, startMoto, startTemporal } from '../../scripts/lib/stack';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalUiUrl: string;
    awsEndpoint: string;
    workflowBundlePath: string;
    /** A real PostgreSQL loaded with known data (scripts/lib/postgres.ts DEMO_DATA_SQL). */
    pgPort: number;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const logDir = path.join(repoRoot, 'test-results', 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = (line: string) => console.log(`[test setup] ${line}`);

  const [temporal, moto, bundle, pg] = await Promise.all([
    process.env.TEST_TEMPORAL_ADDRESS
      ? Promise.resolve({ address: process.env.TEST_TEMPORAL_ADDRESS, uiUrl: process.env.TEST_TEMPORAL_UI_URL ?? '' })
      : startTemporal({ logDir, log }),
    process.env.TEST_AWS_ENDPOINT
      ? Promise.resolve({ endpoint: process.env.TEST_AWS_ENDPOINT })
      : startMoto({ logDir, log }),
    bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'), logger: quietLogger }),
    startPostgres({ logDir, log }),
  ]);
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-bundle-'));
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);

  project.provide('temporalAddress', temporal.address);
  project.provide('temporalUiUrl', temporal.uiUrl ?? '');
  project.provide('awsEndpoint', moto.endpoint);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('pgPort', pg.port);
  log(`Node.js ${process.version} (${process.execPath}); Temporal ${temporal.address}, AWS emulator ${moto.endpoint}`);

  return async () => {
    await pg.stop();
    await stopAll();
    rmSync(bundleDir, { recursive: true, force: true });
  };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};
