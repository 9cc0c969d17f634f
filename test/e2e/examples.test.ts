// The documented example inputs (docs/examples/*.json) run as they are against the demo environment that
// `npm run dev` seeds — here seeded into the test emulator — and are approved by signal, as the README says.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { approveSignal } from '../../api/definitions';
import { RUNBOOKS } from '../../api/runbooks';
import type { BackupVerificationResult, SnapshotRestoreResult } from '../../api/runbooks/restore';
import type { AuroraFailoverResult } from '../../api/runbooks/aurora';
import type { TriageResult } from '../../api/runbooks/triage';
import type { RdsRebootFailoverResult } from '../../api/runbooks/rds-reboot';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { DEMO, seedDemoEnvironment, type DemoEnv } from '../../scripts/lib/demo-env';
import { GLOBAL_DEMO } from '../../scripts/lib/demo-global';
import { globalWriter } from '../../scripts/lib/global-cluster';
import { DEMO_BACKUPS, uploadDemoBackup } from '../../scripts/lib/demo-backups';
import { SCRATCH_DB, scratchPgUrl } from '../../scripts/lib/postgres';
import { readDemoState } from '../../scripts/lib/reset';
import { describeDb, ensureRecords } from '../../scripts/lib/fixtures';
import { portOpen } from '../../scripts/lib/processes';
import { startReplicaLagPublisher } from '../../scripts/lib/replica-lag';
import { zoneRecords } from '../helpers/env/aws-fixtures';
import { closeConnections, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

const example = (slug: string) =>
  JSON.parse(readFileSync(path.resolve(__dirname, '../../docs/examples', `${slug}.json`), 'utf8')) as Record<
    string,
    unknown
  >;

const apps: DemoApp[] = [];
let demo: DemoEnv;
let lagPublisher: ReturnType<typeof startReplicaLagPublisher> | undefined;

beforeAll(async () => {
  // The examples probe the demo apps on their fixed ports. If `npm run dev` is up, its apps already answer there.
  const names = ['primary', 'secondary', 'blue', 'green', 'public'];
  for (const [i, name] of names.entries()) {
    if (!(await portOpen(8081 + i))) apps.push(await startDemoApp(`demo-${name}`, 8081 + i));
  }
  const { aws } = await testClients();
  demo = await seedDemoEnvironment(aws, {
    primary: 'http://127.0.0.1:8081',
    secondary: 'http://127.0.0.1:8082',
    blue: 'http://127.0.0.1:8083',
    green: 'http://127.0.0.1:8084',
    public: 'http://127.0.0.1:8085',
  });
  lagPublisher = startReplicaLagPublisher(aws, {
    regions: [DEMO.primaryRegion, DEMO.secondaryRegion],
    intervalMs: 1_000,
  });
});
afterAll(async () => {
  lagPublisher?.stop();
  await Promise.all(apps.map((a) => a.close()));
  await closeConnections();
});

const APP_URLS = {
  primary: 'http://127.0.0.1:8081',
  secondary: 'http://127.0.0.1:8082',
  blue: 'http://127.0.0.1:8083',
  green: 'http://127.0.0.1:8084',
  public: 'http://127.0.0.1:8085',
};
/**
 * What a drill may change in the demo (`npm run dev -- reset` compares the same), of the demo's own resources only:
 * other test files share the emulator and change theirs meanwhile.
 */
const demoState = async (aws: Parameters<typeof readDemoState>[0]) =>
  new Map([...(await readDemoState(aws, APP_URLS))].filter(([what]) => /demo/.test(what)));

describe('docs/examples against the demo environment', () => {
  it('every runbook has an example that its schema accepts', () => {
    for (const r of RUNBOOKS) expect(r.schema.safeParse(example(r.slug)).success, r.slug).toBe(true);
  });

  it('emergency-scale.json, ecs-rollback.json and dns-failover.json each complete after one approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const ecs = aws.ecs(DEMO.primaryRegion);
      const apiService = async () =>
        (
          await ecs.send(
            new DescribeServicesCommand({ cluster: DEMO.ecs.primary.cluster, services: [DEMO.ecs.primary.service] }),
          )
        ).services![0]!;

      const run = async (type: string, slug: string) => {
        const workflowId = uid(slug);
        const handle = await client.workflow.start(type, { taskQueue, workflowId, args: [example(slug)] });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        await handle.signal(approveSignal, { by: 'someone-else' });
        return (await handle.result()) as RunbookReport;
      };

      expect((await run('emergencyScale', 'emergency-scale')).outcome).toBe('succeeded');
      expect((await apiService()).desiredCount).toBe(6);

      expect((await run('ecsRollback', 'ecs-rollback')).outcome).toBe('succeeded');
      expect((await apiService()).taskDefinition).toMatch(/task-definition\/demo-api:1$/);

      expect((await run('dnsFailover', 'dns-failover')).outcome).toBe('succeeded');
      const records = await zoneRecords(aws, demo.hostedZone.id);
      const primary = records.find((r) => r.Name === `${DEMO.records.api}.` && r.SetIdentifier === 'primary');
      expect(primary?.AliasTarget?.DNSName).toBe(demo.alb.secondary.dnsName);
    });
  });

  it('triage.json lists the demo service’s deployments, stopped-task reasons and alarms, recommends, changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const before = await demoState(aws);
      const handle = await client.workflow.start('triage', {
        taskQueue,
        workflowId: uid('triage'),
        args: [example('triage')],
      });
      const report = (await handle.result()) as RunbookReport<TriageResult>;
      expect(report.outcome).toMatch(/^succeeded/);
      const r = report.result!;
      expect(r.deployments.length).toBeGreaterThan(0);
      expect(r.deployments[0]!.taskDefinition).toMatch(/demo-api:\d+$/);
      expect(Array.isArray(r.stoppedTasks) && r.stoppedTasks.map((t) => t.reason)).toContain(
        'Essential container in task exited',
      );
      expect(Array.isArray(r.alarms)).toBe(true);
      expect(r.findings.length).toBeGreaterThan(0);
      expect(['ecsRollback', 'ecsRestart', 'emergencyScale', 'none']).toContain(r.recommendation.runbook);
      if (r.recommendation.input) {
        const entry = RUNBOOKS.find((x) => x.type === r.recommendation.runbook)!;
        expect(entry.schema.safeParse(r.recommendation.input).success).toBe(true);
      }
      expect(await demoState(aws)).toEqual(before);
    });
  }, 120_000);

  it('ecs-deploy.json, ecs-deploy-codedeploy.json and ecs-restart.json each complete after one approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const ecs = aws.ecs(DEMO.primaryRegion);
      const service = async (name: string) =>
        (await ecs.send(new DescribeServicesCommand({ cluster: DEMO.ecs.primary.cluster, services: [name] })))
          .services![0]!;
      const imagesOf = async (taskDefinition: string) =>
        (
          await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }))
        ).taskDefinition?.containerDefinitions?.map((c) => c.image);
      const run = async (type: string, slug: string) => {
        const workflowId = uid(slug);
        const handle = await client.workflow.start(type, { taskQueue, workflowId, args: [example(slug)] });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
        await handle.signal(approveSignal, { by: 'someone-else' });
        return (await handle.result()) as RunbookReport<Record<string, unknown>>;
      };

      // The service ends on a new revision whose image is the example's.
      const before = await service(DEMO.ecs.primary.service);
      const deployed = await run('ecsDeploy', 'ecs-deploy');
      expect(deployed.outcome).toBe('succeeded');
      const afterDeploy = await service(DEMO.ecs.primary.service);
      expect(afterDeploy.taskDefinition).not.toBe(before.taskDefinition);
      const wanted = (example('ecs-deploy').version as { image: string }).image;
      expect(await imagesOf(afterDeploy.taskDefinition!)).toEqual([wanted]);
      expect(afterDeploy.desiredCount).toBe(before.desiredCount);

      // The CodeDeploy-controlled demo service deploys through CodeDeploy.
      const cd = example('ecs-deploy-codedeploy');
      const cdBefore = await service(String(cd.service));
      expect(cdBefore.deploymentController?.type).toBe('CODE_DEPLOY');
      const viaCodeDeploy = await run('ecsDeploy', 'ecs-deploy-codedeploy');
      expect(viaCodeDeploy.outcome).toBe('succeeded');
      expect(viaCodeDeploy.result).toMatchObject({ controller: 'CODE_DEPLOY', codeDeploy: { status: 'Succeeded' } });
      const cdAfter = await service(String(cd.service));
      expect(await imagesOf(cdAfter.taskDefinition!)).toEqual([(cd.version as { image: string }).image]);

      // A new deployment happened with the task count unchanged.
      const primaryOf = (s: typeof before) => s.deployments?.find((d) => d.status === 'PRIMARY');
      const restarted = await run('ecsRestart', 'ecs-restart');
      expect(restarted.outcome).toMatch(/^succeeded/);
      const afterRestart = await service(DEMO.ecs.primary.service);
      expect(primaryOf(afterRestart)?.id).not.toBe(primaryOf(afterDeploy)?.id);
      expect(afterRestart.desiredCount).toBe(afterDeploy.desiredCount);
    });
  }, 180_000);

  it('blue-green.json: green at 100 % and blue decommissioned after one approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const input = { ...example('blue-green'), bakeTime: '2s', checkInterval: '1s', blueStandby: '2s' };
      const workflowId = uid('blue-green');
      const handle = await client.workflow.start('blueGreenDeploy', { taskQueue, workflowId, args: [input] });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
      await handle.signal(approveSignal, { by: 'someone-else' });
      const report = (await handle.result()) as RunbookReport;
      expect(report.outcome).toBe('succeeded');
      // The example's gates judged the demo's data: the burn rate from its healthy hour, the JSON health score and
      // the login whose token the check read from Secrets Manager.
      const last = (gate: string) => report.readings?.filter((r) => r.gate === gate).at(-1);
      expect(last('web availability SLO')).toMatchObject({
        value: 'burn rate 0.5x over 1h, 0.5x over 5m',
        verdict: 'pass',
      });
      expect(last('green health score')).toMatchObject({ kind: 'http', value: 200, verdict: 'pass' });
      expect(last('green login')).toMatchObject({ kind: 'http', value: 200, verdict: 'pass' });
      const ecs = aws.ecs(DEMO.primaryRegion);
      const svc = async (service: string) =>
        (await ecs.send(new DescribeServicesCommand({ cluster: DEMO.ecs.primary.cluster, services: [service] })))
          .services![0]!;
      expect((await svc(DEMO.ecs.blue.service)).desiredCount).toBe(0);
      expect((await svc(DEMO.ecs.green.service)).desiredCount).toBe(DEMO.ecs.blue.desiredCount);
    });
  }, 120_000);

  it('snapshot-restore.json: the app ends on a restored instance whose data passed the checks; safety snapshot kept', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const workflowId = uid('restore');
      const handle = await client.workflow.start('snapshotRestore', {
        taskQueue,
        workflowId,
        args: [example('snapshot-restore')],
      });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
      expect(waiting.pendingApproval?.summary).toContain('users = 1200 (≥ 1000) ok');
      await handle.signal(approveSignal, { by: 'someone-else' });
      const report = (await handle.result()) as RunbookReport<SnapshotRestoreResult>;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      const restored = await describeDb(aws, DEMO.primaryRegion, r.restored.dbInstance);
      expect(restored?.DBInstanceStatus).toBe('available');
      const ecs = aws.ecs(DEMO.primaryRegion);
      const svc = (
        await ecs.send(
          new DescribeServicesCommand({ cluster: DEMO.ecs.primary.cluster, services: [DEMO.ecs.primary.service] }),
        )
      ).services![0]!;
      const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: svc.taskDefinition! }));
      expect(td.taskDefinition?.containerDefinitions?.[0]?.environment).toContainEqual({
        name: 'DATABASE_HOST',
        value: restored?.Endpoint?.Address,
      });
      const snaps = await aws
        .rds(DEMO.primaryRegion)
        .send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: r.safetySnapshot }));
      expect(snaps.DBSnapshots?.[0]?.Status).toBe('available');
    });
  }, 120_000);

  it('backup-verification.json: verifies the tagged databases and the pg_dump archive, leaves no temporary instance or database', async () => {
    // What `npm run dev` does once PostgreSQL runs: today's archive in demo-backups, and the worker's scratch server.
    const pg = { host: '127.0.0.1', port: inject('pgPort') };
    process.env.RUNBOOKS_SCRATCH_PG_URL = scratchPgUrl(pg.host, pg.port);
    await withWorker(async ({ client, taskQueue, aws }) => {
      const key = await uploadDemoBackup(aws, pg);
      const handle = await client.workflow.start('backupVerification', {
        taskQueue,
        workflowId: uid('verify'),
        args: [example('backup-verification')],
      });
      const report = (await handle.result()) as RunbookReport<BackupVerificationResult>;
      expect(report.result?.passed).toBe(true);
      expect(report.result?.databases.map((d) => d.dbInstance)).toEqual([DEMO.db.primary, 'app']);
      expect(report.result?.databases[1]).toMatchObject({
        archive: { bucket: DEMO_BACKUPS.bucket, key },
        tempDatabaseDropped: true,
      });
      const all = await aws.rds(DEMO.primaryRegion).send(new DescribeDBInstancesCommand({}));
      expect((all.DBInstances ?? []).filter((d) => d.DBInstanceIdentifier?.startsWith('verify-'))).toEqual([]);
    });
  }, 120_000);

  it('backup-verification-pgdump.json: verifies the demo’s pg_dump archive in S3 and leaves no temporary database', async () => {
    // What `npm run dev` does once PostgreSQL runs: today's archive in demo-backups, and the worker's scratch server.
    const pg = { host: '127.0.0.1', port: inject('pgPort') };
    process.env.RUNBOOKS_SCRATCH_PG_URL = scratchPgUrl(pg.host, pg.port);
    await withWorker(async ({ client, taskQueue, aws }) => {
      const key = await uploadDemoBackup(aws, pg);
      const workflowId = uid('verify-pgdump');
      const handle = await client.workflow.start('backupVerification', {
        taskQueue,
        workflowId,
        args: [example('backup-verification-pgdump')],
      });
      const report = (await handle.result()) as RunbookReport<BackupVerificationResult>;
      expect(report.result?.passed).toBe(true);
      expect(report.result?.databases[0]).toMatchObject({
        dbInstance: 'app',
        archive: { bucket: DEMO_BACKUPS.bucket, key, format: 'custom' },
        tempDatabaseDropped: true,
      });
      const scratch = new PgClient({ ...pg, ...SCRATCH_DB, database: 'postgres' });
      await scratch.connect();
      // This run's (each temporary database names its run; other test files may restore into this server meanwhile).
      const left = await scratch.query(
        `SELECT datname FROM pg_database WHERE datname LIKE 'verify\\_pgdump\\_%' AND shobj_description(oid, 'pg_database') LIKE $1`,
        [`{"run":"${workflowId}/%`],
      );
      await scratch.end();
      expect(left.rows).toEqual([]);
    });
  }, 120_000);

  it('rds-reboot-failover.json: demo-multiaz serves from its former standby’s zone after one approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const input = example('rds-reboot-failover');
      const zones = async () => {
        const out = await aws
          .rds(String(input.region))
          .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: String(input.dbInstance) }));
        const db = out.DBInstances![0]!;
        return { az: db.AvailabilityZone, standby: db.SecondaryAvailabilityZone };
      };
      const before = await zones();
      expect(before.standby).toBeTruthy();
      const workflowId = uid('rds-reboot-failover');
      const handle = await client.workflow.start('rdsRebootFailover', { taskQueue, workflowId, args: [input] });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
      await handle.signal(approveSignal, { by: 'someone-else' });
      const report = (await handle.result()) as RunbookReport<RdsRebootFailoverResult>;
      expect(report.outcome).toBe('succeeded');
      expect(await zones()).toEqual({ az: before.standby, standby: before.az });
      expect(report.result).toMatchObject({
        before: { availabilityZone: before.az },
        after: { availabilityZone: before.standby },
        rtoVerdict: 'met',
        sqlProbe: { passed: true },
      });
    });
  }, 120_000);

  it('aurora-failover.json: demo-aurora has another writer (as describe-db-clusters shows) after one approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const input = example('aurora-failover');
      const writer = async () =>
        (
          await aws
            .rds(String(input.region))
            .send(new DescribeDBClustersCommand({ DBClusterIdentifier: String(input.cluster) }))
        ).DBClusters?.[0]?.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
      const before = await writer();
      expect(before).toBeTruthy();
      const workflowId = uid('aurora-failover');
      const handle = await client.workflow.start('auroraFailover', { taskQueue, workflowId, args: [input] });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
      await handle.signal(approveSignal, { by: 'someone-else' });
      const report = (await handle.result()) as RunbookReport<AuroraFailoverResult>;
      expect(report.outcome).toBe('succeeded');
      const after = await writer();
      expect(after).not.toBe(before);
      expect(report.result).toMatchObject({
        writerBefore: before,
        writerAfter: after,
        rto: { verdict: 'met' },
        sqlProbe: { passed: true },
      });
    });
  }, 120_000);

  it('regional-failover.json then regional-failback.json (started under their derived IDs, as the CLI does)', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      // The DNS example above already moved the PRIMARY record; put the demo zone back as seeded.
      const before = await zoneRecords(aws, demo.hostedZone.id);
      const seededPrimary = before.find((r) => r.Name === `${DEMO.records.api}.` && r.SetIdentifier === 'primary')!;
      await ensureRecords(
        aws,
        demo.hostedZone.id,
        [{ ...seededPrimary, AliasTarget: { ...seededPrimary.AliasTarget!, DNSName: demo.alb.primary.dnsName } }],
        { reset: true },
      );
      const dnsBefore = await zoneRecords(aws, demo.hostedZone.id);
      const go = async (type: string, slug: string) => {
        const input = example(slug);
        const workflowId = RUNBOOKS.find((r) => r.type === type)!.workflowId(
          RUNBOOKS.find((r) => r.type === type)!.schema.parse(input) as never,
        );
        const handle = await client.workflow.start(type, { taskQueue, workflowId, args: [input] });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
        await handle.signal(approveSignal, { by: 'someone-else' });
        return (await handle.result()) as RunbookReport;
      };
      const failover = await go('regionalFailover', 'regional-failover');
      expect(failover.outcome).toBe('succeeded-with-warnings'); // planned switchover of a healthy primary is noted
      const failback = await go('regionalFailback', 'regional-failback');
      expect(failback.outcome).toBe('succeeded-with-warnings');
      expect(await zoneRecords(aws, demo.hostedZone.id)).toEqual(dnsBefore);
    });
  }, 240_000);

  it('regional-failover-aurora-global.json then regional-failback-aurora-global.json: the global writer moves to us-west-2 and back', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      // DNS as seeded (an example above may have moved the PRIMARY record).
      const seeded = (await zoneRecords(aws, demo.hostedZone.id)).find(
        (r) => r.Name === `${DEMO.records.api}.` && r.SetIdentifier === 'primary',
      )!;
      await ensureRecords(
        aws,
        demo.hostedZone.id,
        [{ ...seeded, AliasTarget: { ...seeded.AliasTarget!, DNSName: demo.alb.primary.dnsName } }],
        { reset: true },
      );
      const dnsBefore = await zoneRecords(aws, demo.hostedZone.id);
      const writer = () => globalWriter(aws, GLOBAL_DEMO.secondary.region, GLOBAL_DEMO.globalCluster);
      expect(await writer()).toBe(GLOBAL_DEMO.primary.cluster);
      const go = async (type: string, slug: string) => {
        const input = example(slug);
        const entry = RUNBOOKS.find((r) => r.type === type)!;
        const workflowId = entry.workflowId(entry.schema.parse(input) as never);
        const handle = await client.workflow.start(type, { taskQueue, workflowId, args: [input] });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 60_000);
        await handle.signal(approveSignal, { by: 'someone-else' });
        return (await handle.result()) as RunbookReport;
      };
      expect((await go('regionalFailover', 'regional-failover-aurora-global')).outcome).toBe('succeeded');
      expect(await writer()).toBe(GLOBAL_DEMO.secondary.cluster);
      expect((await go('regionalFailback', 'regional-failback-aurora-global')).outcome).toMatch(/^succeeded/);
      expect(await writer()).toBe(GLOBAL_DEMO.primary.cluster);
      expect(await zoneRecords(aws, demo.hostedZone.id)).toEqual(dnsBefore);
    });
  }, 240_000);
});
