// `npm run dev`: the whole local stack in one command — Temporal dev server + Web UI (SQLite under .state/), moto as
// the AWS emulator with the demo environment seeded, local stand-in apps with switchable /health, and the worker.
// Ctrl-C stops all of it — as do a closed terminal, `kill` of npm, `kill -- -PGID` and a crash of this process: a
// detached guardian (scripts/lib/guardian.js) stops what was started whenever this process is gone.
//
// `npm run dev -- reset [--force]`, in another terminal while the stack runs: the demo environment back to how a
// fresh start seeds it, after a drill (scripts/lib/reset.ts); Temporal, its history and the worker go on.
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createAwsClients } from '../activities/aws-clients';
import { TASK_QUEUE } from '../api/definitions';
import { runbookCommands } from './lib/banner';
import { startDemoApp, type DemoApp } from './lib/demo-apps';
import { DEMO, seedDemoEnvironment } from './lib/demo-env';
import { startReplicaLagPublisher } from './lib/replica-lag';
import { scratchPgUrl, startPostgres } from './lib/postgres';
import { DEMO_BACKUPS, uploadDemoBackup } from './lib/demo-backups';
import { applySchedule, BACKUP_VERIFICATION_SCHEDULE } from '../client/schedules';
import { commandLine, assertPortsFree, type PortHolder } from './lib/ports';
import { onParentGone, startProcess, stopAll, waitFor, type Managed } from './lib/processes';
import { ResetError, resetDemoEnvironment } from './lib/reset';
import { emulatorEnv, repoRoot, startMoto, startTemporal } from './lib/stack';
import { liveProcesses, readStackRecord, stackFileIn, writeStackRecord, type StackRecord } from './lib/stack-record';
import { startRealisticLayer, type RealisticLayer } from './realistic/layer';
import { FAULTS } from './realistic/machines';
import { obtainTemporalCli, onPath } from './lib/temporal-cli';

// RUNBOOKS_STATE_DIR: where history (temporal.db), logs and the demo description go (tests use their own).
const stateDir = path.resolve(process.env.RUNBOOKS_STATE_DIR || path.join(repoRoot, '.state'));
const logDir = path.join(stateDir, 'logs');
const stackFile = stackFileIn(stateDir);
const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

async function main(): Promise<void> {
  mkdirSync(logDir, { recursive: true });
  const apps: DemoApp[] = [];
  const stopHooks: (() => void)[] = [];
  let stopping = false;
  const shutdown = async (code: number, why?: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nStopping the stack${why ? ` (${why})` : ''} …`);
    for (const hook of stopHooks) hook();
    await stopAll();
    await Promise.all(apps.map((a) => a.close()));
    rmSync(stackFile, { force: true });
    console.log('Stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGHUP', () => void shutdown(0, 'the terminal closed'));
  // A closed terminal makes every write fail; that must not cut the stop short.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  // `kill <npm pid>` ends npm (and its shell) but not tsx and this process: stop when they are gone.
  onParentGone(() => void shutdown(0, 'npm is gone'));

  try {
    const temporalPort = num('TEMPORAL_PORT', 7233);
    const uiPort = num('TEMPORAL_UI_PORT', 8233);
    const motoPort = num('MOTO_PORT', 5000);
    const pgPort = num('PG_PORT', 5433);
    const base = num('DEMO_APP_PORT', 8081);
    const names = ['primary', 'secondary', 'blue', 'green', 'public'] as const;
    // The worker's metrics and health endpoints (worker/telemetry.ts validates the variable; `off` disables them).
    const metricsAt = process.env.RUNBOOKS_METRICS_ADDRESS?.trim() || '127.0.0.1:9464';
    const metricsPort = metricsAt === 'off' ? undefined : Number(metricsAt.split(':').pop());
    // Every port at once, with who holds it and how to stop them (an earlier stack killed with -9, say).
    await assertPortsFree(
      [
        { port: temporalPort, what: 'Temporal frontend', env: 'TEMPORAL_PORT' },
        { port: uiPort, what: 'Temporal Web UI', env: 'TEMPORAL_UI_PORT' },
        { port: motoPort, what: 'AWS emulator', env: 'MOTO_PORT' },
        ...(process.argv.includes('--realistic')
          ? [{ port: num('REALISTIC_PORT', motoPort + 1), what: 'realistic AWS layer', env: 'REALISTIC_PORT' }]
          : [{ port: num('CODEDEPLOY_PORT', motoPort + 1), what: 'CodeDeploy layer', env: 'CODEDEPLOY_PORT' }]),
        { port: pgPort, what: 'PostgreSQL', env: 'PG_PORT' },
        ...names.map((n, i) => ({ port: base + i, what: `demo app ${n}`, env: 'DEMO_APP_PORT' })),
        ...(metricsPort ? [{ port: metricsPort, what: 'worker metrics', env: 'RUNBOOKS_METRICS_ADDRESS' }] : []),
      ],
      leftFromEarlierStack(),
    );

    console.log(`Starting the Temporal dev server on 127.0.0.1:${temporalPort} (UI ${uiPort}) …`);
    const temporal = await startTemporal({
      port: temporalPort,
      uiPort,
      dbFile: path.join(stateDir, 'temporal.db'),
      logDir,
      log: (l) => console.log(l),
    });

    console.log(`Starting the AWS emulator (moto) on 127.0.0.1:${motoPort} …`);
    const moto = await startMoto({ port: motoPort, logDir, log: (l) => console.log(l) });
    const awsEnv = emulatorEnv(moto.endpoint);
    Object.assign(process.env, awsEnv);

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

    console.log(`Starting PostgreSQL on 127.0.0.1:${pgPort} (what the demo's RDS endpoints reach for data checks) …`);
    const pg = await startPostgres({ port: pgPort, logDir, log: (l) => console.log(l) });
    const dbOverrides = JSON.stringify({ '*.rds.amazonaws.com': `127.0.0.1:${pg.port}` });
    console.log(`Demo pg_dump archive: s3://${DEMO_BACKUPS.bucket}/${await uploadDemoBackup(aws, pg)}`);

    // --realistic: the worker reaches AWS through the realistic layer (AWS's phases, timings and faults on demand);
    // the seeding above went straight to moto.
    let realistic: RealisticLayer | undefined;
    if (process.argv.includes('--realistic')) {
      realistic = await startRealisticLayer({
        upstream: moto.endpoint,
        port: num('REALISTIC_PORT', motoPort + 1),
        minuteMs: num('RUNBOOKS_REALISTIC_MINUTE_MS', 2_000),
      });
      console.log(`Realistic AWS layer on ${realistic.endpoint} in front of the emulator`);
    }
    // Without --realistic, CodeDeploy alone goes through a layer (moto's deployments stay `Created` forever): the
    // worker's AWS_ENDPOINT_URL_CODEDEPLOY, on the port --realistic would take (CODEDEPLOY_PORT, moto's + 1), one AWS
    // minute in RUNBOOKS_CODEDEPLOY_MINUTE_MS (100 ms).
    let codeDeployLayer: RealisticLayer | undefined;
    if (!realistic) {
      codeDeployLayer = await startRealisticLayer({
        upstream: moto.endpoint,
        port: num('CODEDEPLOY_PORT', motoPort + 1),
        minuteMs: num('RUNBOOKS_CODEDEPLOY_MINUTE_MS', 100),
      });
      stopHooks.push(() => void codeDeployLayer?.close());
      console.log(`CodeDeploy layer on ${codeDeployLayer.endpoint} in front of the emulator`);
    }
    const codeDeployEndpoint = (realistic ?? codeDeployLayer)!.endpoint;

    console.log('Starting the worker …');
    const worker = startProcess('worker', process.execPath, [require.resolve('tsx/cli'), 'worker/main.ts'], {
      logDir,
      cwd: repoRoot,
      echo: true,
      // Stopped first, with time for its graceful shutdown (in-flight activities), then the servers.
      stopOrder: 1,
      graceMs: 12_000,
      env: {
        ...process.env,
        ...awsEnv,
        ...(realistic ? { AWS_ENDPOINT_URL: realistic.endpoint } : {}),
        AWS_ENDPOINT_URL_CODEDEPLOY: codeDeployEndpoint,
        TEMPORAL_ADDRESS: temporal.address,
        RUNBOOKS_DB_ENDPOINT_OVERRIDES: dbOverrides,
        // backupVerification's pg_dump archives are restored into temporary databases here.
        RUNBOOKS_SCRATCH_PG_URL: process.env.RUNBOOKS_SCRATCH_PG_URL ?? scratchPgUrl(pg.host, pg.port),
        // The shipped demo policy, unless one of yours is set (docs/policy.md).
        RUNBOOKS_POLICY_FILE: process.env.RUNBOOKS_POLICY_FILE ?? path.join(repoRoot, 'policies', 'demo.yaml'),
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

    recordStack([temporal.process, moto.process, worker], {
      temporal: {
        address: temporal.address,
        namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
        ...(temporal.uiUrl ? { ui: temporal.uiUrl } : {}),
      },
      moto: moto.endpoint,
      ...(realistic ? { realistic: realistic.endpoint } : {}),
      apps: appUrls,
      postgres: { host: pg.host, port: pg.port },
    });
    printReady({
      temporalCli: await obtainTemporalCli(),
      temporalPort,
      uiPort,
      ui: temporal.uiUrl!,
      address: temporal.address,
      moto: moto.endpoint,
      ...(realistic ? { realistic: { endpoint: realistic.endpoint, minuteMs: realistic.minuteMs } } : {}),
      ...(codeDeployLayer
        ? { codeDeploy: { endpoint: codeDeployLayer.endpoint, minuteMs: codeDeployLayer.minuteMs } }
        : {}),
      apps: appUrls,
      zoneId: demo.hostedZone.id,
      ...(metricsPort ? { metrics: `http://${metricsAt}/metrics` } : {}),
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

/**
 * The stack's processes, so the next start can tell whether any outlived it (only a `kill -9` of both this
 * process and its guardian can leave them): the worker holds no port, yet would keep polling the next server. And
 * where its parts answer, for `npm run dev -- reset`.
 */
function recordStack(
  procs: Managed[],
  where: Pick<StackRecord, 'temporal' | 'moto' | 'realistic' | 'apps' | 'postgres'>,
): void {
  const entries = procs
    .filter((p) => p.child.pid !== undefined)
    .map((p) => ({ name: p.name, pid: p.child.pid!, command: commandLine(p.child.pid!) }));
  writeStackRecord(stateDir, {
    startedBy: process.pid,
    startedByCommand: commandLine(process.pid),
    startedAt: new Date().toISOString(),
    processes: entries,
    ...where,
  });
}

function leftFromEarlierStack(): PortHolder[] {
  const recorded = readStackRecord(stateDir);
  return recorded ? liveProcesses(recorded).map((p) => ({ pid: p.pid, command: p.command })) : [];
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

/**
 * The one line a person runs first in another terminal so the commands below work as printed: the Temporal CLI
 * this stack uses on the PATH (when `temporal` is not already that), and the address when it is not the default.
 */
function shellSetupLine(temporalCli: string, temporalPort: number, uiPort: number): string | undefined {
  const parts: string[] = [];
  const onPathNow = onPath('temporal');
  if (!onPathNow || realpathSync(onPathNow) !== realpathSync(temporalCli)) {
    parts.push(`PATH="${path.dirname(temporalCli)}:$PATH"`);
  }
  if (temporalPort !== 7233) parts.push(`TEMPORAL_ADDRESS=127.0.0.1:${temporalPort}`);
  if (uiPort !== 8233) parts.push(`TEMPORAL_UI_URL=http://127.0.0.1:${uiPort}`);
  return parts.length > 0 ? `export ${parts.join(' ')}` : undefined;
}

function printReady(s: {
  temporalCli: string;
  temporalPort: number;
  uiPort: number;
  ui: string;
  address: string;
  moto: string;
  realistic?: { endpoint: string; minuteMs: number };
  codeDeploy?: { endpoint: string; minuteMs: number };
  apps: Record<string, string>;
  zoneId: string;
  metrics?: string;
}): void {
  const lines = [
    '',
    '──────────────────────────────────────────────────────────────────────────',
    ' Runbooks stack is up. Ctrl-C stops everything.',
    '',
    ` Node.js           ${process.version} (${process.execPath})`,
    ` Temporal Web UI   ${s.ui}`,
    ` Temporal address  ${s.address} (namespace "default")`,
    ` Task queue        ${TASK_QUEUE}`,
    ...(s.metrics
      ? [` Worker metrics    ${s.metrics}  (and /healthz, /readyz; RUNBOOKS_METRICS_ADDRESS, docs/observability.md)`]
      : []),
    ` AWS emulator      ${s.moto}  (AWS_ENDPOINT_URL; credentials test/test)`,
    ...(s.codeDeploy
      ? [
          ` CodeDeploy        ${s.codeDeploy.endpoint}  (AWS_ENDPOINT_URL_CODEDEPLOY: deployments play out, one AWS minute` +
            ` takes ${s.codeDeploy.minuteMs} ms; RUNBOOKS_CODEDEPLOY_MINUTE_MS)`,
        ]
      : []),
    ...(s.realistic
      ? [
          ` Realistic layer   ${s.realistic.endpoint}  (the worker's AWS: one AWS minute takes ${s.realistic.minuteMs / 1000}s;` +
            ' RUNBOOKS_REALISTIC_MINUTE_MS)',
          '                   switch a fault on (it replaces the ones on; DELETE switches all off; GET shows them):',
          `                   curl -X PUT ${s.realistic.endpoint}/_realistic/faults -d '[{"name":"restore-fails"}]'`,
          ...Object.entries(FAULTS).map(([name, what]) => `                     ${name.padEnd(22)} ${what}`),
        ]
      : []),
    ` Demo apps         ${Object.entries(s.apps)
      .map(([k, v]) => `${k} ${v}`)
      .join(' · ')}`,
    `                   switch health: curl -X POST ${s.apps.secondary}/admin/health -d '{"healthy":false}'`,
    ` Demo hosted zone  demo.example.com (${s.zoneId}); details in .state/demo-env.json`,
    '',
  ];
  const setup = shellSetupLine(s.temporalCli, s.temporalPort, s.uiPort);
  if (setup) {
    lines.push(
      ` In another terminal (in ${repoRoot}), run this line first: it puts the Temporal CLI this stack uses on the PATH:`,
      `    ${setup}`,
      '',
    );
  }
  lines.push(' Runbooks (each input works as-is against this demo environment):');
  for (const c of runbookCommands(repoRoot)) {
    lines.push(`  ${c.type.padEnd(17)} ${c.exampleFile}`, `    ${c.cli}`, `    ${c.temporal}`);
  }
  lines.push(
    '',
    ' Then: npm run runbook -- list · watch <workflowId> · approve <workflowId> --by <name> · report <workflowId>',
    ' After a drill: npm run dev -- reset puts the demo environment back as seeded (the stack keeps running).',
    '──────────────────────────────────────────────────────────────────────────',
    '',
  );
  console.log(lines.join('\n'));
}

/** `npm run dev -- reset [--force]`: see scripts/lib/reset.ts. */
async function reset(args: string[]): Promise<void> {
  const unknown = args.filter((a) => a !== 'reset' && a !== '--force');
  if (unknown.length > 0) {
    console.error(`npm run dev -- reset: unknown ${unknown.join(' ')}; it takes only --force`);
    process.exit(2);
  }
  try {
    await resetDemoEnvironment({ stateDir, force: args.includes('--force') });
    process.exit(0);
  } catch (err) {
    console.error(err instanceof ResetError ? err.message : `reset failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  }
}

const args = process.argv.slice(2);
const subcommand = args.find((a) => !a.startsWith('-'));
if (subcommand === 'reset') {
  void reset(args);
} else if (subcommand !== undefined) {
  console.error(`npm run dev: unknown subcommand ${subcommand}; there is one: npm run dev -- reset [--force]`);
  process.exit(2);
} else {
  void main();
}
