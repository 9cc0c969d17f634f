// What every runbook shares, end to end: dry run, input validation, one open run per resource, compensation on
// cancellation, approval quorum. Each case checks the AWS state read back through the SDK, not the run's own word.
import { Context } from '@temporalio/activity';
import { CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { approveSignal, approveUpdate, rejectSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import { dnsFailoverWorkflowId } from '../../api/runbooks/dns-failover';
import { ecsRollbackWorkflowId } from '../../api/runbooks/ecs-rollback';
import { emergencyScaleWorkflowId, type EmergencyScaleResult } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { makeService, makeZone, serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import { activityInputsAfterCancel } from '../helpers/history';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('common-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = (a: DemoApp = app) => ({ url: a.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });
const awaitingApproval = (s: { state: string }) => s.state === 'awaiting-approval';

type RunbookType = 'emergencyScale' | 'ecsRollback' | 'dnsFailover';
const RUNBOOKS: RunbookType[] = ['emergencyScale', 'ecsRollback', 'dnsFailover'];

/** One runbook's target resource and a valid input for it that stops at an approval gate (alice started it). */
interface Subject {
  input: Record<string, unknown>;
  /** The deterministic workflow ID for the resource (the lock). */
  lockId: string;
  /** The resource's AWS state, read through the SDK. */
  state(): Promise<unknown>;
  /** The mutating action a dry run must plan (first entry of the plan). */
  plannedAction: { step: string; action: string; params: Record<string, unknown> };
}

const approvalByBob = { required: true, timeout: '1m' };

async function makeSubject(type: RunbookType, aws: AwsClients): Promise<Subject> {
  if (type === 'emergencyScale') {
    const svc = await makeService(aws, { desiredCount: 2 });
    return {
      input: { ...svc.ref, desiredCount: 5, reason: 'spike', initiatedBy: 'alice', approval: approvalByBob },
      lockId: emergencyScaleWorkflowId(svc.ref),
      state: () => serviceState(aws, svc),
      plannedAction: {
        step: 'Scale the service',
        action: 'ecs:UpdateService',
        params: { ...svc.ref, desiredCount: 5, from: 2, reason: 'spike' },
      },
    };
  }
  if (type === 'ecsRollback') {
    const svc = await makeService(aws);
    return {
      input: { ...svc.ref, reason: 'bad deploy', initiatedBy: 'alice', approval: approvalByBob, health: health() },
      lockId: ecsRollbackWorkflowId(svc.ref),
      state: () => serviceState(aws, svc),
      plannedAction: {
        step: 'Roll back the service',
        action: 'ecs:UpdateService',
        params: { ...svc.ref, taskDefinition: svc.revisions[0], from: svc.revisions[1] },
      },
    };
  }
  const zone = await makeZone(aws, (z) => [
    { Name: `api.${z}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
    { Name: `www.${z}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }] },
  ]);
  const record = { name: zone.recordName, type: 'A' };
  return {
    input: {
      hostedZone: zone.zoneName,
      record,
      target: { values: ['198.51.100.1'], ttl: 30 },
      verify: health(),
      reason: 'primary down',
      initiatedBy: 'alice',
      approval: approvalByBob,
    },
    lockId: dnsFailoverWorkflowId({ record }),
    state: () => zoneRecords(aws, zone.zoneId),
    plannedAction: {
      step: 'Switch DNS',
      action: 'route53:ChangeResourceRecordSets',
      params: { hostedZoneId: zone.zoneId, action: 'UPSERT', from: '192.0.2.1', to: '198.51.100.1' },
    },
  };
}

function without(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _drop, ...rest } = obj;
  return rest;
}

/** Malformed variants of a subject's input, each with the field its error must name. */
const MALFORMED: Record<
  RunbookType,
  { name: string; input(valid: Record<string, unknown>): unknown; field: string }[]
> = {
  emergencyScale: [
    { name: 'wrong type', input: (v) => ({ ...v, desiredCount: 'five' }), field: 'input.desiredCount' },
    { name: 'missing field', input: (v) => without(v, 'reason'), field: 'input.reason' },
    { name: 'unknown key', input: (v) => ({ ...v, desiredCout: 5 }), field: 'desiredCout' },
    { name: 'above maxCount', input: (v) => ({ ...v, desiredCount: 50 }), field: 'input.desiredCount' },
    {
      name: 'second person without initiator',
      input: (v) => without(v, 'initiatedBy'),
      field: 'input.initiatedBy',
    },
  ],
  ecsRollback: [
    { name: 'wrong type', input: (v) => ({ ...v, toRevision: 3 }), field: 'input.toRevision' },
    { name: 'missing field', input: (v) => without(v, 'service'), field: 'input.service' },
    { name: 'unknown key', input: (v) => ({ ...v, revision: 'f:1' }), field: 'revision' },
    { name: 'bad nested field', input: (v) => ({ ...v, health: { url: 'not a url' } }), field: 'input.health.url' },
    {
      name: 'bad approval policy',
      input: (v) => ({ ...v, approval: { required: true, quorum: 0 } }),
      field: 'input.approval.quorum',
    },
  ],
  dnsFailover: [
    {
      name: 'wrong enum',
      input: (v) => ({ ...v, record: { ...(v.record as object), type: 'MX' } }),
      field: 'input.record.type',
    },
    { name: 'missing field', input: (v) => without(v, 'verify'), field: 'input.verify' },
    { name: 'unknown key', input: (v) => ({ ...v, zone: 'x' }), field: 'zone' },
    {
      name: 'bad target',
      input: (v) => ({ ...v, target: { alias: { dnsName: 'dr.example.test' } } }),
      field: 'input.target',
    },
    { name: 'wrong type', input: (v) => ({ ...v, verify: { ...health(), consecutive: '2' } }), field: 'consecutive' },
  ],
};

/** The first field every runbook requires (what an empty input must name). */
const FIRST_FIELD: Record<RunbookType, string> = {
  emergencyScale: 'input.region',
  ecsRollback: 'input.region',
  dnsFailover: 'input.hostedZone',
};

describe('dry run', () => {
  it.each(RUNBOOKS)('%s: returns the plan and changes nothing, even with approval required', async (type) => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const subject = await makeSubject(type, aws);
      const before = await subject.state();
      const input = {
        ...subject.input,
        dryRun: true,
        ...(type === 'emergencyScale' ? { scaleBackAfter: '1h' } : {}),
      };
      const handle = await client.workflow.start(type, { taskQueue, workflowId: uid('dry'), args: [input] });
      const report = (await handle.result()) as RunbookReport;
      expect(report.outcome).toBe('dry-run');
      expect(report.result).toBeUndefined();
      expect(report.plan?.length).toBeGreaterThan(0);
      expect(report.plan?.[0]).toMatchObject(subject.plannedAction);
      if (type === 'emergencyScale') {
        expect(report.plan?.[1]).toMatchObject({ step: 'Scale back', params: { desiredCount: 2, after: '1h' } });
      }
      // It stopped before the approval gate and ran no mutating step.
      expect(report.timeline.some((s) => s.mutating)).toBe(false);
      expect(report.timeline.some((s) => s.name === 'Approval')).toBe(false);
      expect(report.approvals).toEqual([]);
      expect(await subject.state()).toEqual(before);
    });
  });
});

describe('malformed input', () => {
  it.each(RUNBOOKS)('%s: fails with InvalidInput naming the field; AWS unchanged', async (type) => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const subject = await makeSubject(type, aws);
      const before = await subject.state();
      const cases = [
        ...MALFORMED[type].map((c) => ({ name: c.name, args: [c.input(subject.input)], field: c.field })),
        // As the Temporal UI can send them: an empty object, or no input at all.
        { name: 'empty object', args: [{}], field: FIRST_FIELD[type] },
        { name: 'no input', args: [], field: FIRST_FIELD[type] },
      ];
      const started = await Promise.all(
        cases.map(async (c) => {
          const workflowId = uid('bad');
          await client.workflow.start(type, { taskQueue, workflowId, args: c.args });
          return { ...c, workflowId };
        }),
      );
      for (const c of started) {
        const failure = await expectFailure(client, c.workflowId);
        expect(failure.type, c.name).toBe(FailureType.InvalidInput);
        expect(failure.message, c.name).toContain('invalid input');
        expect(failure.message, c.name).toContain(c.field);
        expect(failure.message, c.name).toContain('Nothing was changed');
        const status = await client.workflow.getHandle(c.workflowId).query(statusQuery);
        expect(status.state, c.name).toBe('failed');
        expect(status.steps, c.name).toEqual([]);
      }
      expect(await subject.state()).toEqual(before);
    });
  });
});

describe('one open run per resource', () => {
  it.each(RUNBOOKS)('%s: a second start under the derived workflow ID is refused by the server', async (type) => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const subject = await makeSubject(type, aws);
      const before = await subject.state();
      const first = await client.workflow.start(type, {
        taskQueue,
        workflowId: subject.lockId,
        args: [subject.input],
      });
      await waitForStatus(client, first.workflowId, awaitingApproval);

      const second = client.workflow.start(type, {
        taskQueue,
        workflowId: subject.lockId,
        args: [{ ...subject.input, approval: { required: false } }],
        workflowIdConflictPolicy: 'FAIL',
      });
      await expect(second).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

      // Mixed: the same resource started from the UI (random ID) while the derived-ID run is open.
      const uiId = uid('ui');
      await client.workflow.start(type, {
        taskQueue,
        workflowId: uiId,
        args: [{ ...subject.input, approval: { required: false } }],
      });
      const busy = await expectFailure(client, uiId);
      expect(busy.type).toBe(FailureType.ResourceBusy);
      expect(busy.message).toContain(`${type} workflow ${subject.lockId}`);

      // The first run is untouched and still waiting; calling it off changes nothing.
      expect((await first.describe()).runId).toBe(first.firstExecutionRunId);
      await first.signal(rejectSignal, { by: 'alice', reason: 'test cleanup' });
      const failure = await expectFailure(client, first.workflowId);
      expect(failure.type).toBe(FailureType.ApprovalRejected);
      expect(await subject.state()).toEqual(before);
    });
  });

  it.each(RUNBOOKS)(
    '%s: a second run under a random workflow ID fails with ResourceBusy naming the first run',
    async (type) => {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const subject = await makeSubject(type, aws);
        const before = await subject.state();
        const firstId = uid('first');
        const first = await client.workflow.start(type, { taskQueue, workflowId: firstId, args: [subject.input] });
        await waitForStatus(client, firstId, awaitingApproval);
        // The first run holds the resource through a lock workflow under the derived ID.
        const lock = await client.workflow.getHandle(subject.lockId).describe();
        expect(lock.type).toBe('resourceLock');
        expect(lock.parentExecution?.workflowId).toBe(firstId);

        // The second run needs no approval: had it not been stopped by the lock, it would change AWS at once.
        const secondId = uid('second');
        await client.workflow.start(type, {
          taskQueue,
          workflowId: secondId,
          args: [{ ...subject.input, approval: { required: false } }],
        });
        const failure = await expectFailure(client, secondId);
        expect(failure.type).toBe(FailureType.ResourceBusy);
        expect(failure.message).toContain(firstId);
        expect(failure.message).toContain('Nothing was changed');
        expect(failure.report?.timeline.map((s) => [s.name, s.outcome])).toEqual([['Acquire resource', 'failed']]);
        expect(await subject.state()).toEqual(before);

        // The first run is still waiting for its approval; clean it up.
        expect((await first.query(statusQuery)).state).toBe('awaiting-approval');
        await first.signal(rejectSignal, { by: 'alice', reason: 'test cleanup' });
        await expectFailure(client, firstId);
        expect(await subject.state()).toEqual(before);

        // Once the first run has closed, its lock goes with it and the resource is free again.
        await vi.waitFor(
          async () =>
            expect((await client.workflow.getHandle(subject.lockId).describe()).status.name).toBe('TERMINATED'),
          { timeout: 10_000, interval: 100 },
        );
        // (A dry run would not prove it: dry runs change nothing and take no lock.)
        const third = await client.workflow.start(type, { taskQueue, workflowId: uid('third'), args: [subject.input] });
        await waitForStatus(client, third.workflowId, (s) => s.state === 'awaiting-approval');
        await third.signal(rejectSignal, { by: 'alice', reason: 'test cleanup' });
        await expectFailure(client, third.workflowId);
      });
    },
  );

  it('the ResourceBusy message says "Nothing was changed" once', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const subject = await makeSubject('emergencyScale', aws);
      const first = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('first'),
        args: [subject.input],
      });
      try {
        await waitForStatus(client, first.workflowId, awaitingApproval);
        const secondId = uid('second');
        await client.workflow.start('emergencyScale', { taskQueue, workflowId: secondId, args: [subject.input] });
        const failure = await expectFailure(client, secondId);
        expect(failure.type).toBe(FailureType.ResourceBusy);
        expect(failure.message.match(/Nothing was changed/g)).toHaveLength(1);
      } finally {
        await first.terminate('test cleanup');
      }
    });
  });
});

describe('cancellation', () => {
  // The emergencyScale compensation exists only between 'Set desired count' and the end of 'Wait until the service
  // is stable' (it is cleared once the new count is stable, before the health check). The emulator is stable at
  // once, so the test holds that one wait open until the workflow cancels it; every other activity is real.
  it('emergencyScale: cancelling while the new count settles restores the previous count', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        try {
          const svc = await makeService(aws, { desiredCount: 2 });
          const workflowId = uid('cancel');
          const handle = await client.workflow.start('emergencyScale', {
            taskQueue,
            workflowId,
            args: [{ ...svc.ref, desiredCount: 6, reason: 'spike', health: health() }],
          });
          await waitForStatus(client, workflowId, (s) => s.currentStep === 'Wait until the service is stable');
          expect((await serviceState(aws, svc)).desiredCount).toBe(6); // the mutation happened

          await handle.cancel();
          const err = await handle.result().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(WorkflowFailedError);
          expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);

          // AWS: back to the recorded count.
          const after = await serviceState(aws, svc);
          expect(after.desiredCount).toBe(2);
          expect(after.runningCount).toBe(2);

          // The run's record: the compensation ran and succeeded, and says so.
          const status = await handle.query(statusQuery);
          expect(status.state).toBe('failed');
          expect(status.compensations).toMatchObject([
            { name: `restore desired count of ${svc.service} to 2`, outcome: 'succeeded' },
          ]);
          expect(status.error).toContain('cancelled');
          expect(status.error).toContain(`Compensated: restore desired count of ${svc.service} to 2`);
          expect(status.steps.find((s) => s.name === 'Verify health')).toBeUndefined();
          // History: after the cancel request the run scheduled the restoring update.
          expect(await activityInputsAfterCancel(handle, 'updateService')).toEqual([{ ...svc.ref, desiredCount: 2 }]);
        } finally {
          release();
        }
      },
      {
        activities: (real) => ({
          ...real,
          async waitForServiceStable(input: Parameters<typeof real.waitForServiceStable>[0]) {
            if (input.expect?.desiredCount !== 6) return real.waitForServiceStable(input);
            const ctx = Context.current();
            const beat = setInterval(() => ctx.heartbeat(), 200);
            try {
              await Promise.race([ctx.cancelled, released]);
            } finally {
              clearInterval(beat);
            }
            throw new Error('held wait released by the test');
          },
        }),
      },
    );
  });

  it('emergencyScale: cancelling during the health check keeps the new count (past the point of no return)', async () => {
    const sick = await startDemoApp('common-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws, { desiredCount: 2 });
        const workflowId = uid('cancel');
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, desiredCount: 4, reason: 'spike', health: { ...health(sick), timeout: '5s' } }],
        });
        await waitForStatus(client, workflowId, (s) => s.currentStep === 'Verify health');
        await handle.cancel();
        const err = await handle.result().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
        sick.setHealthy(true); // lets the abandoned probe finish, so the worker shuts down at once
        expect((await serviceState(aws, svc)).desiredCount).toBe(4);
        const status = await handle.query(statusQuery);
        expect(status.compensations).toEqual([]);
        expect(status.error).toBe('cancelled.');
      });
    } finally {
      await sick.close();
    }
  });
  it('dnsFailover: cancelling during verification restores the saved records exactly', async () => {
    const sick = await startDemoApp('common-sick-dns');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const subject = await makeSubject('dnsFailover', aws);
        const before = await subject.state();
        const workflowId = uid('cancel');
        const handle = await client.workflow.start('dnsFailover', {
          taskQueue,
          workflowId,
          args: [{ ...subject.input, approval: { required: false }, verify: { ...health(sick), timeout: '5s' } }],
        });
        await waitForStatus(client, workflowId, (s) => s.currentStep === 'Verify the target is healthy');
        expect(await subject.state()).not.toEqual(before); // the record was switched

        await handle.cancel();
        const err = await handle.result().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
        sick.setHealthy(true); // lets the abandoned probe finish, so the worker shuts down at once
        expect(await subject.state()).toEqual(before);
        const status = await handle.query(statusQuery);
        expect(status.compensations).toHaveLength(1);
        expect(status.compensations[0]).toMatchObject({ outcome: 'succeeded' });
        expect(status.error).toContain('cancelled. Compensated: restore the saved');
      });
    } finally {
      await sick.close();
    }
  });
});

describe('approval quorum', () => {
  const quorumInput = (ref: Record<string, unknown>) => ({
    ...ref,
    desiredCount: 4,
    reason: 'spike',
    initiatedBy: 'alice',
    approval: { required: true, approvers: ['bob', 'carol'], quorum: 2, timeout: '1m' },
  });
  const refusalOf = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'the update should have been refused').toBeDefined();
    const messages: string[] = [];
    for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
      if (e.message) messages.push(e.message);
    }
    return messages.join(' | ');
  };

  it('needs two distinct listed approvers: unlisted and duplicate approvals are refused and recorded', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const workflowId = uid('quorum');
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId,
        args: [quorumInput(svc.ref)],
      });
      const waiting = await waitForStatus(client, workflowId, awaitingApproval);
      expect(waiting.pendingApproval).toMatchObject({ quorum: 2, approvers: ['bob', 'carol'], approvedBy: [] });

      const dave = await refusalOf(handle.executeUpdate(approveUpdate, { args: [{ by: 'dave' }] }));
      expect(dave).toContain('refused');
      expect(dave).toContain('dave is not an allowed approver');

      const bob = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      expect(bob).toMatchObject({ gateState: 'pending', approvals: 1, quorum: 2 });
      expect(bob.message).toContain('approval counted (1 of 2)');
      // One approval of two: still waiting, nothing changed.
      expect((await handle.query(statusQuery)).state).toBe('awaiting-approval');
      expect((await serviceState(aws, svc)).desiredCount).toBe(2);

      const bobAgain = await refusalOf(handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] }));
      expect(bobAgain).toContain('refused');
      expect(bobAgain).toContain('bob has already approved');
      expect((await serviceState(aws, svc)).desiredCount).toBe(2);

      const carol = await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
      expect(carol).toMatchObject({ gateState: 'approved', approvals: 2, quorum: 2 });
      expect(carol.message).toContain('approved (2 of 2)');

      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.approvals.map((a) => [a.by, a.accepted])).toEqual([
        ['dave', false],
        ['bob', true],
        ['bob', false],
        ['carol', true],
      ]);
      expect(report.timeline.find((s) => s.name === 'Approval')?.details).toMatchObject({
        approvedBy: ['bob', 'carol'],
      });
      expect((await serviceState(aws, svc)).desiredCount).toBe(4);
    });
  });

  it('an approval signalled before the gate opens is kept and counts', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const workflowId = uid('early');
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId,
        args: [quorumInput(svc.ref)],
      });
      await handle.signal(approveSignal, { by: 'bob', comment: 'early' });

      const waiting = await waitForStatus(client, workflowId, awaitingApproval);
      // Recorded before any gate existed, and counted once the gate opened.
      expect(waiting.approvals).toHaveLength(1);
      expect(waiting.approvals[0]).toMatchObject({ by: 'bob', accepted: true, via: 'signal', comment: 'early' });
      expect(waiting.approvals[0]?.gate).toBeUndefined();
      expect(waiting.pendingApproval?.approvedBy).toEqual(['bob']);
      expect((await serviceState(aws, svc)).desiredCount).toBe(2);

      const carol = await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
      expect(carol.message).toContain('approved (2 of 2)');
      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
      expect(report.outcome).toBe('succeeded');
      expect((await serviceState(aws, svc)).desiredCount).toBe(4);
    });
  });
});
