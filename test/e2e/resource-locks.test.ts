// One change per AWS resource, across runbooks (workflows/lib/lock.ts acquireResources): a run takes every resource it
// will change before its first change; a second run on any of them — of whatever runbook — is refused naming the
// holder, or, where the organisation policy says so, waits its turn visibly. Dry runs take nothing.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { approveSignal, rejectSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import { ecsRollbackWorkflowId, type EcsRollbackInput } from '../../api/runbooks/ecs-rollback';
import { emergencyScaleWorkflowId, type EmergencyScaleInput } from '../../api/runbooks/emergency-scale';
import { regionalFailoverWorkflowId } from '../../api/runbooks/regional-failover';
import { snapshotRestoreWorkflowId, type SnapshotRestoreInput } from '../../api/runbooks/restore';
import type { RunbookReport } from '../../api/status';
import { ensureDbSnapshot } from '../../scripts/lib/fixtures';
import { makeService, serviceState, type TestService } from '../helpers/env/aws-fixtures';
import { makeFailoverEnv, SECONDARY_REGION } from '../helpers/env/failover-env';
import { GOOD_CHECKS, instancesWithPrefix, makeDbSecret, snapshotsOf } from '../helpers/env/restore-env';
import { closeConnections, expectFailure, waitForStatus, withWorker } from '../helpers/temporal';

afterAll(async () => {
  await closeConnections();
});

const lockOf = (svc: TestService) => `lock:ecs-service:${svc.region}/${svc.cluster}/${svc.service}`;

/** An emergency scale of `svc` that waits at its approval gate (alice started it; bob may approve). */
function scaleInput(svc: TestService): EmergencyScaleInput {
  return {
    ...svc.ref,
    desiredCount: 5,
    reason: 'traffic spike',
    initiatedBy: 'alice',
    approval: { required: true, timeout: '10m' },
  };
}

/** A rollback of `svc` to its previous revision that needs no approval: if it got through, it would change it. */
function rollbackInput(svc: TestService, over: Partial<EcsRollbackInput> = {}): EcsRollbackInput {
  return { ...svc.ref, reason: 'bad deploy', approval: { required: false }, stableTimeout: '30s', ...over };
}

async function startScale(client: Client, taskQueue: string, svc: TestService) {
  const input = scaleInput(svc);
  const workflowId = emergencyScaleWorkflowId(input);
  const handle = await client.workflow.start('emergencyScale', { taskQueue, workflowId, args: [input] });
  await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
  return { workflowId, handle };
}

async function startRollback(client: Client, taskQueue: string, input: EcsRollbackInput) {
  const workflowId = ecsRollbackWorkflowId(input);
  const handle = await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [input] });
  return { workflowId, handle };
}

/** The activity types a run scheduled, from its history. */
async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => !!n);
}

/** The lock workflow as Temporal describes it. */
async function describeLock(client: Client, lockId: string) {
  const d = await client.workflow.getHandle(lockId).describe();
  return { type: d.type, status: d.status.name, parent: d.parentExecution?.workflowId };
}

/** Wait until the lock's workflow has closed (its holder ended: Temporal terminates it with its parent). */
async function lockClosed(client: Client, lockId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lock = await describeLock(client, lockId);
    if (lock.status !== 'RUNNING') return lock;
    if (Date.now() > deadline) throw new Error(`${lockId} is still held by ${lock.parent}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const refusal = (label: string, holderType: string, holderId: string, lockId: string) =>
  new RegExp(
    `^another run is already changing ${esc(label)}: ${holderType} workflow ${esc(holderId)}, started \\S+Z ` +
      `\\(lock ${esc(lockId)}\\); wait for it to finish or stop it first\\. Nothing was changed\\.$`,
  );
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('resource locks across runbooks', () => {
  it('an ecsRollback of a service an emergencyScale holds (at its approval gate) is refused, naming it; a dry run goes through; once the scale has ended, the rollback runs', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const before = await serviceState(aws, svc);
      const scale = await startScale(client, taskQueue, svc);

      // The scale took its service before the approval gate: one step, and a resourceLock child under the lock ID.
      const waiting = await scale.handle.query(statusQuery);
      expect(waiting.steps.find((s) => s.name === 'Lock resources')).toMatchObject({
        outcome: 'succeeded',
        mutating: false,
        details: { locks: [lockOf(svc)], resources: [`ECS service ${svc.region}/${svc.cluster}/${svc.service}`] },
      });
      expect(await describeLock(client, lockOf(svc))).toEqual({
        type: 'resourceLock',
        status: 'RUNNING',
        parent: scale.workflowId,
      });

      // Another runbook on the same service: its own workflow ID is free, the service is not.
      const rollback = await startRollback(client, taskQueue, rollbackInput(svc));
      const failure = await expectFailure(client, rollback.workflowId);
      expect(failure.type).toBe(FailureType.ResourceBusy);
      expect(failure.message).toMatch(
        refusal(
          `ECS service ${svc.region}/${svc.cluster}/${svc.service}`,
          'emergencyScale',
          scale.workflowId,
          lockOf(svc),
        ),
      );
      expect(failure.report?.timeline.map((s) => [s.name, s.outcome])).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: find the revision to roll back to', 'succeeded'],
        ['Lock resources', 'failed'],
      ]);
      // Nothing changed by the refused run: no update was even scheduled, the service is as it was.
      expect(await scheduledActivities(rollback.handle)).not.toContain('updateService');
      expect(await serviceState(aws, svc)).toEqual(before);
      expect((await describeLock(client, lockOf(svc))).parent).toBe(scale.workflowId); // still the scale's

      // A dry run changes nothing, so it takes no lock: it plans the rollback while the scale holds the service.
      const dry = await startRollback(client, taskQueue, rollbackInput(svc, { dryRun: true }));
      const planned = (await dry.handle.result()) as RunbookReport;
      expect(planned.outcome).toBe('dry-run');
      expect(planned.plan).toMatchObject([
        { step: 'Roll back the service', params: { taskDefinition: svc.revisions[0] } },
      ]);
      expect(planned.timeline.map((s) => s.name)).not.toContain('Lock resources');
      expect(await describeLock(client, lockOf(svc))).toMatchObject({ status: 'RUNNING', parent: scale.workflowId });

      // The scale ends (rejected: nothing was changed); its lock goes with it, and the rollback can run.
      await scale.handle.signal(rejectSignal, { by: 'bob', reason: 'the rollback fixes it' });
      expect((await expectFailure(client, scale.workflowId)).type).toBe(FailureType.ApprovalRejected);
      expect((await lockClosed(client, lockOf(svc))).status).toBe('TERMINATED');
      const again = await startRollback(client, taskQueue, rollbackInput(svc));
      const report = (await again.handle.result()) as RunbookReport;
      expect(report.outcome).toBe('succeeded');
      expect(report.timeline.find((s) => s.name === 'Lock resources')?.outcome).toBe('succeeded');
      expect(await serviceState(aws, svc)).toMatchObject({ desiredCount: 2, taskDefinition: svc.revisions[0] });
    });
  });

  it('a snapshotRestore of the replica a regionalFailover is about to promote is refused, naming the failover; nothing restored', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const input = env.input({
        plannedSwitchover: { reason: 'DR drill' },
        initiatedBy: 'alice',
        approval: { required: true, timeout: '10m' },
      });
      const failoverId = regionalFailoverWorkflowId(input);
      const failover = await client.workflow.start('regionalFailover', {
        taskQueue,
        workflowId: failoverId,
        args: [input],
      });
      const waiting = await waitForStatus(client, failoverId, (s) => s.state === 'awaiting-approval');
      const replicaLock = `lock:rds-instance:${SECONDARY_REGION}/${env.replica.id}`;
      // Everything it will change, in lock order; the primary DB (only read) is not among them.
      expect(waiting.steps.find((s) => s.name === 'Lock resources')?.details?.locks).toEqual(
        [
          `lock:ecs-service:${env.primaryService.region}/${env.primaryService.cluster}/${env.primaryService.service}`,
          `lock:ecs-service:${env.secondaryService.region}/${env.secondaryService.cluster}/${env.secondaryService.service}`,
          replicaLock,
          `lock:route53-record:${env.zone.zoneId.replace('/hostedzone/', '').toUpperCase()}/${env.zone.recordName}/A`,
        ].sort(),
      );

      // A restore of that replica (from a snapshot of it), switching an app of its own: refused before its safety
      // snapshot. Its app's service comes first in lock order, so it was taken — and is let go with the refusal.
      const app = await makeService(aws, { region: SECONDARY_REGION });
      const snapshot = `${env.replica.id}-s1`;
      await ensureDbSnapshot(aws, SECONDARY_REGION, env.replica.id, snapshot);
      const snapshotsBefore = await snapshotsOf(aws, SECONDARY_REGION, env.replica.id);
      const restore: SnapshotRestoreInput = {
        region: SECONDARY_REGION,
        dbInstance: env.replica.id,
        restore: { snapshot },
        dataChecks: { secretId: await makeDbSecret(aws, SECONDARY_REGION), checks: GOOD_CHECKS, timeout: '10s' },
        switch: { mode: 'task-definition-env', ecs: { cluster: app.cluster, service: app.service }, variable: 'DB' },
        approval: { required: false },
        reason: 'e2e: restore the replica',
      };
      const restoreId = snapshotRestoreWorkflowId(restore);
      const restoring = await client.workflow.start('snapshotRestore', {
        taskQueue,
        workflowId: restoreId,
        args: [restore],
      });
      const failure = await expectFailure(client, restoreId);
      expect(failure.type).toBe(FailureType.ResourceBusy);
      expect(failure.message).toMatch(
        refusal(`DB instance ${SECONDARY_REGION}/${env.replica.id}`, 'regionalFailover', failoverId, replicaLock),
      );
      expect(failure.report?.timeline.map((s) => [s.name, s.outcome])).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: source, snapshot or restore window, app', 'succeeded'],
        ['Lock resources', 'failed'],
      ]);
      // No safety snapshot, no restored instance, the app as it was.
      expect(await scheduledActivities(restoring)).not.toContain('createDbSnapshot');
      expect(await snapshotsOf(aws, SECONDARY_REGION, env.replica.id)).toEqual(snapshotsBefore);
      expect(await instancesWithPrefix(aws, SECONDARY_REGION, `${env.replica.id}-restored`)).toEqual([]);
      expect(await serviceState(aws, app)).toMatchObject({ desiredCount: 2, taskDefinition: app.revisions.at(-1) });
      // Its locks, in order: the app's service (taken, then let go), the replica (busy), the restored name (tried at
      // the same time as the others, and let go with the refusal).
      const locks = failure.report?.timeline.find((s) => s.name === 'Lock resources')?.details?.locks as string[];
      expect(locks).toEqual([
        lockOf(app),
        replicaLock,
        expect.stringMatching(new RegExp(`^${esc(replicaLock)}-restored-\\d{14}$`)),
      ]);
      expect((await lockClosed(client, lockOf(app))).status).toMatch(/^(COMPLETED|TERMINATED)$/);
      expect((await lockClosed(client, locks[2]!)).status).toMatch(/^(COMPLETED|TERMINATED)$/);
      // The failover still holds its replica; rejected, it lets it go.
      expect(await describeLock(client, replicaLock)).toMatchObject({ status: 'RUNNING', parent: failoverId });
      await failover.signal(rejectSignal, { by: 'bob', reason: 'drill over' });
      expect((await expectFailure(client, failoverId)).type).toBe(FailureType.ApprovalRejected);
      expect((await lockClosed(client, replicaLock)).status).toBe('TERMINATED');
    });
  });
});

describe('resource locks where the organisation policy says to wait', () => {
  /** A worker whose organisation policy lets every run wait up to `wait` for a resource another run holds. */
  const waiting = (wait: string) => ({
    activities: (real: Record<string, unknown>) => ({
      ...real,
      organisationPolicy: async () => ({ source: 'test policy', rules: { locks: { wait } } }),
    }),
  });

  it('the second run waits in a visible step, then runs once the first has ended', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const scale = await startScale(client, taskQueue, svc);
      const rollback = await startRollback(client, taskQueue, rollbackInput(svc));
      const queued = await waitForStatus(client, rollback.workflowId, (s) => s.state === 'waiting');
      const step = `Wait for ECS service ${svc.region}/${svc.cluster}/${svc.service} (held by ${scale.workflowId})`;
      expect(queued.currentStep).toBe(step);
      expect(queued.steps.find((s) => s.name === step)).toMatchObject({
        outcome: 'running',
        details: { lock: lockOf(svc), heldBy: expect.stringMatching(/^emergencyScale workflow /) },
      });
      // The Temporal UI's current details say it too.
      const meta = await rollback.handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(meta.currentDetails).toContain(`**waiting** · ${step}`);
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);

      await scale.handle.signal(approveSignal, { by: 'bob' });
      expect(((await scale.handle.result()) as RunbookReport).outcome).toBe('succeeded');
      const report = (await rollback.handle.result()) as RunbookReport;
      expect(report.outcome).toBe('succeeded');
      expect(report.timeline.map((s) => [s.name, s.outcome]).slice(0, 4)).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: find the revision to roll back to', 'succeeded'],
        ['Lock resources', 'succeeded'],
        [step, 'succeeded'],
      ]);
      expect(await serviceState(aws, svc)).toMatchObject({ desiredCount: 5, taskDefinition: svc.revisions[0] });
    }, waiting('2m'));
  });

  it('a wait that runs out fails ResourceBusy, saying how long it waited', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const before = await serviceState(aws, svc);
      const scale = await startScale(client, taskQueue, svc);
      const rollback = await startRollback(client, taskQueue, rollbackInput(svc));
      const failure = await expectFailure(client, rollback.workflowId);
      expect(failure.type).toBe(FailureType.ResourceBusy);
      expect(failure.message).toMatch(
        new RegExp(
          `^another run is still changing ECS service ${esc(`${svc.region}/${svc.cluster}/${svc.service}`)} after ` +
            `this run waited 6s for it: emergencyScale workflow ${esc(scale.workflowId)}, started \\S+Z \\(lock ` +
            `${esc(lockOf(svc))}\\); wait for it to finish or stop it first\\. Nothing was changed\\.$`,
        ),
      );
      expect(await serviceState(aws, svc)).toEqual(before);
      await scale.handle.signal(rejectSignal, { by: 'bob', reason: 'done' });
      await expectFailure(client, scale.workflowId);
    }, waiting('6s'));
  });
});
