// regionalFailback end to end, after a real regionalFailover in an environment of its own: the DNS record sets come
// back exactly, the original region's service runs again on a revision pointing at the new primary (a replica of the
// promoted DB, created in the original region and promoted), and the secondary service goes back as it was.
import { afterAll, describe, expect, it } from 'vitest';
import { approveSignal, statusQuery } from '../../api/definitions';
import {
  regionalFailbackWorkflowId,
  regionalFailoverWorkflowId,
  type RegionalFailbackInput,
  type RegionalFailbackResult,
  type RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { RunbookReport } from '../../api/status';
import { startReplicaLagPublisher } from '../../scripts/lib/replica-lag';
import { serviceState, zoneRecords } from '../helpers/aws-fixtures';
import {
  PRIMARY_REGION,
  SECONDARY_REGION,
  dbState,
  fastHealth,
  listRevisions,
  makeFailoverEnv,
  readSecret,
  taskDefinitionEnv,
  type FailoverEnv,
} from '../helpers/failover-env';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

afterAll(closeConnections);

const failbackInput = (env: FailoverEnv, failoverWorkflowId: string): RegionalFailbackInput => ({
  failoverWorkflowId,
  health: { primaryApp: fastHealth(env.apps.primary), publicEndpoint: fastHealth(env.apps.public) },
  replicaTimeout: '30s',
  promoteTimeout: '30s',
  stableTimeout: '10s',
  insyncTimeout: '10s',
  reason: 'us-east-1 is healthy again',
  initiatedBy: 'alice',
  approval: { required: true, timeout: '1m' },
});

describe('regionalFailback', () => {
  it.each(['task-definition-env', 'secret'] as const)(
    '%s: after a failover, restores DNS exactly, the primary service on the new primary, the secondary as it was',
    async (mode) => {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const env = await makeFailoverEnv(aws);
        const before = await env.snapshot();

        // The failover (no approval: it is the failback under test here).
        const failoverInput = env.input({
          plannedSwitchover: { reason: 'DR drill' },
          ...(mode === 'secret' ? { appConfig: { mode, secretId: env.secret.name } } : {}),
        });
        const failoverId = regionalFailoverWorkflowId(failoverInput);
        const failover = await client.workflow.start('regionalFailover', {
          taskQueue,
          workflowId: failoverId,
          args: [failoverInput],
        });
        const fo = (await failover.result()) as RunbookReport<RegionalFailoverResult>;
        expect(fo.outcome).toBe('succeeded-with-warnings');
        expect(await zoneRecords(aws, env.zone.zoneId)).not.toEqual(before.dns);

        // RDS publishes ReplicaLag for the replica the failback creates in the original region; the emulator does not.
        const publisher = startReplicaLagPublisher(aws, { regions: [PRIMARY_REGION], intervalMs: 500 });
        try {
          const workflowId = regionalFailbackWorkflowId({ failoverWorkflowId: failoverId });
          const handle = await client.workflow.start('regionalFailback', {
            taskQueue,
            workflowId,
            args: [failbackInput(env, failoverId)],
          });
          const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
          // Before the approval only the new replica exists: a replica of the promoted DB, in the original region.
          const created = waiting.steps.find((s) => s.name.startsWith('Create a read replica'));
          const newId = String(created?.details?.dbInstance);
          expect(newId).toMatch(new RegExp(`^${env.primaryDb.id}-fb-\\d{12}$`));
          expect(await dbState(aws, PRIMARY_REGION, newId)).toMatchObject({
            status: 'available',
            replicaSource: env.replica.arn,
          });
          expect(await serviceState(aws, env.primaryService)).toMatchObject({ desiredCount: 0 });

          await handle.signal(approveSignal, { by: 'bob' });
          const report = (await handle.result()) as RunbookReport<RegionalFailbackResult>;
          expect(report.outcome).toBe('succeeded-with-warnings');
          expect(report.warnings).toEqual([
            expect.stringContaining(
              `${env.replica.id} in ${SECONDARY_REGION} is a standalone DB that no longer receives writes`,
            ),
            expect.stringContaining(`the old primary ${env.primaryDb.id} in us-east-1 (available) is stale`),
          ]);
          expect(report.timeline.map((s) => s.name)).toContain('Point of no return');
          expect(report.timeline.every((s) => s.outcome === 'succeeded')).toBe(true);
          const r = report.result!;
          expect(r.replicaLagSeconds).toBe(2); // what the publisher reports
          expect(r.incidentReport).toContain('## Timeline');

          // DNS: exactly the record sets from before the failover.
          expect(await zoneRecords(aws, env.zone.zoneId)).toEqual(before.dns);
          // The new primary: the replica created in the original region, promoted to standalone.
          const newPrimary = await dbState(aws, PRIMARY_REGION, newId);
          expect(newPrimary).toMatchObject({ status: 'available', replicaSource: null });
          expect(r.newPrimary).toEqual({ region: PRIMARY_REGION, dbInstance: newId, endpoint: newPrimary.endpoint });
          const primarySvc = await serviceState(aws, env.primaryService);
          expect(primarySvc).toMatchObject({ desiredCount: 2, runningCount: 2 });
          expect(r.primaryEcs).toMatchObject({ desiredCount: 2, taskDefinition: primarySvc.taskDefinition });
          if (mode === 'task-definition-env') {
            // The original region's service: back at 2 tasks, on a new revision whose DATABASE_HOST is the new primary.
            expect(await listRevisions(aws, PRIMARY_REGION, env.family)).toEqual([
              ...env.baseRevisions.primary,
              primarySvc.taskDefinition,
            ]);
            expect(await taskDefinitionEnv(aws, PRIMARY_REGION, primarySvc.taskDefinition, 'DATABASE_HOST')).toBe(
              newPrimary.endpoint,
            );
            expect(await readSecret(aws, PRIMARY_REGION, env.secret.name)).toEqual(before.secrets.primary);
          } else {
            // …on its original revision, the original region's secret now naming the new primary (password kept).
            expect(primarySvc.taskDefinition).toBe(before.primaryService.taskDefinition);
            expect(await listRevisions(aws, PRIMARY_REGION, env.family)).toEqual(before.revisions.primary);
            expect((await readSecret(aws, PRIMARY_REGION, env.secret.name)).value).toEqual({
              ...env.secret.value,
              host: newPrimary.endpoint,
            });
          }
          // The secondary service: back to 0 tasks on its original revision.
          expect(await serviceState(aws, env.secondaryService)).toEqual(before.secondaryService);
          expect(before.secondaryService).toMatchObject({
            desiredCount: 0,
            taskDefinition: env.baseRevisions.secondary.at(-1),
          });
          // The DB promoted by the failover stays standalone (the failback does not delete it; it warns).
          expect(await dbState(aws, SECONDARY_REGION, env.replica.id)).toMatchObject({ replicaSource: null });

          // Failing the same failover back a second time is refused: DNS is no longer as the failover left it.
          const after = await env.snapshot();
          const again = await client.workflow.start('regionalFailback', {
            taskQueue,
            workflowId: uid('failback-again'),
            args: [{ ...failbackInput(env, failoverId), approval: { required: false } }],
          });
          const refused = await expectFailure(client, again.workflowId);
          expect(refused.type).toBe('PreconditionFailed');
          expect(refused.message).toContain('as the failover left it');
          expect(refused.message).toContain('already failed back');
          expect(await env.snapshot()).toEqual(after);
        } finally {
          publisher.stop();
        }
      });
    },
  );

  it('of a failover that did not complete: refused, nothing created or changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const failoverInput = env.input(); // no plannedSwitchover: refused (PrimaryHealthy)
      const failoverId = regionalFailoverWorkflowId(failoverInput);
      await client.workflow.start('regionalFailover', { taskQueue, workflowId: failoverId, args: [failoverInput] });
      expect((await expectFailure(client, failoverId)).type).toBe('PrimaryHealthy');
      const before = await env.snapshot();

      const workflowId = uid('failback');
      await client.workflow.start('regionalFailback', {
        taskQueue,
        workflowId,
        args: [{ ...failbackInput(env, failoverId), approval: { required: false } }],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe('PreconditionFailed');
      expect(failure.message).toContain(`${failoverId} has no completed run (the newest is FAILED)`);
      expect(failure.message).toContain('Nothing was changed');
      expect((await client.workflow.getHandle(workflowId).query(statusQuery)).plan).toBeUndefined();
      expect(await env.snapshot()).toEqual(before);
    });
  });
});
