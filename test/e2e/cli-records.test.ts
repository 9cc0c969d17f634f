// What the CLI says about runs that ended, runs started under random IDs, schedules and filters: the records an
// on-call engineer reads must say what really happened (issue: "records that say the wrong thing").
import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { emergencyScaleWorkflowId } from '../../api/runbooks/emergency-scale';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { cli } from '../helpers/cli';
import { closeConnections, uid, waitForStatus, withWorker } from '../helpers/temporal';

beforeAll(() => {
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
});
afterAll(closeConnections);

const scaleInput = (ref: { region: string; cluster: string; service: string }, extra: object = {}) => ({
  ...ref,
  desiredCount: 3,
  reason: 'cli records test',
  initiatedBy: 'alice',
  approval: { required: true, timeout: '10m' },
  ...extra,
});

describe('runs that ended, and runs started under a random ID', () => {
  it('approve/reject on a completed or terminated run say it has ended; list does not call a terminated run awaiting approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      // Completed: a run that needed no approval.
      const done = await makeService(aws);
      const doneId = emergencyScaleWorkflowId(done.ref);
      await client.workflow.execute('emergencyScale', {
        taskQueue,
        workflowId: doneId,
        args: [scaleInput(done.ref, { approval: { required: false } })],
      });
      const late = await cli('approve', doneId, '--by', 'bob');
      expect(late.code).toBe(1);
      expect(late.err).toBe(
        `error: refused: ${doneId} has ended (completed, runbook state succeeded); there is nothing to approve. ` +
          `See what happened: npm run runbook -- report ${doneId}`,
      );
      expect((await cli('status', doneId)).code).toBe(0);

      // Terminated while waiting for approval: not "awaiting-approval" for ever.
      const stuck = await makeService(aws);
      const stuckId = emergencyScaleWorkflowId(stuck.ref);
      await client.workflow.start('emergencyScale', { taskQueue, workflowId: stuckId, args: [scaleInput(stuck.ref)] });
      await waitForStatus(client, stuckId, (s) => s.state === 'awaiting-approval');
      await client.workflow.getHandle(stuckId).terminate('cli records test');
      const reject = await cli('reject', stuckId, '--by', 'bob', '--reason', 'too late');
      expect(reject.code).toBe(1);
      expect(reject.err).toMatch(new RegExp(`^error: refused: ${stuckId} has ended \\(terminated`));

      const awaiting = await cli('list', '--status', 'awaiting-approval', '--json', '--limit', '500');
      expect(awaiting.code).toBe(0);
      expect((JSON.parse(awaiting.out) as { workflowId: string }[]).map((r) => r.workflowId)).not.toContain(stuckId);
      const all = await cli('list', '--target', `${stuck.region}/${stuck.cluster}/${stuck.service}`, '--json');
      expect(JSON.parse(all.out)).toMatchObject([
        { workflowId: stuckId, execution: 'TERMINATED', state: 'terminated (was awaiting-approval)' },
      ]);
    });
  });

  it('a run started under a random ID is found through its lock: approve, status and the start refusal', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const derived = emergencyScaleWorkflowId(svc.ref);
      const randomId = `ui-started-${randomUUID()}`;
      await client.workflow.start('emergencyScale', { taskQueue, workflowId: randomId, args: [scaleInput(svc.ref)] });
      await waitForStatus(client, randomId, (s) => s.state === 'awaiting-approval');

      const status = await cli('status', derived);
      expect(status.code).toBe(0);
      expect(status.out).toContain(`${derived} is a lock held by ${randomId}`);
      expect(status.out).toContain('WAITING FOR APPROVAL (0 of 1)');

      const approved = await cli('approve', derived, '--by', 'bob');
      expect(approved.code).toBe(0);
      expect(approved.out).toBe(`approved (1 of 1) (the run holding ${derived})`);
      await client.workflow.getHandle(randomId).result();
      expect((await serviceState(aws, svc)).desiredCount).toBe(3);
    });
  });
});

describe('report of runs without a report of their own', () => {
  it('a cancelled run and a dry run: the end is when they ended, the same on every call; a dry run says so', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const cancelledId = uid('cancelled');
      await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: cancelledId,
        args: [scaleInput(svc.ref)],
      });
      await waitForStatus(client, cancelledId, (s) => s.state === 'awaiting-approval');
      await client.workflow.getHandle(cancelledId).cancel();
      await waitForStatus(client, cancelledId, (s) => s.state === 'failed');
      const closed = (await client.workflow.getHandle(cancelledId).describe()).closeTime!;
      const first = await cli('report', cancelledId);
      await new Promise((r) => setTimeout(r, 1_100));
      const second = await cli('report', cancelledId);
      expect(first.code).toBe(0);
      expect(second.out).toBe(first.out);
      expect(first.out).toContain(
        `| ${closed.toISOString().slice(0, 10)} ${closed.toISOString().slice(11, 19)} | Runbook finished: CANCELLED`,
      );

      const dryId = uid('dry');
      await client.workflow.execute('emergencyScale', {
        taskQueue,
        workflowId: dryId,
        args: [scaleInput(svc.ref, { dryRun: true })],
      });
      const dry = await cli('report', dryId);
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await cli('report', dryId)).out).toBe(dry.out);
      expect(dry.out).toContain('- **Status:** Dry run: nothing was changed');
      expect(dry.out).not.toContain('COMPLETED (succeeded)');
      expect(dry.out).toContain('- Scale the service (ecs:UpdateService)');
    });
  });
});

describe('filters and schedules refuse what they cannot do', () => {
  it('list: an unknown --status or --runbook is refused, naming the allowed values', async () => {
    const status = await cli('list', '--status', 'bogus');
    expect(status.code).toBe(2);
    expect(status.err).toBe(
      'error: unknown --status bogus; one of: validating, running, awaiting-approval, waiting, compensating, ' +
        'needs-operator, succeeded, failed',
    );
    const runbook = await cli('list', '--runbook', 'emergencyscale');
    expect(runbook.code).toBe(2);
    expect(runbook.err).toMatch(/^error: unknown --runbook emergencyscale \(did you mean emergencyScale\?\); one of: /);
  });

  it('schedules: --every with --cron is refused; pause without a note says who paused; trigger of a paused one is refused', async () => {
    const id = uid('schedule');
    const both = await cli('schedules', 'apply', '--id', id, '--every', '24h', '--cron', '0 9 * * 1');
    expect(both).toMatchObject({
      code: 2,
      err: 'error: give --every or --cron, not both: a schedule runs on one of them',
    });
    await withWorker(async ({ client }) => {
      await expect(client.schedule.getHandle(id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
      expect((await cli('schedules', 'apply', '--id', id, '--every', '24h')).code).toBe(0);
      try {
        expect((await cli('schedules', 'pause', id)).out).toBe(`${id} paused`);
        const note = (await client.schedule.getHandle(id).describe()).state.note;
        expect(note).toMatch(/^paused by \S+ with runbook schedules pause$/);

        const refused = await cli('schedules', 'trigger', id);
        expect(refused.code).toBe(1);
        expect(refused.err).toBe(
          `error: refused: schedule ${id} is paused (${note}); nothing was started. Unpause it ` +
            `(npm run runbook -- schedules unpause) or trigger anyway with --even-if-paused`,
        );
        expect((await client.schedule.getHandle(id).describe()).info.recentActions).toHaveLength(0);

        const forced = await cli('schedules', 'trigger', id, '--even-if-paused');
        expect(forced.code).toBe(0);
        expect(forced.out).toContain(`note: ${id} is paused (${note}); triggered anyway`);

        await cli('schedules', 'unpause', id);
        expect((await client.schedule.getHandle(id).describe()).state.note).toMatch(
          /^unpaused by \S+ with runbook schedules unpause$/,
        );
      } finally {
        const handle = client.schedule.getHandle(id);
        for (const a of (await handle.describe()).info.recentActions) {
          await client.workflow
            .getHandle(a.action.workflow.workflowId)
            .terminate('test cleanup')
            .catch(() => undefined);
        }
        await handle.delete();
      }
    });
  });
});
