// `npm run dev`: the whole local stack in one command — Temporal dev server + Web UI (SQLite under .state/), moto as
// the AWS emulator with the demo environment seeded, local stand-in apps with switchable /health, and the worker.
// Ctrl-C stops all of it.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createAwsClients } from '../activities/aws-clients';
import { TASK_QUEUE } from '../api/definitions';
import { RUNBOOKS } from '../api/runbooks';
import { startDemoApp, type DemoApp } from './lib/demo-apps';
import { DEMO, seedDemoEnvironment } from './lib/demo-env';
import { startReplicaLagPublisher } from './lib/replica-lag';
import { startPostgres } from './lib/postgres';
import { applySchedule, BACKUP_VERIFICATION_SCHEDULE } from '../client/schedules';
import { killAllSync, startProcess, stopAll, waitFor } from './lib/processes';
import { emulatorEnv, repoRoot, startMoto, startTemporal } from './lib/stack';

const stateDir = path.join(repoRoot, '.state');
const logDir = path.join(stateDir, 'logs');
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

async function main(): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  const apps: DemoApp[] = [];
  const stopHooks: (() => void)[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the stack …');
    for (const hook of stopHooks) hook();
    await stopAll();
    await Promise.all(apps.map((a) => a.close()));
    console.log('Stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0));
  process.on('exit', () => {
    killAllSync();
    for (const hook of stopHooks) hook();
  });

  try {
    const temporalPort = num('TEMPORAL_PORT', 7233);
    const uiPort = num('TEMPORAL_UI_PORT', 8233);
    console.log(`Starting the Temporal dev server on 127.0.0.1:${temporalPort} (UI ${uiPort}) …`);
    const temporal = await startTemporal({
      port: temporalPort,
      uiPort,
      dbFile: path.join(stateDir, 'temporal.db'),
      logDir,
      log: (l) => console.log(l),
    });

    const motoPort = num('MOTO_PORT', 5000);
    console.log(`Starting the AWS emulator (moto) on 127.0.0.1:${motoPort} …`);
    const moto = await startMoto({ port: motoPort, logDir, log: (l) => console.log(l) });
    const awsEnv = emulatorEnv(moto.endpoint);
    Object.assign(process.env, awsEnv, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });

    const base = num('DEMO_APP_PORT', 8081);
    const names = ['primary', 'secondary', 'blue', 'green', 'public'] as const;
    for (const [i, name] of names.entries()) apps.push(await startDemoApp(`demo-${name}`, base + i));
    const appUrls = Object.fromEntries(names.map((n, i) => [n, apps[i]!.url])) as Record<
      (typeof names)[number],
      string
    >;

    console.log('Seeding the demo environment …');
    const aws = createAwsClients();
    const demo = await seedDemoEnvironment(aws, appUrls, path.join(stateDir, 'demo-env.json'));
    // RDS publishes ReplicaLag for every replica each minute; the emulator does not, so the stack does.
    const lagPublisher = startReplicaLagPublisher(aws, {
      regions: [DEMO.primaryRegion, DEMO.secondaryRegion],
      intervalMs: 30_000,
    });
    stopHooks.push(() => {
      lagPublisher.stop();
      aws.destroy();
    });

    const pgPort = num('PG_PORT', 5433);
    console.log(`Starting PostgreSQL on 127.0.0.1:${pgPort} (what the demo's RDS endpoints reach for data checks) …`);
    const pg = await startPostgres({ port: pgPort, logDir });
    stopHooks.push(() => void pg.stop());
    const dbOverrides = JSON.stringify({ '*.rds.amazonaws.com': `127.0.0.1:${pg.port}` });

    console.log('Starting the worker …');
    const worker = startProcess('worker', process.execPath, [require.resolve('tsx/cli'), 'worker/main.ts'], {
      logDir,
      cwd: repoRoot,
      echo: true,
      env: {
        ...process.env,
        ...awsEnv,
        TEMPORAL_ADDRESS: temporal.address,
        RUNBOOKS_DB_ENDPOINT_OVERRIDES: dbOverrides,
        TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE ?? 'default',
      },
    });
    await waitFor(
      'worker',
      async () => worker.child.exitCode === null && (await workerPolling(temporal.address)),
      120_000,
      worker,
    );

    const { Connection, Client } = await import('@temporalio/client');
    const connection = await Connection.connect({ address: temporal.address });
    const what = await applySchedule(new Client({ connection }), {
      inputFile: path.join(repoRoot, 'docs', 'examples', 'backup-verification.json'),
    });
    await connection.close();
    console.log(
      `Schedule ${BACKUP_VERIFICATION_SCHEDULE} ${what} (daily; trigger it: npm run runbook -- schedules trigger)`,
    );

    printReady({
      ui: temporal.uiUrl!,
      address: temporal.address,
      moto: moto.endpoint,
      apps: appUrls,
      zoneId: demo.hostedZone.id,
    });
    worker.child.on('exit', (code) => {
      if (!stopping) {
        console.error(`The worker exited (code ${code}); see ${worker.logFile}. Stopping the stack.`);
        void shutdown(1);
      }
    });
  } catch (err) {
    console.error(`npm run dev failed: ${(err as Error).message}`);
    await shutdown(1);
  }
}

/** True once a worker polls the runbooks task queue. */
async function workerPolling(address: string): Promise<boolean> {
  const { Connection, Client } = await import('@temporalio/client');
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const tq = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: TASK_QUEUE },
      taskQueueType: 1, // workflow
    });
    return (tq.pollers?.length ?? 0) > 0;
  } finally {
    await connection.close();
  }
}

function printReady(s: {
  ui: string;
  address: string;
  moto: string;
  apps: Record<string, string>;
  zoneId: string;
}): void {
  const lines = [
    '',
    '──────────────────────────────────────────────────────────────────────────',
    ' Runbooks stack is up. Ctrl-C stops everything.',
    '',
    ` Temporal Web UI   ${s.ui}`,
    ` Temporal address  ${s.address} (namespace "default")`,
    ` Task queue        ${TASK_QUEUE}`,
    ` AWS emulator      ${s.moto}  (AWS_ENDPOINT_URL; credentials test/test)`,
    ` Demo apps         ${Object.entries(s.apps)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ')}`,
    `                   switch health: curl -X POST ${s.apps.secondary}/admin/health -d '{"healthy":false}'`,
    ` Demo hosted zone  demo.example.com (${s.zoneId}); details in .state/demo-env.json`,
    '',
    ' Runbooks (each input works as-is against this demo environment):',
  ];
  for (const r of RUNBOOKS) {
    const file = `docs/examples/${r.slug}.json`;
    const example: unknown = JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8'));
    const workflowId = r.workflowId(r.schema.parse(example) as never);
    lines.push(
      `  ${r.type.padEnd(17)} ${file}`,
      `    npm run runbook -- start ${r.type} --input ${file}`,
      `    temporal workflow start --task-queue ${TASK_QUEUE} --type ${r.type} --workflow-id '${workflowId}' --input-file ${file}`,
    );
  }
  lines.push(
    '',
    ' Then: npm run runbook -- list · watch <workflowId> · approve <workflowId> --by <name> · report <workflowId>',
    '──────────────────────────────────────────────────────────────────────────',
    '',
  );
  console.log(lines.join('\n'));
}

void main();
