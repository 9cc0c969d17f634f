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

/**
 * RUNBOOKS_DB_ENDPOINT_OVERRIDES — local runs and tests only: a JSON map from an RDS endpoint (or "*.suffix") to
 * "host:port", so the data checks reach a real PostgreSQL when the RDS endpoints are an emulator's. Unset against AWS.
 */
export function dbEndpointOverrides(): Record<string, string> {
  const raw = process.env.RUNBOOKS_DB_ENDPOINT_OVERRIDES;
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, string>;
  } catch {
    /* fall through */
  }
  throw new Error(
    'RUNBOOKS_DB_ENDPOINT_OVERRIDES must be a JSON object such as {"*.rds.amazonaws.com": "127.0.0.1:5433"}',
  );
}

/** RUNBOOKS_SLACK_WEBHOOK_URL (off when unset) and RUNBOOKS_UI_URL for links in the messages. */
export function notifierConfig(namespace: string) {
  return {
    ...(process.env.RUNBOOKS_SLACK_WEBHOOK_URL ? { webhookUrl: process.env.RUNBOOKS_SLACK_WEBHOOK_URL } : {}),
    ...(process.env.RUNBOOKS_UI_URL ? { uiBaseUrl: process.env.RUNBOOKS_UI_URL } : {}),
    namespace,
  };
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

/**
 * Options every worker of this project runs with (the production worker and the tests' workers alike). Heartbeats
 * reach Temporal at least every 3 s: activities are kept alive every quarter of their heartbeat timeout
 * (activities/heartbeat.ts), and the SDK's default throttle (0.8 × the timeout) would leave a 10 s timeout only 2 s
 * of slack on a busy machine.
 */
export const WORKER_DEFAULTS = { maxHeartbeatThrottleInterval: '3s' } satisfies Partial<WorkerOptions>;
