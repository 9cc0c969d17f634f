// The worker process: connects to Temporal, builds AWS clients once, runs every runbook on the `runbooks` task
// queue, and shuts down gracefully on SIGINT/SIGTERM (in-flight activities finish or are cancelled cleanly).
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAwsClients } from '../activities/aws-clients';
import { ensureSearchAttributes } from '../client/search-attributes';
import {
  WORKER_DEFAULTS,
  dbEndpointOverrides,
  notifierConfig,
  taskQueue,
  temporalConnectConfig,
  workflowSource,
} from './config';
import { describeWorkerPolicy, workerPolicy } from './policy-file';

async function main(): Promise<void> {
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  // The organisation policy, before anything connects: a file that does not read stops the worker here.
  const policy = workerPolicy();
  console.log(`runbooks worker: ${describeWorkerPolicy(policy)}`);
  const { connectionOptions, namespace } = temporalConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  // A client for activities that read Temporal (naming the run that holds a resource).
  const clientConnection = await Connection.connect(connectionOptions as Parameters<typeof Connection.connect>[0]);
  const aws = createAwsClients();
  try {
    // Without the runbooks' search attributes every run would hang in Running: register them, or refuse to start.
    await ensureSearchAttributes(new Client({ connection: clientConnection, namespace }), namespace, {
      register: process.env.RUNBOOKS_REGISTER_SEARCH_ATTRIBUTES !== 'false',
      log: (line) => console.log(`runbooks worker: ${line}`),
    });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: taskQueue(),
      ...workflowSource(),
      activities: createActivities({
        aws,
        temporal: new Client({ connection: clientConnection, namespace }),
        dbEndpointOverrides: dbEndpointOverrides(),
        notifier: notifierConfig(namespace),
        policy,
      }),
      shutdownGraceTime: '10s',
      ...WORKER_DEFAULTS,
    });
    console.log(
      `runbooks worker: task queue "${taskQueue()}", namespace "${namespace}", Temporal ${connectionOptions.address ?? 'localhost:7233'}` +
        (process.env.AWS_ENDPOINT_URL ? `, AWS endpoint ${process.env.AWS_ENDPOINT_URL}` : ''),
    );
    await worker.run();
    console.log('runbooks worker: stopped');
  } finally {
    aws.destroy();
    await clientConnection.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`runbooks worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
