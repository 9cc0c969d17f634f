// Worker configuration from the environment. Temporal connection settings come from @temporalio/envconfig
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE + TOML file), so the
// same worker runs against a laptop dev server and Temporal Cloud. AWS uses its own standard chain.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { WorkerOptions } from '@temporalio/worker';
import { TASK_QUEUE } from '../api/definitions';

export function temporalConnectConfig() {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return { connectionOptions, namespace: namespace ?? 'default' };
}

export function taskQueue(): string {
  return process.env.RUNBOOKS_TASK_QUEUE || TASK_QUEUE;
}

/** The prebuilt bundle (`npm run build`) in production; the sources (bundled at start) in development. */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const prebuilt = path.resolve(__dirname, '../workflow-bundle.js');
  if (existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  return { workflowsPath: require.resolve('../workflows') };
}
