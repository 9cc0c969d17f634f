// Worker configuration from the environment. Temporal connection settings come from @temporalio/envconfig
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE + TOML file), so the
// same worker runs against a laptop dev server and Temporal Cloud. AWS uses its own standard chain.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { WorkerOptions } from '@temporalio/worker';
import { TASK_QUEUE } from '../api/definitions';
import { parseDuration } from '../api/duration';

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
export function workflowSource(
  opts: { codecOn?: boolean } = {},
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const prebuilt = path.resolve(__dirname, '../workflow-bundle.js');
  if (!existsSync(prebuilt)) return { workflowsPath: require.resolve('../workflows') };
  // With the payload codec on, a bundle whose failure messages would be stored in clear is refused: the worker
  // would otherwise keep every payload encrypted but a run's own failure messages (docs/encryption.md).
  if (opts.codecOn && !existsSync(path.resolve(__dirname, '..', ENCODED_FAILURES_MARKER))) {
    throw new Error(
      'RUNBOOKS_CODEC_KEYS is set but the prebuilt workflow bundle was built without encoded failure messages: ' +
        'rebuild it with RUNBOOKS_ENCODE_FAILURES=true npm run build (docker build --build-arg ENCODE_FAILURES=true)',
    );
  }
  return { workflowBundle: { codePath: prebuilt } };
}

/** Beside the prebuilt bundle when it was built with the codec's failure converter (scripts/build-bundle.ts). */
export const ENCODED_FAILURES_MARKER = 'encoded-failures';

/** RUNBOOKS_ENCODE_FAILURES at `npm run build`: true/1 or false/0/unset. */
export function encodeFailuresAtBuild(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = (env.RUNBOOKS_ENCODE_FAILURES ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new Error(
    `RUNBOOKS_ENCODE_FAILURES must be true or false, not ${JSON.stringify(env.RUNBOOKS_ENCODE_FAILURES)}`,
  );
}

/**
 * Options every worker of this project runs with (the production worker and the tests' workers alike). Heartbeats
 * reach Temporal at least every 3 s: activities are kept alive every quarter of their heartbeat timeout
 * (activities/heartbeat.ts), and the SDK's default throttle (0.8 × the timeout) would leave a 10 s timeout only 2 s
 * of slack on a busy machine.
 */
export const WORKER_DEFAULTS = { maxHeartbeatThrottleInterval: '3s' } satisfies Partial<WorkerOptions>;

/** Cancelled activities get this long after the grace period to finish cleaning up before the worker gives up. */
const SHUTDOWN_CLEANUP_MS = 10_000;

/**
 * RUNBOOKS_SHUTDOWN_GRACE (default 30s): on SIGTERM/SIGINT the worker stops polling at once, lets the activities it
 * is running finish for this long, then cancels them (they see the cancellation and return) and exits 0 — a step
 * cut short is retried by the next worker, as after any crash. Kubernetes' terminationGracePeriodSeconds must exceed
 * it plus the 10 s cleanup (deploy/kubernetes/deployment.yaml).
 */
export function shutdownOptions(
  env: NodeJS.ProcessEnv = process.env,
): Required<Pick<WorkerOptions, 'shutdownGraceTime' | 'shutdownForceTime'>> {
  const raw = env.RUNBOOKS_SHUTDOWN_GRACE?.trim() || '30s';
  let graceMs: number;
  try {
    graceMs = parseDuration(raw);
  } catch {
    throw new Error(`RUNBOOKS_SHUTDOWN_GRACE must be a duration such as "30s" or "2m", not "${raw}"`);
  }
  return { shutdownGraceTime: graceMs, shutdownForceTime: graceMs + SHUTDOWN_CLEANUP_MS };
}
