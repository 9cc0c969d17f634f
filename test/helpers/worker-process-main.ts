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

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.RUNBOOKS_TASK_QUEUE;
  const codePath = process.env.WORKFLOW_BUNDLE_PATH;
  if (!address || !taskQueue || !codePath) {
    throw new Error('TEMPORAL_ADDRESS, RUNBOOKS_TASK_QUEUE and WORKFLOW_BUNDLE_PATH are required');
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
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
    // TEST_WORKER_NO_CACHE=1: no sticky cache, every workflow task replays the history — after a SIGKILL the next
    // worker gets the run's tasks at once instead of after the dead worker's sticky queue times out.
    ...WORKER_DEFAULTS,
    ...(process.env.TEST_WORKER_NO_CACHE === '1' ? { maxCachedWorkflows: 0 } : {}),
  });
  console.log('worker ready');
  await worker.run();
}

main().catch((err: unknown) => {
  console.error('worker process failed:', err);
  process.exit(1);
});
