// snapshotRestore end to end: real dev server, real worker, the AWS emulator and a real PostgreSQL behind every
// RDS endpoint (the data checks run real SQL on it). Each test has its own source instance, snapshots, DB secret
// and ECS service; the outcome is read back through the SDK: instances, snapshots, the service's revision and
// count, the secret.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { approveSignal, rejectSignal } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import {
  snapshotRestoreWorkflowId,
  type SnapshotRestoreInput,
  type SnapshotRestoreResult,
} from '../../api/runbooks/restore';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { callParam, withDbStatus, withInterceptingWorker } from '../helpers/proxies/aws-proxy';
import { listRevisions, readSecret, taskDefinitionEnv } from '../helpers/env/failover-env';
import { ensureDbInstance } from '../../scripts/lib/fixtures';
import {
  DB_SECRET,
  GOOD_CHECKS,
  GOOD_RESULTS,
  dbInstance,
  instancesWithPrefix,
  makeDbSecret,
  makeSourceDb,
  snapshotById,
  snapshotsOf,
  tagOf,
  type SourceDb,
} from '../helpers/env/restore-env';
import { activityInputs, activitySequence } from '../helpers/history';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

const REGION = 'us-east-1';
type Report = RunbookReport<SnapshotRestoreResult>;

let healthy: DemoApp;
let sick: DemoApp;
beforeAll(async () => {
  healthy = await startDemoApp('restore-app');
  sick = await startDemoApp('restore-app-sick');
  sick.setHealthy(false);
});
afterAll(async () => {
  await healthy.close();
  await sick.close();
  await closeConnections();
});

const health = (app: DemoApp) => ({ url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '2s' });
const approvalByBob = { approval: { required: true, timeout: '1m' }, initiatedBy: 'alice' };

/** A source instance with one manual snapshot (or more), and the DB secret its data checks read. */
async function makeSource(aws: AwsClients, opts: { snapshots?: number } = {}) {
  const src = await makeSourceDb(aws, REGION, opts);
  const secretId = await makeDbSecret(aws, REGION, { host: src.endpoint });
  return { src, secretId };
}

function restoreInput(src: SourceDb, secretId: string, over: Partial<SnapshotRestoreInput> = {}): SnapshotRestoreInput {
  return {
    region: src.region,
    dbInstance: src.id,
    restore: { snapshot: src.snapshots.at(-1)! },
    dataChecks: { secretId, checks: GOOD_CHECKS, timeout: '10s' },
    approval: { required: false },
    snapshotTimeout: '30s',
    restoreTimeout: '30s',
    stableTimeout: '10s',
    reason: 'e2e: restore the last good snapshot',
    ...over,
  };
}

/** Start a restore under its derived workflow ID, as the CLI does. */
async function start(client: Client, taskQueue: string, input: SnapshotRestoreInput, workflowId?: string) {
  const id = workflowId ?? snapshotRestoreWorkflowId(input);
  const handle = await client.workflow.start('snapshotRestore', { taskQueue, workflowId: id, args: [input] });
  return { workflowId: id, handle };
}

/** What must not move under a restore: the source instance itself. */
async function sourceState(aws: AwsClients, src: SourceDb) {
  const db = await dbInstance(aws, src.region, src.id);
  return {
    status: db?.DBInstanceStatus,
    endpoint: db?.Endpoint?.Address,
    createdAt: db?.InstanceCreateTime?.toISOString(),
    runbookRun: tagOf(db, 'runbook-run') ?? null,
  };
}
const ORIGINAL = (src: SourceDb) => ({
  status: 'available',
  endpoint: src.endpoint,
  createdAt: src.createdAt,
  runbookRun: null,
});

const restoredPattern = (src: SourceDb) => new RegExp(`^${src.id}-restored-(\\d{14})$`);

/** The safety snapshot a run with this restored id took: `<source>-before-restore-<same stamp>`. */
function safetyIdFor(src: SourceDb, restoredId: string): string {
  const stamp = restoredPattern(src).exec(restoredId)?.[1];
  expect(stamp, `restored id ${restoredId}`).toBeDefined();
  return `${src.id}-before-restore-${stamp}`;
}

/** After a successful run: the safety snapshot exists, is a manual snapshot of the source and is available. */
async function expectSafetySnapshot(aws: AwsClients, src: SourceDb, safetyId: string) {
  expect(await snapshotById(aws, src.region, safetyId)).toMatchObject({
    id: safetyId,
    type: 'manual',
    status: 'available',
    dbInstance: src.id,
  });
}

/** The restore report's data checks: every GOOD_CHECKS result, connected to the test PostgreSQL. */
function expectGoodChecks(r: SnapshotRestoreResult) {
  expect(r.dataChecks).toMatchObject({ connected: true, passed: true, results: GOOD_RESULTS });
  expect(r.dataChecks.target).toBe(`127.0.0.1:${inject('pgPort')} (override for ${r.restored.endpoint})`);
}

/**
 * After a run that failed before (or while) switching: no restored instance is left, the source is as it was, the
 * safety snapshot is kept and the message says so. Returns the safety snapshot's id.
 */
async function expectCleanedUp(aws: AwsClients, src: SourceDb, message: string): Promise<string> {
  expect(await instancesWithPrefix(aws, src.region, `${src.id}-`)).toEqual([]);
  expect(await sourceState(aws, src)).toEqual(ORIGINAL(src));
  const safety = (await snapshotsOf(aws, src.region, src.id)).filter((s) => s.id.includes('-before-restore-'));
  expect(safety).toHaveLength(1);
  expect(safety[0]).toMatchObject({ type: 'manual', status: 'available' });
  expect(message).toContain(`The safety snapshot ${safety[0]!.id} is kept.`);
  return safety[0]!.id;
}

/** The restored instance a failed run created and deleted (named in its "Restore … to <id>" step). */
function restoredIdOf(report: RunbookReport | undefined, src: SourceDb): string {
  const step = report?.timeline.find((s) => s.name.startsWith('Restore '));
  const id = step?.name.split(' to ').pop() ?? '';
  expect(id).toMatch(restoredPattern(src));
  return id;
}

describe('snapshotRestore: each switch mode', () => {
  it('none: restores the snapshot to a new instance whose data passes the checks; the source and everything else stay', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const { workflowId, handle } = await start(client, taskQueue, restoreInput(src, secretId));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.source).toEqual({ region: REGION, dbInstance: src.id });
      expect(r.restoredFrom).toMatchObject({ snapshot: src.snapshots[0] });
      expect(r.restored.dbInstance).toMatch(restoredPattern(src));
      expect(r.switch).toEqual({ mode: 'none', detail: 'nothing switched' });
      expect(r.finalInstanceIds).toBeUndefined();
      expectGoodChecks(r);

      // AWS: the restored instance exists, is available, tagged with the run that made it, at the reported endpoint.
      const restored = await dbInstance(aws, REGION, r.restored.dbInstance);
      expect(restored?.DBInstanceStatus).toBe('available');
      expect(tagOf(restored, 'runbook-run')).toMatch(new RegExp(`^${workflowId}/[0-9a-f-]{36}$`)); // this run
      expect(restored?.Endpoint?.Address).toBe(r.restored.endpoint);
      expect(r.restored.endpoint).toBe(`${r.restored.dbInstance}.aaaaaaaaaa.${REGION}.rds.amazonaws.com`);
      expect(r.safetySnapshot).toBe(safetyIdFor(src, r.restored.dbInstance));
      await expectSafetySnapshot(aws, src, r.safetySnapshot);
      expect(await sourceState(aws, src)).toEqual(ORIGINAL(src));

      expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: source, snapshot or restore window, app', 'succeeded'],
        ['Lock resources', 'succeeded'],
        ['Safety snapshot of the current source', 'succeeded'],
        ['Wait until the safety snapshot is available', 'succeeded'],
        [`Restore ${src.snapshots[0]} to ${r.restored.dbInstance}`, 'succeeded'],
        ['Wait until the restored instance is available', 'succeeded'],
        ['Data checks on the restored database', 'succeeded'],
        ['Approval', 'skipped'],
      ]);
      expect(report.compensations).toEqual([]);
    });
  });

  it('task-definition-env, approved after seeing the checks: the service runs a new revision whose env has the restored endpoint', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const input = restoreInput(src, secretId, {
        switch: {
          mode: 'task-definition-env',
          ecs: { cluster: svc.cluster, service: svc.service },
          variable: 'DATABASE_HOST',
        },
        health: health(healthy),
        ...approvalByBob,
      });
      const { workflowId, handle } = await start(client, taskQueue, input);

      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      const summary = waiting.pendingApproval?.summary ?? '';
      expect(summary).toContain('users = 1200 (≥ 1000) ok');
      expect(summary).toContain('orders = 3000 (≥ 1) ok');
      expect(summary).toContain(`restored from ${src.snapshots[0]}`);
      // Nothing switched before the approval.
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });

      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expectGoodChecks(r);
      expect(report.approvals).toMatchObject([{ by: 'bob', decision: 'approve', accepted: true }]);

      const after = await serviceState(aws, svc);
      expect(after).toMatchObject({ desiredCount: 2, runningCount: 2 });
      expect(await listRevisions(aws, REGION, svc.family)).toEqual([...svc.revisions, after.taskDefinition]);
      expect(await taskDefinitionEnv(aws, REGION, after.taskDefinition, 'DATABASE_HOST')).toBe(r.restored.endpoint);
      expect((await dbInstance(aws, REGION, r.restored.dbInstance))?.Endpoint?.Address).toBe(r.restored.endpoint);
      expect(r.switch.detail).toContain(`DATABASE_HOST=${r.restored.endpoint}`);
      await expectSafetySnapshot(aws, src, r.safetySnapshot);
      expect(await sourceState(aws, src)).toEqual(ORIGINAL(src));
      expect(report.timeline.find((s) => s.name === 'Verify the app')?.outcome).toBe('succeeded');
      expect(healthy.probes).toBeGreaterThanOrEqual(2);
    });
  });

  it('task-definition-env with a watch and an RTO target: the switched app is watched (an HTTP check), the RTO is compared', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const input = restoreInput(src, secretId, {
        switch: {
          mode: 'task-definition-env',
          ecs: { cluster: svc.cluster, service: svc.service },
          variable: 'DATABASE_HOST',
        },
        rtoTarget: '30m',
        watch: {
          for: '2s',
          interval: '1s',
          httpChecks: [{ name: 'app health', url: healthy.healthUrl, expectStatus: 200 }],
        },
      });
      const { handle } = await start(client, taskQueue, input);
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.watch).toMatchObject({ verdict: 'clean', failures: [] });
      expect(r.watch!.checks).toBeGreaterThanOrEqual(2);
      expect(report.timeline.at(-1)?.name).toBe('Watch app health for 2s after the switch');
      expect(r.rtoSeconds).toBeGreaterThanOrEqual(0);
      expect(report.incidentReport).toMatch(/\*\*RTO against target:\*\* .+ \(target 30m: met\)/);
      expect(report.incidentReport).toContain('- **Status:** Resolved: the app serves from the restored database');
      const after = await serviceState(aws, svc);
      expect(await taskDefinitionEnv(aws, REGION, after.taskDefinition, 'DATABASE_HOST')).toBe(r.restored.endpoint);
    });
  });

  it('a watch or an RTO target without a switch: InvalidInput naming the field; nothing restored', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const cases: [Partial<SnapshotRestoreInput>, string][] = [
        [{ rtoTarget: '15m' }, 'input.rtoTarget'],
        [{ watch: { alarms: ['api-5xx'] } }, 'input.watch'],
      ];
      for (const [over, field] of cases) {
        const { workflowId } = await start(client, taskQueue, restoreInput(src, secretId, over), uid('restore-watch'));
        const err = await expectFailure(client, workflowId);
        expect(err.type).toBe(FailureType.InvalidInput);
        expect(err.message).toContain(`${field}: applies after a switch`);
      }
      expect(await instancesWithPrefix(aws, src.region, `${src.id}-`)).toEqual([]);
      const taken = (await snapshotsOf(aws, src.region, src.id)).filter((x) => x.id.includes('-before-restore-'));
      expect(taken).toEqual([]); // not even the safety snapshot
    });
  });

  it('secret: the secret’s host becomes the restored endpoint (password kept), the service is redeployed at its count', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 3 });
      const before = await readSecret(aws, REGION, secretId);
      expect(before.value.host).toBe(src.endpoint);
      const { handle } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          switch: { mode: 'secret', ecs: { cluster: svc.cluster, service: svc.service }, secretId },
          health: health(healthy),
        }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expectGoodChecks(r);

      const after = await readSecret(aws, REGION, secretId);
      expect(after.value).toEqual({ ...before.value, host: r.restored.endpoint });
      expect(after.value.password).toBe('demo-password-not-secret');
      expect(after.versionId).not.toBe(before.versionId);
      expect(r.switch.detail).toContain(`version ${after.versionId} has host=${r.restored.endpoint}`);

      // Redeployed (a forced new deployment: the emulator's deployments list does not show it, the history does),
      // same revision, same count.
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 3,
        runningCount: 3,
        taskDefinition: svc.revisions.at(-1),
      });
      expect(await listRevisions(aws, REGION, svc.family)).toEqual(svc.revisions);
      expect(await activityInputs(handle, 'updateService')).toEqual([
        { region: REGION, cluster: svc.cluster, service: svc.service, forceNewDeployment: true },
      ]);
      await expectSafetySnapshot(aws, src, r.safetySnapshot);
      expect(await sourceState(aws, src)).toEqual(ORIGINAL(src));
    });
  });

  it('rename-swap: the restored instance takes the source’s name, the source is kept as <id>-old, the app is back at its count', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const { workflowId, handle } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          switch: { mode: 'rename-swap', ecs: { cluster: svc.cluster, service: svc.service } },
          health: health(healthy),
        }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.finalInstanceIds).toEqual({ serving: src.id, previous: `${src.id}-old` });
      expect(r.restored.dbInstance).toBe(src.id);
      // The endpoint follows the name: the app reaches the restored data at the address it always used.
      expect(r.restored.endpoint).toBe(src.endpoint);
      expect(r.dataChecks).toMatchObject({ connected: true, passed: true, results: GOOD_RESULTS });

      // The instance named like the source is the one this run restored (its tag and creation time say so)…
      const serving = await dbInstance(aws, REGION, src.id);
      expect(serving?.DBInstanceStatus).toBe('available');
      expect(tagOf(serving, 'runbook-run')).toMatch(new RegExp(`^${workflowId}/[0-9a-f-]{36}$`)); // this run
      expect(serving?.InstanceCreateTime?.toISOString()).not.toBe(src.createdAt);
      // …the original is kept as <id>-old, untouched otherwise…
      const old = await dbInstance(aws, REGION, `${src.id}-old`);
      expect(old?.InstanceCreateTime?.toISOString()).toBe(src.createdAt);
      expect(tagOf(old, 'runbook-run')).toBeUndefined();
      expect(old?.Endpoint?.Address).toBe(`${src.id}-old.aaaaaaaaaa.${REGION}.rds.amazonaws.com`);
      // …and no instance is left under the temporary restored name.
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-restored-`)).toEqual([]);

      // The app was stopped for the swap and is back at its count, on the same revision.
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });
      expect(await activityInputs(handle, 'updateService')).toEqual([
        { region: REGION, cluster: svc.cluster, service: svc.service, desiredCount: 0 },
        { region: REGION, cluster: svc.cluster, service: svc.service, desiredCount: 2 },
      ]);
      await expectSafetySnapshot(aws, src, r.safetySnapshot);
      expect(r.safetySnapshot).toMatch(new RegExp(`^${src.id}-before-restore-\\d{14}$`));
    });
  });
});

describe('snapshotRestore: what to restore', () => {
  it('"latest" picks the newest snapshot: the second manual one, not the first nor the automated one', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws, { snapshots: 2 });
      const listed = await snapshotsOf(aws, REGION, src.id);
      // The emulator lists the automated snapshot it made with the instance first, then the manual ones.
      expect(listed.map((s) => [s.type, s.id])).toEqual([
        ['automated', expect.stringMatching(new RegExp(`^rds:${src.id}-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}$`))],
        ['manual', src.snapshots[0]],
        ['manual', src.snapshots[1]],
      ]);
      const newest = listed[2]!;
      expect(newest.createdAt > listed[1]!.createdAt && listed[1]!.createdAt > listed[0]!.createdAt).toBe(true);

      const { handle } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, { restore: { snapshot: 'latest' } }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.restoredFrom.snapshot).toBe(src.snapshots[1]);
      expect(r.restoredFrom.snapshotCreatedAt).toBe(newest.createdAt);
      expect(r.restoredFrom.snapshotAgeSeconds).toBeGreaterThanOrEqual(0);
      expect(r.restoredFrom.snapshotAgeSeconds).toBeLessThan(60);
      expect(report.timeline.find((s) => s.name.startsWith('Preflight'))?.details).toMatchObject({
        snapshot: src.snapshots[1],
        snapshotType: 'manual',
      });
      expect(await dbInstance(aws, REGION, r.restored.dbInstance)).toBeDefined();
    });
  });

  it('a point in time inside the restorable window: restored to a standalone instance', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      await new Promise((r) => setTimeout(r, 2_500)); // the window opens when the instance is created
      const restoreTime = new Date(Date.now() - 2_000).toISOString();
      expect(restoreTime > src.createdAt).toBe(true);
      const { workflowId, handle } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, { restore: { restoreTime } }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.restoredFrom).toEqual({ restoreTime });
      expectGoodChecks(r);
      expect(report.timeline.map((s) => s.name)).toContain(
        `Restore ${src.id} as of ${restoreTime} to ${r.restored.dbInstance}`,
      );
      const preflight = report.timeline.find((s) => s.name.startsWith('Preflight'))?.details as {
        window?: { earliest?: string; latest?: string };
      };
      expect(preflight.window?.earliest && preflight.window.earliest <= restoreTime).toBe(true);
      expect(preflight.window?.latest && preflight.window.latest >= restoreTime).toBe(true);

      const restored = await dbInstance(aws, REGION, r.restored.dbInstance);
      expect(restored?.DBInstanceStatus).toBe('available');
      expect(restored?.ReadReplicaSourceDBInstanceIdentifier).toBeUndefined();
      expect(tagOf(restored, 'runbook-run')).toMatch(new RegExp(`^${workflowId}/[0-9a-f-]{36}$`)); // this run
      await expectSafetySnapshot(aws, src, r.safetySnapshot);
    });
  });

  it('a point in time before the source existed: PreconditionFailed naming the window; nothing changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const before = await snapshotsOf(aws, REGION, src.id);
      const restoreTime = new Date(Date.parse(src.createdAt) - 3_600_000).toISOString();
      const { workflowId } = await start(client, taskQueue, restoreInput(src, secretId, { restore: { restoreTime } }));
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toMatch(
        new RegExp(
          `^restoreTime ${restoreTime} is outside the restorable window of ${src.id} \\(\\d{4}-\\S+Z … \\d{4}-\\S+Z\\)\\. Nothing was changed\\.$`,
        ),
      );
      // The window it names starts when the source was created.
      const earliest = /window of \S+ \((\S+) …/.exec(failure.message)?.[1] ?? '';
      expect(Math.abs(Date.parse(earliest) - Date.parse(src.createdAt))).toBeLessThan(1_000);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(before);
      expect(await sourceState(aws, src)).toEqual(ORIGINAL(src));
    });
  });

  it('a point in time in the future: InvalidInput naming input.restore.restoreTime', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const restoreTime = new Date(Date.now() + 3_600_000).toISOString();
      const { workflowId } = await start(client, taskQueue, restoreInput(src, secretId, { restore: { restoreTime } }));
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.InvalidInput);
      expect(failure.message).toBe('invalid input: input.restore.restoreTime: is in the future. Nothing was changed.');
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
    });
  });
});

describe('snapshotRestore: failures before the switch delete the restored instance and keep the safety snapshot', () => {
  it('a failing data check: DataCheckFailed naming the check and its value', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const checks = [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: { equals: 5 } }];
      const { workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, { dataChecks: { secretId, checks, timeout: '10s' } }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.DataCheckFailed);
      const restoredId = restoredIdOf(failure.report, src);
      expect(failure.message).toContain(`data checks failed on ${restoredId}: users = 1200, expected = 5`);
      expect(failure.message).toContain(`Compensated: delete the restored instance ${restoredId} (no final snapshot).`);
      expect(await dbInstance(aws, REGION, restoredId)).toBeUndefined();
      const safety = await expectCleanedUp(aws, src, failure.message);
      expect(safety).toBe(safetyIdFor(src, restoredId));
      expect(failure.report?.compensations).toMatchObject([
        { name: `delete the restored instance ${restoredId} (no final snapshot)`, outcome: 'succeeded' },
      ]);
      expect(failure.report?.timeline.find((s) => s.name === 'Data checks on the restored database')).toMatchObject({
        outcome: 'failed',
      });
    });
  });

  it('rejected at the approval: the restored instance (there while waiting) is deleted', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const { workflowId, handle } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          switch: {
            mode: 'task-definition-env',
            ecs: { cluster: svc.cluster, service: svc.service },
            variable: 'DATABASE_HOST',
          },
          ...approvalByBob,
        }),
      );
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      const waitingOn = await instancesWithPrefix(aws, REGION, `${src.id}-restored-`);
      expect(waitingOn).toHaveLength(1);

      await handle.signal(rejectSignal, { by: 'bob', reason: 'the snapshot predates the fix' });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ApprovalRejected);
      expect(failure.message).toContain('rejected by bob: the snapshot predates the fix.');
      expect(failure.message).toContain(
        `Compensated: delete the restored instance ${waitingOn[0]} (no final snapshot).`,
      );
      expect(await dbInstance(aws, REGION, waitingOn[0]!)).toBeUndefined();
      await expectCleanedUp(aws, src, failure.message);
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });
      expect(await listRevisions(aws, REGION, svc.family)).toEqual(svc.revisions);
    });
  });

  it('no decision before the approval timeout: treated as a rejection, same cleanup', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const { workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, { approval: { required: true, timeout: '1s' }, initiatedBy: 'alice' }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ApprovalTimedOut);
      expect(failure.message).toContain('no approval within 1s (0 of 1 approvals): treated as a rejection.');
      const restoredId = restoredIdOf(failure.report, src);
      expect(failure.message).toContain(`Compensated: delete the restored instance ${restoredId}`);
      expect(await dbInstance(aws, REGION, restoredId)).toBeUndefined();
      await expectCleanedUp(aws, src, failure.message);
    });
  });
});

describe('snapshotRestore: a failure during the switch reverts it', () => {
  it('task-definition-env with an unhealthy app: the service is back on its previous revision, the restored instance deleted', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const { workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          switch: {
            mode: 'task-definition-env',
            ecs: { cluster: svc.cluster, service: svc.service },
            variable: 'DATABASE_HOST',
          },
          health: health(sick),
        }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.HealthCheckFailed);
      expect(failure.message).toContain(`the app is not healthy after the switch: ${sick.healthUrl} not healthy`);
      const restoredId = restoredIdOf(failure.report, src);
      const previous = svc.revisions.at(-1)!;
      const short = previous.split('/').pop();
      expect(failure.report?.compensations.map((c) => [c.name, c.outcome])).toEqual([
        [`put ${svc.service} back on ${short}`, 'succeeded'],
        [`delete the restored instance ${restoredId} (no final snapshot)`, 'succeeded'],
      ]);

      // The service: back on the revision it had, at its count. The revision the switch registered stays registered.
      expect(await serviceState(aws, svc)).toEqual({ desiredCount: 2, runningCount: 2, taskDefinition: previous });
      const revisions = await listRevisions(aws, REGION, svc.family);
      expect(revisions).toHaveLength(svc.revisions.length + 1);
      expect(await taskDefinitionEnv(aws, REGION, revisions.at(-1)!, 'DATABASE_HOST')).toBe(
        `${restoredId}.aaaaaaaaaa.${REGION}.rds.amazonaws.com`,
      );
      expect(await dbInstance(aws, REGION, restoredId)).toBeUndefined();
      await expectCleanedUp(aws, src, failure.message);
    });
  });

  // Secret mode reverts in the order that works: the old host back into the secret, then a redeploy that reads it.
  it('secret with an unhealthy app: the secret’s host is put back and only then is the app redeployed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const before = await readSecret(aws, REGION, secretId);
      const { handle, workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          switch: { mode: 'secret', ecs: { cluster: svc.cluster, service: svc.service }, secretId },
          health: health(sick),
        }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.HealthCheckFailed);
      const restoredId = restoredIdOf(failure.report, src);
      // The secret: the host is the source's again, every other field as it was.
      expect((await readSecret(aws, REGION, secretId)).value).toEqual(before.value);
      expect(await dbInstance(aws, REGION, restoredId)).toBeUndefined();
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });
      await expectCleanedUp(aws, src, failure.message);

      // The last redeploy must come after the secret holds the old host again.
      const calls = await activitySequence(handle);
      const putBack = calls.findIndex(
        (c) => c.name === 'setSecretField' && (c.input as { value?: string }).value === src.endpoint,
      );
      const lastRedeploy = calls.map((c) => c.name).lastIndexOf('updateService');
      expect(putBack).toBeGreaterThan(0);
      expect(lastRedeploy).toBeGreaterThan(putBack);
      expect(failure.report?.compensations.map((c) => c.name)).toEqual([
        `put host=${src.endpoint} back into ${secretId} and redeploy ${svc.service}`,
        `delete the restored instance ${restoredId} (no final snapshot)`,
      ]);
    });
  });

  it('rename-swap with an unhealthy app: both renames are undone, the app is back at its count, the restored instance deleted', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const { handle, workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          switch: { mode: 'rename-swap', ecs: { cluster: svc.cluster, service: svc.service } },
          health: health(sick),
        }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.HealthCheckFailed);
      const restoredId = restoredIdOf(failure.report, src);
      const oldId = `${src.id}-old`;
      expect(failure.report?.compensations.map((c) => [c.name, c.outcome])).toEqual([
        [`rename ${src.id} back to ${restoredId}`, 'succeeded'],
        [`rename ${oldId} back to ${src.id}`, 'succeeded'],
        [`start ${svc.service} again (2 tasks)`, 'succeeded'],
        [`delete the restored instance ${restoredId} (no final snapshot)`, 'succeeded'],
      ]);
      // The renames happened and were undone (history), so the name is the original instance again.
      expect(await activityInputs(handle, 'renameDbInstance')).toEqual([
        { region: REGION, from: src.id, to: oldId },
        { region: REGION, from: restoredId, to: src.id },
        { region: REGION, from: src.id, to: restoredId },
        { region: REGION, from: oldId, to: src.id },
      ]);
      expect(await dbInstance(aws, REGION, oldId)).toBeUndefined();
      expect(await dbInstance(aws, REGION, restoredId)).toBeUndefined();
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });
      await expectCleanedUp(aws, src, failure.message); // the source id: the original instance, untagged
    });
  });
});

describe('snapshotRestore: refusals', () => {
  it('an unknown snapshot id: ResourceNotFound naming it; nothing changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const before = await snapshotsOf(aws, REGION, src.id);
      const missing = `${src.id}-no-such-snapshot`;
      const { workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, { restore: { snapshot: missing } }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ResourceNotFound);
      expect(failure.message).toBe(`DB snapshot ${missing} not found in ${REGION}. Nothing was changed.`);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(before);
    });
  });

  // Seen on call: with demo-db-old left from an earlier swap, the run restored, stopped the app, failed on the name,
  // started the app again and deleted the restore — an outage for nothing. Every name the run needs is checked first.
  it('rename-swap when <id>-old (or the restored id) is taken: PreconditionFailed naming it, before any change', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const swap = { mode: 'rename-swap' as const, ecs: { cluster: svc.cluster, service: svc.service } };
      const oldId = `${src.id}-old`;
      const taken = await ensureDbInstance(aws, REGION, oldId, { masterPassword: DB_SECRET.password });
      const snapshotsBefore = await snapshotsOf(aws, REGION, src.id);

      const first = await start(client, taskQueue, restoreInput(src, secretId, { switch: swap }));
      const failure = await expectFailure(client, first.workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toBe(
        `rename-swap would rename ${src.id} to ${oldId}, but an instance named ${oldId} already exists in ${REGION} ` +
          `(available); rename or delete it, or choose another switch mode. Nothing was changed.`,
      );
      // Nothing changed: no safety snapshot, no restore, the app never stopped, the instance in the way untouched.
      expect(failure.report?.timeline.map((s) => s.name)).toEqual([
        'Acquire resource',
        'Preflight: source, snapshot or restore window, app',
      ]);
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(snapshotsBefore);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([oldId]);
      expect(await activityInputs(first.handle, 'updateService')).toEqual([]);
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });
      expect((await dbInstance(aws, REGION, oldId))?.InstanceCreateTime).toEqual(taken.InstanceCreateTime);
      expect(await sourceState(aws, src)).toEqual(ORIGINAL(src));

      // The restored instance's id (here given as newInstanceId) is checked in the same place, for every mode.
      const other = await makeSourceDb(aws, REGION);
      const second = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, { newInstanceId: other.id }),
        uid('restore-taken'),
      );
      const refused = await expectFailure(client, second.workflowId);
      expect(refused.type).toBe(FailureType.PreconditionFailed);
      expect(refused.message).toBe(
        `the restore would create ${other.id}, but an instance named ${other.id} already exists in ${REGION} ` +
          `(available); set another newInstanceId, or delete it if it is a leftover. Nothing was changed.`,
      );
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(snapshotsBefore);
      expect((await dbInstance(aws, REGION, other.id))?.InstanceCreateTime?.toISOString()).toBe(other.createdAt);
    });
  });

  it('rename-swap with newInstanceId <id>-old: InvalidInput naming input.newInstanceId', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const { workflowId } = await start(
        client,
        taskQueue,
        restoreInput(src, secretId, {
          newInstanceId: `${src.id}-old`,
          switch: { mode: 'rename-swap', ecs: { cluster: svc.cluster, service: svc.service } },
        }),
      );
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.InvalidInput);
      expect(failure.message).toBe(
        `invalid input: input.newInstanceId: expected an id other than ${src.id}-old, the name rename-swap gives ` +
          `the source. Nothing was changed.`,
      );
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
    });
  });

  it('a malformed check (expect {}): InvalidInput naming input.dataChecks.checks.0.expect', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const input = restoreInput(src, secretId, {
        dataChecks: { secretId, checks: [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: {} }] },
      });
      const { workflowId } = await start(client, taskQueue, input);
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.InvalidInput);
      expect(failure.message).toContain('input.dataChecks.checks.0.expect: expected at least one of min, max, equals');
      expect(failure.message).toMatch(/Nothing was changed\.$/);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
    });
  });

  it('a dry run changes nothing and plans the safety snapshot, the restore, the checks and the switch', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2 });
      const beforeSnapshots = await snapshotsOf(aws, REGION, src.id);
      const input = restoreInput(src, secretId, {
        switch: {
          mode: 'task-definition-env',
          ecs: { cluster: svc.cluster, service: svc.service },
          variable: 'DATABASE_HOST',
        },
        dryRun: true,
      });
      const { handle } = await start(client, taskQueue, input, uid('restore-dry'));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('dry-run');
      const plan = report.plan ?? [];
      expect(plan.map((p) => [p.step, p.action])).toEqual([
        ['Safety snapshot', 'rds:CreateDBSnapshot'],
        ['Restore', 'rds:RestoreDBInstanceFromDBSnapshot'],
        ['Data checks', 'SQL (read only)'],
        ['Approval', 'not required'],
        ['Switch: new revision', 'ecs:RegisterTaskDefinition'],
        ['Switch: deploy', 'ecs:UpdateService'],
      ]);
      expect(plan[0]?.params).toMatchObject({
        dbInstance: src.id,
        snapshot: expect.stringMatching(/-before-restore-\d{14}$/),
      });
      expect(plan[1]?.params).toMatchObject({
        snapshot: src.snapshots[0],
        newInstance: expect.stringMatching(restoredPattern(src)),
      });
      expect(plan[2]?.params).toEqual({ checks: ['connectivity', ...GOOD_CHECKS.map((c) => c.name)] });

      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(beforeSnapshots);
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions.at(-1),
      });
      expect(await listRevisions(aws, REGION, svc.family)).toEqual(svc.revisions);
    });
  });

  it('two restores of one database at once: the second is refused, naming the run that holds it', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const input = restoreInput(src, secretId, approvalByBob);
      const first = await start(client, taskQueue, input);
      await waitForStatus(client, first.workflowId, (s) => s.state === 'awaiting-approval');
      const snapshotsWhileHeld = await snapshotsOf(aws, REGION, src.id);
      const instancesWhileHeld = await instancesWithPrefix(aws, REGION, `${src.id}-`);

      // Under the derived ID (as the CLI starts it): Temporal refuses a second open run with that ID.
      await expect(start(client, taskQueue, input)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      // Under any other ID (e.g. from the UI): the run takes the lock first and is refused before changing anything.
      const second = await start(client, taskQueue, input, uid('restore-second'));
      const failure = await expectFailure(client, second.workflowId);
      expect(failure.type).toBe(FailureType.ResourceBusy);
      expect(failure.message).toContain(`another run is already open on ${REGION}/${src.id}`);
      expect(failure.message).toContain(first.workflowId);
      expect(failure.message).toContain('Nothing was changed.');
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(snapshotsWhileHeld);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual(instancesWhileHeld);

      await first.handle.signal(rejectSignal, { by: 'bob', reason: 'test over' });
      expect((await expectFailure(client, first.workflowId)).type).toBe(FailureType.ApprovalRejected);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
    });
  });
});

describe('snapshotRestore: what AWS says', () => {
  it('the restored instance ends incompatible-restore: DbInstanceFailed at once (not after restoreTimeout), the restored instance deleted', async () => {
    const { aws } = await testClients();
    const { src, secretId } = await makeSource(aws);
    // AWS's answer for the restored instance (the emulator's restores always succeed): incompatible-restore.
    await withInterceptingWorker(
      (call) => {
        const id = call.operation === 'DescribeDBInstances' ? String(callParam(call, 'DBInstanceIdentifier')) : '';
        if (!restoredPattern(src).test(id)) return undefined;
        const infos = [
          { type: 'read replication', status: 'error', normal: false, message: 'the snapshot cannot be read' },
        ];
        return { rewrite: (xml) => withDbStatus(xml, id, 'incompatible-restore', infos) };
      },
      async ({ client, taskQueue }) => {
        const started = Date.now();
        const { workflowId } = await start(client, taskQueue, restoreInput(src, secretId, { restoreTimeout: '2h' }));
        const failure = await expectFailure(client, workflowId);
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(failure.type).toBe(FailureType.DbInstanceFailed);
        const restoredId = restoredIdOf(failure.report, src);
        expect(failure.message).toContain(
          `restored instance ${restoredId} in ${REGION} is incompatible-restore: AWS could not restore it ` +
            `(read replication error: the snapshot cannot be read). Waiting longer will not change it; see RDS's ` +
            `events for it: aws rds describe-events --region ${REGION} --source-type db-instance --source-identifier ${restoredId}.`,
        );
        expect(failure.message).toContain(
          `Compensated: delete the restored instance ${restoredId} (no final snapshot).`,
        );
        expect(
          failure.report?.timeline.find((s) => s.name === 'Wait until the restored instance is available'),
        ).toMatchObject({ outcome: 'failed' });
        expect(failure.report?.compensations).toMatchObject([
          { name: `delete the restored instance ${restoredId} (no final snapshot)`, outcome: 'succeeded' },
        ]);
        expect(await dbInstance(aws, REGION, restoredId)).toBeUndefined();
        await expectCleanedUp(aws, src, failure.message);
      },
    );
  });

  it('an app deployed by CodeDeploy: task-definition-env and secret are refused before the safety snapshot and the restore', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const { src, secretId } = await makeSource(aws);
      const svc = await makeService(aws, { desiredCount: 2, deploymentController: 'CODE_DEPLOY' });
      const ecs = { cluster: svc.cluster, service: svc.service };
      const service = await serviceState(aws, svc);
      const snapshots = await snapshotsOf(aws, REGION, src.id);
      const secret = await readSecret(aws, REGION, secretId);
      for (const [mode, sw, action] of [
        [
          'task-definition-env',
          { mode: 'task-definition-env' as const, ecs, variable: 'DATABASE_HOST' },
          'deploy a revision with the restored endpoint to it (switch.mode task-definition-env)',
        ],
        [
          'secret',
          { mode: 'secret' as const, ecs, secretId },
          'force a new deployment of it so that it reads the restored endpoint from the secret (switch.mode secret)',
        ],
      ] as const) {
        const { workflowId } = await start(client, taskQueue, restoreInput(src, secretId, { switch: sw }));
        const failure = await expectFailure(client, workflowId);
        expect(failure.type, mode).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toBe(
          `app service ${svc.service} (${REGION}/${svc.cluster}/${svc.service}) uses the CODE_DEPLOY deployment ` +
            `controller, and AWS refuses a task-definition change or a forced deployment through UpdateService for ` +
            `such a service: this runbook would ${action}. To change it, deploy it through CodeDeploy (aws deploy ` +
            `create-deployment --application-name … --deployment-group-name …), or run this runbook on an ` +
            `ECS-controlled service. Nothing was changed.`,
        );
        expect(failure.report?.timeline.map((s) => s.name)).toEqual([
          'Acquire resource',
          'Preflight: source, snapshot or restore window, app',
        ]);
      }
      // AWS as it was: no safety snapshot, no restored instance, the app and its secret untouched.
      expect(await snapshotsOf(aws, REGION, src.id)).toEqual(snapshots);
      expect(await instancesWithPrefix(aws, REGION, `${src.id}-`)).toEqual([]);
      expect(await serviceState(aws, svc)).toEqual(service);
      expect(await listRevisions(aws, REGION, svc.family)).toEqual(svc.revisions);
      expect(await readSecret(aws, REGION, secretId)).toEqual(secret);
    });
  });
});
