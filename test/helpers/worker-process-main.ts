// A worker in a process of its own, for tests that kill it mid-run (SIGKILL: no graceful shutdown) and start another.
// Like worker/main.ts, but it takes the task queue and the prebuilt workflow bundle from the environment
// (RUNBOOKS_TASK_QUEUE, WORKFLOW_BUNDLE_PATH) so a restart does not re-bundle. Prints "worker ready" once it polls.
// TEST_HOLD_AFTER_ACTIVITY=<name>: that activity does its work, prints "held <name>" and then never returns — the
// moment a worker dies after an AWS call went through but before Temporal heard of it.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { WORKER_DEFAULTS, dbEndpointOverrides } from '../../worker/config';
import { workerExtras } from '../../worker/extras';
import { startTelemetry } from '../../worker/telemetry';
import { workerDeploymentOptions } from '../../worker/versioning';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.RUNBOOKS_TASK_QUEUE;
  const codePath = process.env.WORKFLOW_BUNDLE_PATH;
  if (!address || !taskQueue || !codePath) {
    throw new Error('TEMPORAL_ADDRESS, RUNBOOKS_TASK_QUEUE and WORKFLOW_BUNDLE_PATH are required');
  }
  // RUNBOOKS_METRICS_ADDRESS set: the production worker's metrics and health endpoints (test/e2e/metrics.test.ts).
  const telemetry = process.env.RUNBOOKS_METRICS_ADDRESS ? await startTelemetry() : undefined;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    ...(telemetry?.options ? { telemetryOptions: telemetry.options } : {}),
  });
  const native = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const activities: Record<string, unknown> = createActivities({
    aws: createAwsClients(),
    temporal: new Client({ connection }),
    dbEndpointOverrides: dbEndpointOverrides(),
  });
  const hold = process.env.TEST_HOLD_AFTER_ACTIVITY;
  const held = hold ? activities[hold] : undefined;
  if (hold && typeof held === 'function') {
    activities[hold] = async (...args: unknown[]) => {
      await (held as (...a: unknown[]) => Promise<unknown>)(...args);
      console.log(`held ${hold}`);
      return new Promise<never>(() => undefined);
    };
  }
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    identity: `worker-process-${process.pid}`,
    workflowBundle: { codePath },
    activities,
    ...workerExtras(),
    // RUNBOOKS_DEPLOYMENT_NAME + RUNBOOKS_BUILD_ID: a Worker Deployment version, as in worker/main.ts (unset: none).
    ...workerDeploymentOptions(),
    // TEST_WORKER_NO_CACHE=1: no sticky cache, every workflow task replays the history — after a SIGKILL the next
    // worker gets the run's tasks at once instead of after the dead worker's sticky queue times out.
    ...WORKER_DEFAULTS,
    ...(process.env.TEST_WORKER_NO_CACHE === '1' ? { maxCachedWorkflows: 0 } : {}),
  });
  telemetry?.readiness(() => worker.getState() === 'RUNNING');
  telemetry?.watchRuns(new Client({ connection }), taskQueue);
  console.log('worker ready');
  await worker.run();
}

main().catch((err: unknown) => {
  console.error('worker process failed:', err);
  process.exit(1);
});
