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
  shutdownOptions,
  taskQueue,
  temporalConnectConfig,
  workflowSource,
} from './config';
import { workerExtras } from './extras';
import { coreLogging, runtimeLogger } from './logging';
import { startTelemetry } from './telemetry';
import { codecDataConverter } from './codec';
import { describeWorkerPolicy, workerAccounts, workerPolicy } from './policy-file';
import { shutdownTracing } from './tracing';
import { describeVersioning, workerDeploymentOptions } from './versioning';
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
  // The metrics and health endpoints first: /healthz answers while the worker starts (worker/telemetry.ts).
  const telemetry = await startTelemetry();
  // Every line the worker prints is JSON through this logger, Core's own lines included (worker/logging.ts).
  const { logger } = Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    ...optional('logger', runtimeLogger()),
    telemetryOptions: { ...telemetry.options, logging: coreLogging() },
  });
  // The organisation policy, before anything connects: a file that does not read stops the worker here.
  const policy = workerPolicy();
  logger.info(`runbooks worker: ${describeWorkerPolicy(policy)}`);
  // Like the policy: a bad deployment name, build ID or grace period stops the worker before it connects.
  const versioning = workerDeploymentOptions();
  const shutdown = shutdownOptions();
  // The payload codec (RUNBOOKS_CODEC_KEYS) and the target accounts' settings: bad values stop the worker here too.
  const dataConverter = codecDataConverter();
  workerAccounts();
  const source = workflowSource({ codecOn: dataConverter !== undefined });
  logger.info(`runbooks worker: ${describeVersioning(versioning)}`);
  const { connectionOptions, namespace } = temporalConnectConfig();
  const connecting = NativeConnection.connect(connectionOptions);
  // Awaited below; this only keeps a refusal that arrives while the modules load from counting as unhandled.
  connecting.catch(() => undefined);
  const { createActivities, createAwsClients, ensureSearchAttributes } = loadActivities();
  const connection = await connecting;
  // The activities' client (naming the run that holds a resource) shares the worker's connection.
  // With the codec on it reads and writes payloads as the runs do (e.g. a failback reading its failover's result).
  const temporal = new Client({ connection, namespace, ...optional('dataConverter', dataConverter) });
  const aws = createAwsClients();
  try {
    // Without the runbooks' search attributes every run would hang in Running: register them, or refuse to start.
    await ensureSearchAttributes(temporal, namespace, {
      register: process.env.RUNBOOKS_REGISTER_SEARCH_ATTRIBUTES !== 'false',
      log: (line) => logger.info(`runbooks worker: ${line}`),
    });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: taskQueue(),
      ...source,
      ...workerExtras({ bundling: !source.workflowBundle }),
      activities: createActivities({
        aws,
        temporal,
        dbEndpointOverrides: dbEndpointOverrides(),
        notifier: notifierConfig(namespace),
        policy,
      }),
      // SIGTERM: stop polling, give running activities the grace period, then cancel them (worker/config.ts).
      ...shutdown,
      ...versioning,
      ...WORKER_DEFAULTS,
    });
    logger.info(
      `runbooks worker: task queue "${taskQueue()}", namespace "${namespace}", Temporal ${connectionOptions.address ?? 'localhost:7233'}` +
        (process.env.AWS_ENDPOINT_URL ? `, AWS endpoint ${process.env.AWS_ENDPOINT_URL}` : ''),
    );
    // Ready (/readyz) while the worker polls; it is not once shutdown begins.
    telemetry.readiness(() => worker.getState() === 'RUNNING');
    telemetry.watchRuns(temporal, taskQueue(), (line) => logger.warn(line));
    if (telemetry.url) logger.info(`runbooks worker: metrics on ${telemetry.url} (/healthz, /readyz beside it)`);
    await worker.run();
    logger.info('runbooks worker: stopped');
  } finally {
    await telemetry.close();
    aws.destroy();
    await connection.close();
    // The spans still batched (the last activities', the runs that just ended) go out before the process exits.
    await shutdownTracing();
  }
}

main().then(
  // A clean stop exits 0 at once, whatever handle (an HTTP listener, a timer) would otherwise keep the process up
  // past the grace period a supervisor gives it.
  () => process.exit(0),
  (err: unknown) => {
    console.error(`runbooks worker failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
