// Chat notifications end to end: a local HTTP receiver stands in for a Slack incoming webhook and records every
// message a run sends — exactly one per event, a single reminder, and a failing webhook never fails the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveSignal } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { RunbookReport } from '../../api/status';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { notifyingTo, startReceiver, type Receiver } from '../helpers/notify-receiver';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await closeConnections();
});

describe('chat notifications', () => {
  it('a run that needs approval sends: approval needed, approved, resolved — once each', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    const before = receiver.messages.length;
    await withWorker(
      async ({ client, taskQueue }) => {
        const workflowId = uid('notify');
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [
            {
              ...svc.ref,
              desiredCount: 3,
              reason: 'notify test',
              initiatedBy: 'alice',
              approval: { required: true, timeout: '1m' },
            },
          ],
        });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        await handle.signal(approveSignal, { by: 'bob' });
        expect(((await handle.result()) as RunbookReport).outcome).toBe('succeeded');
        const mine = receiver.messages.slice(before).filter((m) => m.includes(workflowId) || m.includes(svc.service));
        expect(mine).toHaveLength(3);
        expect(mine[0]).toMatch(/^⏳ APPROVAL NEEDED: emergencyScale on us-east-1\//);
        expect(mine[0]).toContain('Who may approve: anyone except alice');
        expect(mine[0]).toContain(`npm run runbook -- approve ${workflowId} --by <your name>`);
        expect(mine[0]).toContain(
          `UI: http://ui.example/namespaces/default/workflows/${encodeURIComponent(workflowId)}`,
        );
        expect(mine[1]).toMatch(/^✅ APPROVED by bob: emergencyScale/);
        expect(mine[2]).toMatch(/^✅ RESOLVED: emergencyScale on .* completed in /);
        expect((await serviceState(aws, svc)).desiredCount).toBe(3);
      },
      { activities: notifyingTo(receiver.url) },
    );
  });

  it('an approval that times out: one reminder at half the timeout, then timed out and failed', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    const before = receiver.messages.length;
    await withWorker(
      async ({ client, taskQueue }) => {
        const workflowId = uid('notify-timeout');
        await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [
            {
              ...svc.ref,
              desiredCount: 3,
              reason: 'timeout test',
              initiatedBy: 'alice',
              approval: { required: true, timeout: '4s' },
            },
          ],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.ApprovalTimedOut);
        const mine = receiver.messages.slice(before).filter((m) => m.includes(workflowId) || m.includes(svc.service));
        expect(mine.map((m) => m.split(':')[0])).toEqual([
          '⏳ APPROVAL NEEDED',
          '⏰ REMINDER',
          '⌛ APPROVAL TIMED OUT',
          '🔴 RUNBOOK FAILED',
        ]);
        expect((await serviceState(aws, svc)).desiredCount).toBe(2);
      },
      { activities: notifyingTo(receiver.url) },
    );
  });

  it('a webhook that fails does not fail the run', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    receiver.status = 500;
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const handle = await client.workflow.start('emergencyScale', {
            taskQueue,
            workflowId: uid('notify-500'),
            args: [{ ...svc.ref, desiredCount: 4, reason: 'webhook down' }],
          });
          expect(((await handle.result()) as RunbookReport).outcome).toBe('succeeded');
          expect((await serviceState(aws, svc)).desiredCount).toBe(4);
        },
        { activities: notifyingTo(receiver.url) },
      );
    } finally {
      receiver.status = 200;
    }
  });
});
