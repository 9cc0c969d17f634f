// The worker process: connects to Temporal, builds AWS clients once, runs every runbook on the `runbooks` task
// queue, and shuts down gracefully on SIGINT/SIGTERM (in-flight activities finish or are cancelled cleanly).
//
// Start-up order (time to first poll, bench P5): the policy first (a bad file stops the worker before anything
// connects); then the connection is opened and, while it is being made, the activities are loaded (the AWS SDK and
// the rest: most of the start's CPU); one connection serves the worker and the activities' Temporal client.
import './compile-cache';
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import {
  WORKER_DEFAULTS,
  dbEndpointOverrides,
  notifierConfig,
  taskQueue,
  temporalConnectConfig,
  workflowSource,
} from './config';
import { workerExtras } from './extras';
import { runtimeLogger } from './logging';
import { telemetryOptions } from './telemetry';
import { describeWorkerPolicy, workerPolicy } from './policy-file';
import type * as ActivitiesModule from '../activities';
import type * as AwsClientsModule from '../activities/aws-clients';
import type * as SearchAttributesModule from '../client/search-attributes';

/** The activity modules, loaded once the connection is under way (required here, not imported at the top). */
function loadActivities() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createActivities } = require('../activities') as typeof ActivitiesModule;
  const { createAwsClients } = require('../activities/aws-clients') as typeof AwsClientsModule;
  const { ensureSearchAttributes } = require('../client/search-attributes') as typeof SearchAttributesModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { createActivities, createAwsClients, ensureSearchAttributes };
}

/** `{ [key]: value }`, or nothing when the value is undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

async function main(): Promise<void> {
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    ...optional('logger', runtimeLogger()),
    ...optional('telemetryOptions', telemetryOptions()),
  });
  // The organisation policy, before anything connects: a file that does not read stops the worker here.
  const policy = workerPolicy();
  console.log(`runbooks worker: ${describeWorkerPolicy(policy)}`);
  const { connectionOptions, namespace } = temporalConnectConfig();
  const connecting = NativeConnection.connect(connectionOptions);
  // Awaited below; this only keeps a refusal that arrives while the modules load from counting as unhandled.
  connecting.catch(() => undefined);
  const { createActivities, createAwsClients, ensureSearchAttributes } = loadActivities();
  const connection = await connecting;
  // The activities' client (naming the run that holds a resource) shares the worker's connection.
  const temporal = new Client({ connection, namespace });
  const aws = createAwsClients();
  try {
    // Without the runbooks' search attributes every run would hang in Running: register them, or refuse to start.
    await ensureSearchAttributes(temporal, namespace, {
      register: process.env.RUNBOOKS_REGISTER_SEARCH_ATTRIBUTES !== 'false',
      log: (line) => console.log(`runbooks worker: ${line}`),
    });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: taskQueue(),
      ...workflowSource(),
      ...workerExtras({ bundling: !workflowSource().workflowBundle }),
      activities: createActivities({
        aws,
        temporal,
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
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(`runbooks worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
