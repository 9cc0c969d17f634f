// regionalFailback end to end, after a real regionalFailover in an environment of its own: the DNS record sets come
// back exactly, the original region's service runs again on a revision pointing at the new primary (a replica of the
// promoted DB, created in the original region and promoted), and the secondary service goes back as it was.
import { afterAll, describe, expect, it } from 'vitest';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { abandonSignal, approveSignal, rejectSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import {
  regionalFailbackWorkflowId,
  regionalFailoverWorkflowId,
  type RegionalFailbackInput,
  type RegionalFailbackResult,
  type RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { RunbookReport, RunbookStatus } from '../../api/status';
import { startReplicaLagPublisher } from '../../scripts/lib/replica-lag';
import { makeControlledService, serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import { instancesWithPrefix } from '../helpers/env/restore-env';
import { childWorkflowsStarted } from '../helpers/history';
import { callParam, withDbStatus, withInterceptingWorker } from '../helpers/proxies/aws-proxy';
import {
  PRIMARY_REGION,
  SECONDARY_REGION,
  dbState,
  fastHealth,
  stripDot,
  listRevisions,
  makeFailoverEnv,
  readSecret,
  taskDefinitionEnv,
  type FailoverEnv,
} from '../helpers/env/failover-env';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

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

/** A planned failover of `env` (no approval), completed; returns its workflow ID. */
async function failOver(client: Client, taskQueue: string, env: FailoverEnv): Promise<string> {
  const input = env.input({ plannedSwitchover: { reason: 'DR drill' } });
  const workflowId = regionalFailoverWorkflowId(input);
  const handle = await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
  expect(((await handle.result()) as RunbookReport<RegionalFailoverResult>).outcome).toBe('succeeded-with-warnings');
  return workflowId;
}

/** The replica a failback created (named in its "Create a read replica" step). */
const replicaOf = (status: RunbookStatus) =>
  String(status.steps.find((s) => s.name.startsWith('Create a read replica'))?.details?.dbInstance);

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
          expect(newId).toMatch(new RegExp(`^${env.primaryDb.id}-fb-\\d{14}$`));
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
          expect(report.incidentReport).toContain('## Timeline');
          expect(report.incidentReport).toContain('**Replica lag before promotion:** ');
          expect(report.incidentReport).toContain(`Resolved with warnings (serving from ${PRIMARY_REGION} again): `);

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
          expect(refused.type).toBe(FailureType.PreconditionFailed);
          expect(refused.message).toContain('as the failover left it');
          expect(refused.message).toContain('already failed back');
          expect(await env.snapshot()).toEqual(after);
        } finally {
          publisher.stop();
        }
      });
    },
  );

  // Seen on call: rejected, then started again within the minute, the failback re-created a replica under the same
  // name, and its RPO gate passed in 61 ms on a datapoint of the replica the rejection had deleted.
  it('rejected, then started again at once: a replica with a name of its own, and a lag read only from after it was created', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const failoverId = await failOver(client, taskQueue, env);
      const publisher = startReplicaLagPublisher(aws, { regions: [PRIMARY_REGION], intervalMs: 500 });
      try {
        const workflowId = regionalFailbackWorkflowId({ failoverWorkflowId: failoverId });
        const untilApproval = async (over: Partial<RegionalFailbackInput> = {}) => {
          const handle = await client.workflow.start('regionalFailback', {
            taskQueue,
            workflowId,
            args: [{ ...failbackInput(env, failoverId), ...over }],
          });
          const status = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
          return { handle, status, replica: replicaOf(status) };
        };
        const reject = async (handle: WorkflowHandle) => {
          await handle.signal(rejectSignal, { by: 'bob', reason: 'not now' });
          expect((await expectFailure(client, workflowId)).type).toBe(FailureType.ApprovalRejected);
        };
        /**
         * The lag the RPO gate used: a datapoint from after this run's replica was created, i.e. after the step that
         * created it began (the emulator reports a cross-region replica's InstanceCreateTime as its source's).
         */
        const expectLagReadAfterCreation = (status: RunbookStatus) => {
          const created = status.steps.find((s) => s.name.startsWith('Create a read replica'));
          const measured = status.steps.find((s) => s.name === 'Measure the new replica lag');
          expect(measured?.details?.replicaLagSeconds).toBe(2); // what the publisher reports
          expect(Date.parse(String(measured?.details?.at))).toBeGreaterThanOrEqual(Date.parse(created!.startedAt));
        };

        const first = await untilApproval();
        await reject(first.handle);
        expect(await dbState(aws, PRIMARY_REGION, first.replica)).toEqual({ status: 'not-found' });

        const second = await untilApproval();
        expect(second.replica).not.toBe(first.replica);
        expect(second.replica).toMatch(new RegExp(`^${env.primaryDb.id}-fb-\\d{14}$`));
        expectLagReadAfterCreation(second.status);
        await reject(second.handle);

        // Named after the deleted one on purpose (its datapoints are still in CloudWatch): they do not count.
        const third = await untilApproval({ newReplicaId: first.replica });
        expect(third.replica).toBe(first.replica);
        expectLagReadAfterCreation(third.status);
        await reject(third.handle);
      } finally {
        publisher.stop();
      }
    });
  });

  // Seen on call: abandoned after pausing the secondary, the run's "done" list did not say that DNS still sent
  // everyone to the secondary region, whose service was at 0 tasks.
  it('needs an operator after pausing the secondary, then abandoned: status and message name the outage', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const failoverId = await failOver(client, taskQueue, env);
      const afterFailover = await env.snapshot();
      const publisher = startReplicaLagPublisher(aws, { regions: [PRIMARY_REGION], intervalMs: 500 });
      try {
        env.apps.primary.setHealthy(false);
        const workflowId = regionalFailbackWorkflowId({ failoverWorkflowId: failoverId });
        const handle = await client.workflow.start('regionalFailback', {
          taskQueue,
          workflowId,
          args: [
            {
              ...failbackInput(env, failoverId),
              health: { ...failbackInput(env, failoverId).health, primaryApp: fastHealth(env.apps.primary, '2s') },
              approval: { required: false },
            },
          ],
        });
        const status = await waitForStatus(client, workflowId, (s) => s.state === 'needs-operator', 40_000);
        const record = `${stripDot(env.zone.recordName)} A`;
        const svc = env.secondaryService.service;
        const outage =
          `paused writes: ${svc} in ${SECONDARY_REGION} scaled from 2 to 0 — OUTAGE: DNS ${record} still sends ` +
          `traffic to ${SECONDARY_REGION}, where ${svc} runs no task, until DNS is restored`;
        expect(status.operator?.failedStep).toBe('Verify the original region app');
        expect(status.operator?.done).toEqual([
          `created replica ${replicaOf(status)} in ${PRIMARY_REGION}`,
          outage,
          'promote the new replica: requested',
          expect.stringMatching(/^promote the new replica: .* is standalone at /),
          expect.stringMatching(/^repoint the app: /),
          expect.stringMatching(/^restore the original service: 2 tasks on /),
        ]);
        expect(status.operator?.notDone).toEqual([
          'verify the original app',
          'restore DNS',
          'verify the public endpoint',
          'put the secondary service back',
        ]);

        await handle.signal(abandonSignal, { by: 'dave', reason: 'fixing the app by hand' });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.Abandoned);
        expect(failure.message).toContain('Left as it is, nothing undone');
        expect(failure.message).toContain(outage);
        // What the message says is what AWS shows: DNS as the failover left it, the secondary at 0 tasks.
        expect(await zoneRecords(aws, env.zone.zoneId)).toEqual(afterFailover.dns);
        expect(await serviceState(aws, env.secondaryService)).toMatchObject({ desiredCount: 0 });
      } finally {
        publisher.stop();
      }
    });
  });

  it('of a failover that did not complete: refused, nothing created or changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const failoverInput = env.input(); // no plannedSwitchover: refused (PrimaryHealthy)
      const failoverId = regionalFailoverWorkflowId(failoverInput);
      await client.workflow.start('regionalFailover', { taskQueue, workflowId: failoverId, args: [failoverInput] });
      expect((await expectFailure(client, failoverId)).type).toBe(FailureType.PrimaryHealthy);
      const before = await env.snapshot();

      const workflowId = uid('failback');
      await client.workflow.start('regionalFailback', {
        taskQueue,
        workflowId,
        args: [{ ...failbackInput(env, failoverId), approval: { required: false } }],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toContain(`${failoverId} has no completed run (the newest is FAILED)`);
      expect(failure.message).toContain('Nothing was changed');
      expect((await client.workflow.getHandle(workflowId).query(statusQuery)).plan).toBeUndefined();
      expect(await env.snapshot()).toEqual(before);
    });
  });

  it('dry run: plans all eight steps with their AWS actions, creates no replica, changes nothing, does not wait for approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const failoverId = await failOver(client, taskQueue, env);
      const before = await env.snapshot();
      const dbsBefore = await instancesWithPrefix(aws, PRIMARY_REGION, env.id);
      expect(dbsBefore).toEqual([env.primaryDb.id]);

      // Approval required (failbackInput), no approve sent: a dry run ends without waiting for one.
      const handle = await client.workflow.start('regionalFailback', {
        taskQueue,
        workflowId: uid('failback-dry'),
        args: [{ ...failbackInput(env, failoverId), dryRun: true }],
      });
      const report = (await handle.result()) as RunbookReport<RegionalFailbackResult>;
      expect(report.outcome).toBe('dry-run');
      expect(report.result).toBeUndefined();
      expect(report.incidentReport).toBeUndefined();
      expect(report.warnings).toEqual([]);
      expect(report.approvals).toEqual([]);
      expect(report.timeline.some((s) => s.mutating)).toBe(false);
      expect(report.timeline.some((s) => s.name === 'Approval' || s.name === 'Acquire resource')).toBe(false);
      expect(await childWorkflowsStarted(handle)).toEqual([]); // no lock taken

      // The plan: what the workflow declares, for this environment as the failover left it.
      const newReplica = {
        region: PRIMARY_REGION,
        dbInstance: expect.stringMatching(new RegExp(`^${env.primaryDb.id}-fb-\\d{14}$`)),
      };
      const revision = (arn: string | undefined) => arn?.split('/').pop();
      expect(report.plan).toEqual([
        {
          step: '1. Create a read replica in the original region',
          action: 'rds:CreateDBInstanceReadReplica',
          params: { ...newReplica, source: env.replica.arn },
        },
        { step: '2. Approval', action: 'wait for approval', params: {} },
        {
          step: '3. Pause writes in the secondary',
          action: 'ecs:UpdateService',
          params: { ...env.secondaryService, desiredCount: 0, from: 2 },
        },
        {
          step: '4. Promote the new replica (point of no return)',
          action: 'rds:PromoteReadReplica',
          params: newReplica,
        },
        {
          step: '5. Repoint the original region app',
          action: 'ecs:RegisterTaskDefinition',
          params: {
            region: PRIMARY_REGION,
            from: revision(env.baseRevisions.primary.at(-1)),
            set: { DATABASE_HOST: '(new replica endpoint)' },
          },
        },
        {
          step: '6. Restore the original service',
          action: 'ecs:UpdateService',
          params: { ...env.primaryService, desiredCount: 2 },
        },
        {
          step: '7. Restore the DNS records',
          action: 'route53:ChangeResourceRecordSets',
          params: {
            record: `${stripDot(env.zone.recordName)} A`,
            to: `[primary] alias ${env.targets.primary}; [secondary] alias ${env.targets.secondary}`,
          },
        },
        {
          step: '8. Put the secondary service back',
          action: 'ecs:UpdateService',
          params: {
            ...env.secondaryService,
            desiredCount: 0,
            taskDefinition: revision(env.baseRevisions.secondary.at(-1)),
          },
        },
      ]);
      // The replica it would create is the one it would promote.
      expect(report.plan?.[3]?.params.dbInstance).toBe(report.plan?.[0]?.params.dbInstance);

      // Nothing changed: no replica created in the original region (its DB instances as before), and DNS, both
      // services (counts, revisions), the revisions registered and the secrets all as the failover left them.
      expect(await instancesWithPrefix(aws, PRIMARY_REGION, env.id)).toEqual(dbsBefore);
      expect(await env.snapshot()).toEqual(before);
    });
  });
});

describe('regionalFailback: what AWS says', () => {
  it.each(['task-definition-env', 'secret'] as const)(
    '%s: an original-region service deployed by CodeDeploy is refused before the replica is created',
    async (mode) => {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const env = await makeFailoverEnv(aws);
        // The primary region's app is deployed by CodeDeploy: a failover only pauses it (a count change, allowed);
        // failing back would put it on a revision again, which AWS refuses through UpdateService.
        const cd = await makeControlledService(aws, {
          region: PRIMARY_REGION,
          cluster: env.primaryService.cluster,
          taskDefinition: env.baseRevisions.primary.at(-1)!,
          desiredCount: 2,
          controller: 'CODE_DEPLOY',
        });
        const base = env.input();
        const failoverInput = env.input({
          plannedSwitchover: { reason: 'DR drill' },
          primary: { ...base.primary, ecs: { cluster: cd.cluster, service: cd.service } },
          ...(mode === 'secret' ? { appConfig: { mode, secretId: env.secret.name } } : {}),
        });
        const failoverId = regionalFailoverWorkflowId(failoverInput);
        const failover = await client.workflow.start('regionalFailover', {
          taskQueue,
          workflowId: failoverId,
          args: [failoverInput],
        });
        expect(((await failover.result()) as RunbookReport<RegionalFailoverResult>).outcome).toBe(
          'succeeded-with-warnings',
        );
        expect((await serviceState(aws, cd)).desiredCount).toBe(0); // paused by the failover
        const before = await env.snapshot();
        const cdBefore = await serviceState(aws, cd);

        const workflowId = uid('failback');
        await client.workflow.start('regionalFailback', {
          taskQueue,
          workflowId,
          args: [{ ...failbackInput(env, failoverId), approval: { required: false } }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toBe(
          `original service ${cd.service} (${PRIMARY_REGION}/${cd.cluster}/${cd.service}) uses the CODE_DEPLOY ` +
            `deployment controller, and AWS refuses a task-definition change or a forced deployment through ` +
            `UpdateService for such a service: this runbook would deploy the recorded revision with the new endpoint ` +
            `to it${mode === 'secret' ? ' (a forced deployment)' : ''}, after the promotion (the point of no return). ` +
            `To change it, deploy it through CodeDeploy (aws deploy create-deployment --application-name … ` +
            `--deployment-group-name …), or run this runbook on an ECS-controlled service. Nothing was changed.`,
        );
        expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
        // No replica created in the original region; DNS, both services, secrets and revisions as the failover left them.
        expect(await instancesWithPrefix(aws, PRIMARY_REGION, `${env.primaryDb.id}-fb-`)).toEqual([]);
        expect(await env.snapshot()).toEqual(before);
        expect(await serviceState(aws, cd)).toEqual(cdBefore);
      });
    },
  );

  it('the new replica ends incompatible-network (before the point of no return): fails at once, the replica deleted', async () => {
    const { aws } = await testClients();
    const env = await makeFailoverEnv(aws);
    // AWS's answer for the failback's new replica (the emulator's replicas are available at once).
    const fb = `${env.primaryDb.id}-fb-`;
    await withInterceptingWorker(
      (call) => {
        const id = call.operation === 'DescribeDBInstances' ? String(callParam(call, 'DBInstanceIdentifier')) : '';
        return id.startsWith(fb) ? { rewrite: (xml) => withDbStatus(xml, id, 'incompatible-network') } : undefined;
      },
      async ({ client, taskQueue }) => {
        const failoverId = await failOver(client, taskQueue, env);
        const before = await env.snapshot();
        const workflowId = uid('failback');
        const started = Date.now();
        await client.workflow.start('regionalFailback', {
          taskQueue,
          workflowId,
          args: [{ ...failbackInput(env, failoverId), replicaTimeout: '2h', approval: { required: false } }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(failure.type).toBe(FailureType.DbInstanceFailed);
        const replica = String(
          failure.report?.timeline.find((s) => s.name.startsWith('Create a read replica'))?.details?.dbInstance,
        );
        expect(replica.startsWith(fb)).toBe(true);
        expect(failure.message).toContain(
          `new replica ${replica} in ${PRIMARY_REGION} is incompatible-network: its subnet group or VPC cannot host it`,
        );
        expect(failure.message).toContain(`Compensated: delete the new replica ${replica}.`);
        expect(await instancesWithPrefix(aws, PRIMARY_REGION, fb)).toEqual([]);
        expect(await env.snapshot()).toEqual(before); // nothing else touched: DNS, services, secrets as the failover left them
      },
    );
  });
});
