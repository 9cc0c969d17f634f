// emergencyScale end to end: real dev server, real worker, AWS state read back through the SDK.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepScaledSignal, approveSignal, rejectSignal } from '../../api/definitions';
import type { EmergencyScaleInput, EmergencyScaleResult } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { makeService, serviceState } from '../helpers/aws-fixtures';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('es-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = () => ({ url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });

describe('emergencyScale', () => {
  it('scales after a second person approves, waits stable, verifies health', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const input: EmergencyScaleInput = {
        region: svc.region,
        cluster: svc.cluster,
        service: svc.service,
        desiredCount: 5,
        reason: 'traffic spike',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
        health: health(),
      };
      const workflowId = uid('es');
      const handle = await client.workflow.start('emergencyScale', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain('from 2 to 5');
      expect((await serviceState(aws, svc)).desiredCount).toBe(2); // nothing changed before approval

      await handle.signal(approveSignal, { by: 'alice' }); // the initiator: refused
      await handle.signal(approveSignal, { by: 'bob', comment: 'go' });
      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;

      expect(report.outcome).toBe('succeeded');
      expect(report.result?.previousCount).toBe(2);
      expect(report.approvals.map((a) => [a.by, a.accepted])).toEqual([
        ['alice', false],
        ['bob', true],
      ]);
      expect(report.approvals[0]?.refusal).toContain('started this run and a second person is required');
      const after = await serviceState(aws, svc);
      expect(after.desiredCount).toBe(5);
      expect(after.runningCount).toBe(5);
    });
  });

  it('rejection changes nothing; the error names who rejected', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 3 });
      const workflowId = uid('es');
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId,
        args: [{ ...svc.ref, desiredCount: 8, reason: 'spike', initiatedBy: 'alice', approval: { required: true } }],
      });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      await handle.signal(rejectSignal, { by: 'bob', reason: 'not the bottleneck' });
      const failure = await expectFailure(client, workflowId);
      expect(failure.message).toContain('rejected by bob: not the bottleneck');
      expect(failure.message).toContain('Nothing was changed');
      expect((await serviceState(aws, svc)).desiredCount).toBe(3);
    });
  });

  it('scales back after scaleBackAfter, or keeps the count on keepScaled', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const a = await makeService(aws, { desiredCount: 2 });
      const b = await makeService(aws, { desiredCount: 2 });
      const base = { desiredCount: 4, reason: 'spike', scaleBackAfter: '2s', approval: { required: false } };
      const ha = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...a.ref, ...base }],
      });
      const hb = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...b.ref, ...base, scaleBackAfter: '1h' }],
      });
      await waitForStatus(client, hb.workflowId, (s) => s.state === 'waiting');
      expect((await serviceState(aws, b)).desiredCount).toBe(4);
      await hb.signal(keepScaledSignal, { by: 'carol', reason: 'still busy' });

      const ra = (await ha.result()) as RunbookReport<EmergencyScaleResult>;
      const rb = (await hb.result()) as RunbookReport<EmergencyScaleResult>;
      expect(ra.result?.scaleBack?.outcome).toBe('scaled-back');
      expect((await serviceState(aws, a)).desiredCount).toBe(2);
      expect(rb.result?.scaleBack).toMatchObject({ outcome: 'kept', by: 'carol' });
      expect((await serviceState(aws, b)).desiredCount).toBe(4);
    });
  });
});
