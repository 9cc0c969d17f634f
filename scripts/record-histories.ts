// Records one history per runbook scenario into test/histories/ for the replay tests. Run it (`npm run
// record-histories`) before changing a workflow in a way that could break runs in flight: the committed histories
// keep replaying in CI, so an incompatible change fails the build until it is guarded with patched().
// It starts its own Temporal dev server and emulator on free ports and stops them afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAwsClients } from '../activities/aws-clients';
import { approveSignal, keepScaledSignal } from '../api/definitions';
import { startDemoApp } from './lib/demo-apps';
import { seedDemoEnvironment } from './lib/demo-env';
import { scratchPgUrl, startPostgres } from './lib/postgres';
import { uploadDemoBackup } from './lib/demo-backups';
import { startReplicaLagPublisher } from './lib/replica-lag';
import { startRealisticLayer } from './realistic/layer';
import { ensureCluster, ensureHostedZone, ensureRecords, ensureService, ensureTaskDefinitions } from './lib/fixtures';
import { stopAll } from './lib/processes';
import { emulatorEnv, repoRoot, startMoto, startTemporal } from './lib/stack';
import { obtainTemporalCli } from './lib/temporal-cli';
import { WORKER_DEFAULTS } from '../worker/config';

const outDir = path.join(repoRoot, 'test', 'histories');
const logDir = path.join(repoRoot, 'test-results', 'logs');

async function main(): Promise<void> {
  const [temporal, moto, pg] = await Promise.all([
    startTemporal({ logDir, headless: true }),
    startMoto({ logDir }),
    startPostgres({ logDir }),
  ]);
  Object.assign(process.env, emulatorEnv(moto.endpoint));
  // moto leaves CodeDeploy deployments `Created` forever: CodeDeploy goes through the layer that plays them out, as in
  // the dev stack and the tests.
  const codeDeploy = await startRealisticLayer({ upstream: moto.endpoint, minuteMs: 50 });
  process.env.AWS_ENDPOINT_URL_CODEDEPLOY = codeDeploy.endpoint;
  const temporalBin = await obtainTemporalCli();
  const aws = createAwsClients();
  const app = await startDemoApp('record-app');
  const connection = await Connection.connect({ address: temporal.address });
  const native = await NativeConnection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const taskQueue = 'record-histories';
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: createActivities({
      aws,
      temporal: client,
      dbEndpointOverrides: { '*.rds.amazonaws.com': `127.0.0.1:${pg.port}` },
    }),
    ...WORKER_DEFAULTS,
  });
  const health = { url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' };

  const ecs = aws.ecs('us-east-1');
  await ensureCluster(ecs, 'rec');
  const revisions = await ensureTaskDefinitions(ecs, 'rec-api', ['rec/app:1', 'rec/app:2']);
  await ensureService(ecs, { cluster: 'rec', service: 'rec-api', taskDefinition: revisions[1]!, desiredCount: 2 });
  const zoneId = await ensureHostedZone(aws, 'rec.example.test');
  await ensureRecords(aws, zoneId, [
    {
      Name: 'api.rec.example.test',
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      AliasTarget: { DNSName: 'east.example.test', HostedZoneId: 'Z1', EvaluateTargetHealth: true },
    },
    {
      Name: 'api.rec.example.test',
      Type: 'A',
      SetIdentifier: 'secondary',
      Failover: 'SECONDARY',
      AliasTarget: { DNSName: 'west.example.test', HostedZoneId: 'Z1', EvaluateTargetHealth: true },
    },
  ]);
  const ref = { region: 'us-east-1', cluster: 'rec', service: 'rec-api' };
  const approval = { required: true, timeout: '1m' };

  const appUrls = { primary: app.url, secondary: app.url, blue: app.url, green: app.url, public: app.url };
  await seedDemoEnvironment(aws, appUrls);
  const lagPublisher = startReplicaLagPublisher(aws, { regions: ['us-east-1', 'us-west-2'], intervalMs: 500 });
  const example = (slug: string) =>
    JSON.parse(readFileSync(path.join(repoRoot, 'docs', 'examples', `${slug}.json`), 'utf8')) as Record<
      string,
      unknown
    >;
  const failoverInput = { ...example('regional-failover'), health: { secondaryApp: health, publicEndpoint: health } };
  // pg_dump archives: the demo's archive in S3, restored into the recording PostgreSQL (as `npm run dev` does).
  await uploadDemoBackup(aws, { host: '127.0.0.1', port: pg.port });
  process.env.RUNBOOKS_SCRATCH_PG_URL = scratchPgUrl('127.0.0.1', pg.port);
  // The example's HTTP checks ask the demo's green app (port 8084): here the recording's app answers them.
  const blueGreen = example('blue-green') as { gates: { httpChecks: { url: string }[] } };
  const appChecks = blueGreen.gates.httpChecks.map((c) => ({
    ...c,
    url: new URL(new URL(c.url).pathname, app.url).href,
  }));
  const failbackInput = { ...example('regional-failback'), health: { primaryApp: health, publicEndpoint: health } };
  // Only scenarios whose history file does not exist yet are recorded: committed histories stay as they were
  // recorded (with the code of their day), which is what makes them worth replaying.
  // `--only <name>`: that one scenario (e.g. a new runbook's, while other new scenarios are still being written).
  const onlyName = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const only = onlyName
    ? (name: string) => name === onlyName
    : process.argv.includes('--all')
      ? undefined
      : (name: string) => !existsSync(path.join(outDir, `${name}.json`));

  const scenarios: {
    name: string;
    type: string;
    input: unknown;
    workflowId?: string;
    drive?: (id: string) => Promise<void>;
    expectFailure?: boolean;
    children?: (workflowId: string) => [string, string][];
  }[] = [
    {
      name: 'emergency-scale-approved-scaled-back',
      type: 'emergencyScale',
      input: {
        ...ref,
        desiredCount: 4,
        reason: 'record',
        initiatedBy: 'alice',
        approval,
        health,
        scaleBackAfter: '1s',
      },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'emergency-scale-kept',
      type: 'emergencyScale',
      input: { ...ref, desiredCount: 3, reason: 'record', scaleBackAfter: '1h' },
      drive: async (id) => {
        await new Promise((r) => setTimeout(r, 1500));
        await client.workflow.getHandle(id).signal(keepScaledSignal, { by: 'carol' });
      },
    },
    {
      name: 'ecs-rollback-approved',
      type: 'ecsRollback',
      input: { ...ref, reason: 'record', initiatedBy: 'alice', approval, health },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'dns-failover-approved',
      type: 'dnsFailover',
      input: {
        hostedZone: 'rec.example.test',
        record: { name: 'api.rec.example.test', type: 'A', setIdentifier: 'primary' },
        target: { alias: { dnsName: 'west.example.test', hostedZoneId: 'Z1' } },
        verify: health,
        initiatedBy: 'alice',
        approval,
      },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'dns-failover-unhealthy-compensated',
      type: 'dnsFailover',
      input: {
        hostedZone: 'rec.example.test',
        record: { name: 'api.rec.example.test', type: 'A', setIdentifier: 'primary' },
        target: { alias: { dnsName: 'elsewhere.example.test', hostedZoneId: 'Z1' } },
        verify: { ...health, timeout: '2s' },
        approval: { required: false },
      },
      drive: async () => app.setHealthy(false),
      expectFailure: true,
    },
    {
      name: 'emergency-scale-invalid-input',
      type: 'emergencyScale',
      input: { ...ref, desiredCount: -1 },
      expectFailure: true,
    },
    // The regional runbooks run against the demo environment (seeded above), with the examples' inputs.
    {
      name: 'regional-failover-refused-healthy-primary',
      type: 'regionalFailover',
      input: { ...failoverInput, plannedSwitchover: undefined, approval: { required: false } },
      expectFailure: true,
    },
    {
      name: 'regional-failover-approved',
      type: 'regionalFailover',
      input: failoverInput,
      workflowId: 'failover:us-west-2/demo-db-replica',
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'blue-green-approved',
      type: 'blueGreenDeploy',
      input: {
        ...example('blue-green'),
        bakeTime: '2s',
        checkInterval: '1s',
        blueStandby: '1s',
        gates: { ...(example('blue-green').gates as object), greenHealth: health },
      },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'snapshot-restore-approved',
      type: 'snapshotRestore',
      input: { ...example('snapshot-restore'), health },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'backup-verification-passed',
      type: 'backupVerification',
      input: example('backup-verification'),
      children: (id) => [['verify-demo-db', `${id}/verify-demo-db`]],
    },
    {
      name: 'regional-failback-approved',
      type: 'regionalFailback',
      input: failbackInput,
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'ecs-deploy-approved',
      type: 'ecsDeploy',
      input: {
        ...ref,
        version: { image: 'rec/app:3' },
        deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50, circuitBreaker: true },
        reason: 'record',
        initiatedBy: 'alice',
        approval,
        health,
      },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'ecs-deploy-codedeploy-approved',
      type: 'ecsDeploy',
      input: example('ecs-deploy-codedeploy'),
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'ecs-restart-approved',
      type: 'ecsRestart',
      input: { ...ref, environment: { LOG_LEVEL: 'debug' }, reason: 'record', initiatedBy: 'alice', approval, health },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'rds-reboot-failover-approved',
      type: 'rdsRebootFailover',
      input: { ...example('rds-reboot-failover'), health },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'aurora-failover-approved',
      type: 'auroraFailover',
      input: { ...example('aurora-failover'), health },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    // Issue 14: the blue standby watched, a failover watched after the switch, Aurora global databases, pg_dump
    // archives. The global failover and its failback run before the instance failover with a watch: both move the
    // demo's API to us-west-2, and the failback puts it back.
    {
      name: 'blue-green-standby-watch-approved',
      type: 'blueGreenDeploy',
      input: {
        ...blueGreen,
        bakeTime: '2s',
        checkInterval: '1s',
        blueStandby: '3s',
        gates: { ...blueGreen.gates, httpChecks: appChecks, greenHealth: health },
      },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'regional-failover-global-approved',
      type: 'regionalFailover',
      input: {
        ...example('regional-failover-aurora-global'),
        health: { secondaryApp: health, publicEndpoint: health },
      },
      workflowId: 'failover:global/demo-global',
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'regional-failback-global-approved',
      type: 'regionalFailback',
      input: { ...example('regional-failback-aurora-global'), health: { primaryApp: health, publicEndpoint: health } },
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'regional-failover-watched-approved',
      type: 'regionalFailover',
      input: {
        ...failoverInput,
        rtoTarget: '15m',
        watch: { for: '2s', interval: '1s', httpChecks: [{ name: 'public health', url: app.healthUrl }] },
      },
      workflowId: 'failover:us-west-2/demo-db-replica',
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      // Resource locks taken at once (parallel-locks-v1), and the run's own lock as a child: a workflow ID of its
      // own, not the derived one.
      name: 'regional-failover-parallel-locks-approved',
      type: 'regionalFailover',
      input: failoverInput,
      workflowId: 'failover-recorded-parallel-locks',
      drive: (id) => client.workflow.getHandle(id).signal(approveSignal, { by: 'bob' }),
    },
    {
      name: 'backup-verification-pgdump-passed',
      type: 'backupVerification',
      input: example('backup-verification-pgdump'),
      children: (id) => [['verify-pgdump-app', `${id}/verify-pgdump-app`]],
    },
    {
      name: 'triage-rec-api',
      type: 'triage',
      input: { ...ref, reason: 'record' },
    },
  ];

  mkdirSync(outDir, { recursive: true });
  const save = async (name: string, workflowId: string) => {
    // The CLI writes the standard history JSON that historyFromJSON (and the Temporal UI) read.
    const json = execFileSync(
      temporalBin,
      ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', temporal.address],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    // Stack traces in failures carry this checkout's path; keep committed files free of machine paths.
    const portable = json.split(repoRoot).join('<repo>');
    writeFileSync(path.join(outDir, `${name}.json`), portable.endsWith('\n') ? portable : `${portable}\n`);
    const idsFile = path.join(outDir, 'workflow-ids.json');
    const ids = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as Record<string, string>) : {};
    ids[name] = workflowId;
    writeFileSync(idsFile, `${JSON.stringify(ids, null, 2)}\n`);
  };

  await worker.runUntil(async () => {
    for (const s of scenarios) {
      if (only && !only(s.name)) continue;
      app.setHealthy(true);
      const workflowId = s.workflowId ?? `record-${s.name}`;
      const handle = await client.workflow.start(s.type, { taskQueue, workflowId, args: [s.input] });
      await s.drive?.(workflowId);
      const outcome = await handle.result().then(
        () => 'completed',
        (err: Error) => `failed: ${(err.cause as Error | undefined)?.message ?? err.message}`,
      );
      if ((outcome !== 'completed') !== Boolean(s.expectFailure))
        throw new Error(`${s.name}: unexpected outcome ${outcome}`);
      await save(s.name, workflowId);
      // Child workflows (backupVerification's verifyBackup) get histories of their own.
      if (s.children)
        for (const [suffix, childId] of s.children(workflowId)) await save(`${s.name}-${suffix}`, childId);
      console.log(`recorded ${s.name} (${outcome})`);
    }
  });
  lagPublisher.stop();
  await codeDeploy.close();
  await pg.stop();
  await app.close();
  aws.destroy();
  await connection.close();
  await native.close();
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
