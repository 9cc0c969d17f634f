// The stack a benchmark run measures against, started by the bench itself on free ports (as the tests' is) and
// stopped at the end: the Temporal CLI dev server (headless, in memory), moto with the project's patches, and
// PostgreSQL loaded with the known data (the backup-verification checks read it). The AWS SDK in this process and in
// every process it starts reaches moto through the standard variables, as the worker does in production.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { createAwsClients } from '../../activities/aws-clients';
import { stopAll } from '../../scripts/lib/processes';
import { startPostgres } from '../../scripts/lib/postgres';
import { emulatorEnv, repoRoot, startMoto, startTemporal } from '../../scripts/lib/stack';
import type { BenchStack } from './types';
import { quietLogger } from '../../scripts/lib/quiet-logger';
import { WORKFLOW_INTERCEPTOR_MODULES } from '../../worker/extras';

export interface StartedStack extends BenchStack {
  stop(): Promise<void>;
}

export async function startBenchStack(log: (line: string) => void): Promise<StartedStack> {
  const logDir = path.join(repoRoot, 'test-results', 'bench', 'logs');
  mkdirSync(logDir, { recursive: true });
  const quiet = (line: string) => log(`stack: ${line}`);
  const [temporal, moto, bundle, pg] = await Promise.all([
    retry(() => startTemporal({ logDir, log: quiet, headless: true })),
    startMoto({ logDir, log: quiet }),
    bundleWorkflowCode({
      workflowsPath: path.join(repoRoot, 'workflows', 'index.ts'),
      workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES,
      logger: quietLogger,
    }),
    startPostgres({ logDir, log: quiet }),
  ]);
  Object.assign(process.env, emulatorEnv(moto.endpoint));
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-bench-bundle-'));
  const workflowBundlePath = path.join(bundleDir, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);
  const connection = await Connection.connect({ address: temporal.address });
  const native = await NativeConnection.connect({ address: temporal.address });
  const aws = createAwsClients();
  return {
    temporalAddress: temporal.address,
    awsEndpoint: moto.endpoint,
    pgPort: pg.port,
    workflowBundlePath,
    logDir,
    client: new Client({ connection }),
    native,
    aws,
    stop: async () => {
      aws.destroy();
      await connection.close();
      await native.close();
      await pg.stop();
      await stopAll();
      rmSync(bundleDir, { recursive: true, force: true });
    },
  };
}

/**
 * The dev server takes ports next to its frontend port as well; another stack starting at the same moment can take
 * one between our choosing and its binding. A second try on other ports.
 */
async function retry<T>(start: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      if (i >= tries) throw err;
    }
  }
}
