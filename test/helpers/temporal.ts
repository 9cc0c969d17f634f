// Per-test Temporal plumbing: a client, and a real worker on a task queue of the test's own, running the shared
// workflow bundle with activities whose AWS clients reach the emulator through AWS_ENDPOINT_URL.
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../activities';
import type { PolicyConfig } from '../../activities/policy';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';
import { statusQuery } from '../../api/definitions';
import type { RunbookReport, RunbookStatus } from '../../api/status';
import { WORKER_DEFAULTS } from '../../worker/config';
import { workerExtras } from '../../worker/extras';

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export const uid = (prefix = 't') => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Every emulator RDS endpoint reaches the test PostgreSQL (the data checks' endpoint override). */
export const testDbOverrides = () => ({ '*.rds.amazonaws.com': `127.0.0.1:${inject('pgPort')}` });

export interface TestContext {
  client: Client;
  taskQueue: string;
  aws: AwsClients;
}

let shared:
  | { client: Client; connection: Connection; native: NativeConnection; aws: AwsClients & { destroy(): void } }
  | undefined;

async function connections() {
  if (!shared) {
    quietRuntime();
    const address = inject('temporalAddress');
    const connection = await Connection.connect({ address });
    const native = await NativeConnection.connect({ address });
    shared = { client: new Client({ connection }), connection, native, aws: createAwsClients() };
  }
  return shared;
}

/** The client and AWS clients, without a worker (e.g. to inspect state). */
export async function testClients(): Promise<{ client: Client; aws: AwsClients }> {
  const c = await connections();
  return { client: c.client, aws: c.aws };
}

/** Run `fn` while a worker serves a fresh task queue. */
export async function withWorker<T>(
  fn: (ctx: TestContext) => Promise<T>,
  opts: {
    activities?: (real: ReturnType<typeof createActivities>) => Record<string, unknown>;
    /** The organisation policy the worker hands its runs (none: the input's own rules). */
    policy?: PolicyConfig;
    /** Serve this task queue (e.g. a second worker for runs the first one started). */
    taskQueue?: string;
  } = {},
): Promise<T> {
  const c = await connections();
  const taskQueue = opts.taskQueue ?? uid('tq');
  const real = createActivities({
    aws: c.aws,
    temporal: c.client,
    dbEndpointOverrides: testDbOverrides(),
    ...(opts.policy ? { policy: opts.policy } : {}),
  });
  const worker = await Worker.create({
    connection: c.native,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities: opts.activities ? opts.activities(real) : real,
    shutdownGraceTime: '2s',
    ...workerExtras(),
    ...WORKER_DEFAULTS,
  });
  return worker.runUntil(fn({ client: c.client, taskQueue, aws: c.aws }));
}

export async function closeConnections(): Promise<void> {
  if (!shared) return;
  shared.aws.destroy();
  await shared.connection.close();
  await shared.native.close();
  shared = undefined;
}

/** Poll the `status` query until `predicate` holds (for waiting on approval gates etc.). */
export async function waitForStatus(
  client: Client,
  workflowId: string,
  predicate: (s: RunbookStatus) => boolean,
  timeoutMs = 20_000,
): Promise<RunbookStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  let last: RunbookStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(statusQuery);
      if (predicate(last)) return last;
    } catch {
      /* not started yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`status of ${workflowId} never matched; last: ${JSON.stringify(last, null, 1)?.slice(0, 2000)}`);
}

/** The failure of a run that must fail: its message and the report carried in the failure details. */
export async function expectFailure(
  client: Client,
  workflowId: string,
): Promise<{ message: string; type?: string; report?: RunbookReport }> {
  try {
    await client.workflow.getHandle(workflowId).result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as { message: string; type?: string; details?: unknown[] } | undefined;
    return {
      message: cause?.message ?? err.message,
      ...(cause?.type ? { type: cause.type } : {}),
      ...(cause?.details?.[0] ? { report: cause.details[0] as RunbookReport } : {}),
    };
  }
  throw new Error(`${workflowId} completed but was expected to fail`);
}
