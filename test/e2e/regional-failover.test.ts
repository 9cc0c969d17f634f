// regionalFailover end to end: real dev server, real worker, every test in a two-region environment of its own
// (test/helpers/env/failover-env.ts), the outcome read back through the SDK: the replica promoted or not, the services'
// counts and revisions, the task definition's DATABASE_HOST or the secret's host, the Route 53 records.
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { abandonSignal, approveSignal, rejectSignal, retryStepSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import {
  regionalFailoverWorkflowId,
  type RegionalFailoverInput,
  type RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { RunbookReport, RunbookStatus } from '../../api/status';
import { makeControlledService, serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import { callParam, startFaultProxy, withDbStatus, withInterceptingWorker } from '../helpers/proxies/aws-proxy';
import {
  ALB_ZONE,
  SECONDARY_REGION,
  dbState,
  fastHealth,
  listRevisions,
  makeFailoverEnv,
  readSecret,
  stripDot,
  taskDefinitionEnv,
  type FailoverEnv,
} from '../helpers/env/failover-env';
import { activityTypes, historyText, workerIdentities } from '../helpers/history';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';
import type { AwsClients } from '../../activities/aws-clients';

afterAll(closeConnections);

type Report = RunbookReport<RegionalFailoverResult>;
const planned = { plannedSwitchover: { reason: 'DR drill' } };

/** Start a failover under its derived workflow ID, as the CLI does. */
async function start(client: Client, taskQueue: string, input: RegionalFailoverInput) {
  const workflowId = regionalFailoverWorkflowId(input);
  const handle = await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
  return { workflowId, handle: handle as WorkflowHandle };
}

const apiRecord = (records: ResourceRecordSet[], setIdentifier: string) =>
  records.find((r) => r.SetIdentifier === setIdentifier && r.Type === 'A');

/** The DNS after a successful failover: PRIMARY aliases the secondary target; every other record as it was. */
function expectDnsSwitched(env: FailoverEnv, before: ResourceRecordSet[], after: ResourceRecordSet[]) {
  const primary = apiRecord(after, 'primary');
  expect(stripDot(primary?.AliasTarget?.DNSName)).toBe(env.targets.secondary);
  expect(primary).toMatchObject({
    Failover: 'PRIMARY',
    AliasTarget: { HostedZoneId: ALB_ZONE[SECONDARY_REGION], EvaluateTargetHealth: true },
  });
  const others = (rs: ResourceRecordSet[]) => rs.filter((r) => r.SetIdentifier !== 'primary');
  expect(others(after)).toEqual(others(before));
}

/** The replica is a standalone DB now (DescribeDBInstances: no ReadReplicaSourceDBInstanceIdentifier). */
async function expectPromoted(aws: AwsClients, env: FailoverEnv) {
  expect(await dbState(aws, SECONDARY_REGION, env.replica.id)).toEqual({
    status: 'available',
    endpoint: env.replica.endpoint,
    replicaSource: null,
  });
}

const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

const TIMELINE = [
  'Acquire resource',
  'Preflight: primary, replica, replica lag, secondary service, DNS',
  'Safety checks: replica, RPO, primary health',
  'Lock resources',
  'Approval',
  'Pause writes: scale the primary service to 0',
  'Wait until the primary service has stopped',
  'Measure replica lag before promotion',
  'Promote the replica',
  'Point of no return',
  'Wait until the promoted DB is available as a standalone instance',
  'Repoint the app: register a task definition with the promoted endpoint',
  'Scale up the secondary service',
  'Wait until the secondary service is stable',
  'Verify the secondary app',
  'Save the DNS records',
  'Switch DNS to the secondary',
  'Wait for the DNS change to be INSYNC',
  'Verify the public endpoint',
];

describe('regionalFailover: complete runs', () => {
  it('after approval: promotes the replica, repoints and scales the secondary app, switches DNS, pauses the primary; reports RTO, data loss and an incident report', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { lag: [3, 4, 5] });
      const before = await env.snapshot();
      const input = env.input({
        ...planned,
        reason: 'us-east-1 drill (INC-7)',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
      });
      const { workflowId, handle } = await start(client, taskQueue, input);

      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain('replica lag 5s (limit 300s)');
      expect(waiting.pendingApproval?.plan).toHaveLength(10);
      expect(await env.snapshot()).toEqual(before); // nothing before the approval

      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.warnings).toEqual(['planned switchover of a healthy primary (DR drill)']);
      expect(report.approvals).toMatchObject([{ by: 'bob', decision: 'approve', accepted: true }]);
      expect(report.timeline.map((s) => s.name)).toEqual(TIMELINE);
      expect(report.timeline.every((s) => s.outcome === 'succeeded')).toBe(true);

      // AWS, read back: the replica is standalone…
      await expectPromoted(aws, env);
      expect((await dbState(aws, 'us-east-1', env.primaryDb.id)).status).toBe('available'); // untouched
      // …the secondary service runs 2 tasks on a new revision whose DATABASE_HOST is the promoted endpoint…
      const secondary = await serviceState(aws, env.secondaryService);
      const westRevisions = await listRevisions(aws, SECONDARY_REGION, env.family);
      expect(westRevisions).toEqual([...env.baseRevisions.secondary, secondary.taskDefinition]);
      expect(secondary).toMatchObject({ desiredCount: 2, runningCount: 2 });
      expect(await taskDefinitionEnv(aws, SECONDARY_REGION, secondary.taskDefinition, 'DATABASE_HOST')).toBe(
        env.replica.endpoint,
      );
      // …the primary service is paused, its task definitions untouched…
      expect(await serviceState(aws, env.primaryService)).toEqual({
        ...before.primaryService,
        desiredCount: 0,
        runningCount: 0,
      });
      expect(await listRevisions(aws, 'us-east-1', env.family)).toEqual(before.revisions.primary);
      // …DNS points at the secondary, and the secrets were not touched in this mode.
      const dns = await zoneRecords(aws, env.zone.zoneId);
      expectDnsSwitched(env, before.dns, dns);
      expect((await env.snapshot()).secrets).toEqual(before.secrets);

      // The report.
      const r = report.result!;
      expect(r.secondary).toMatchObject({
        endpoint: env.replica.endpoint,
        ecs: {
          previousCount: 0,
          previousTaskDefinition: env.baseRevisions.secondary.at(-1),
          desiredCount: 2,
          taskDefinition: secondary.taskDefinition,
        },
      });
      expect(r.primary).toMatchObject({ dbStatus: 'available', ecs: { previousCount: 2, paused: true } });
      expect(r.dns.previousRecordSets).toHaveLength(2); // the PRIMARY and SECONDARY api records, saved for failback
      expect(r.replicaLagSeconds).toBe(5);
      expect(r.dataLossEstimateSeconds).toBe(5);
      expect(r.rtoFrom).toBe('start');
      expect(r.rtoSeconds).toBeGreaterThanOrEqual(0);
      expect(r.rtoSeconds).toBeLessThanOrEqual(Math.ceil(report.durationMs / 1000) + 1);
      expect(r.plannedSwitchover).toBe('DR drill');
      expect(r.health.secondaryApp.healthy).toBe(true);
      expect(r.health.publicEndpoint.healthy).toBe(true);
      expect(env.apps.public.probes).toBeGreaterThanOrEqual(2);
      // One incident report, the run's: the frame renders it with the facts the runbook stated (ctx.incident).
      const md = report.incidentReport ?? '';
      expect(md).toContain('# Incident Report: us-east-1 drill (INC-7)');
      expect(md).toContain('## Timeline');
      expect(md).toContain('## Root Cause');
      expect(md).toContain('Point of no return: succeeded');
      expect(md).toContain('approve by bob: accepted');
      // The decision reads before the gate it closed, and the gate before the step it let through.
      const at = (text: string) => md.indexOf(text);
      expect(at('approve by bob: accepted')).toBeLessThan(at('| Approval: succeeded'));
      expect(at('| Approval: succeeded')).toBeLessThan(at('| Pause writes: scale the primary service to 0: succeeded'));
      expect(md).toContain('**Data-loss estimate:** up to 5s of writes');
      expect(md).toContain(`Fail back with regionalFailback {"failoverWorkflowId": "${workflowId}"}`);
      expect(md).toMatch(/^- \*\*RTO:\*\* .+ \(from the start of the run\)$/m);
      expect(md).toContain(
        '- **Status:** Resolved with warnings (serving from the secondary region): planned switchover',
      );
      expect(md.match(/^# Incident Report/gm)).toHaveLength(1);
      expect(r).not.toHaveProperty('incidentReport');
    });
  });

  it('with the primary down (its DB gone) no plannedSwitchover is needed; RTO counts from detectedAt', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { primaryDown: true });
      const before = await env.snapshot();
      expect(before.primaryDb.status).toBe('not-found');
      const detectedAt = new Date(Date.now() - 90_000).toISOString();
      const { handle } = await start(client, taskQueue, env.input({ detectedAt, reason: 'us-east-1 outage' }));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      expect(report.warnings).toEqual([]);
      expect(report.timeline.find((s) => s.name.startsWith('Preflight'))?.details).toMatchObject({
        primaryStatus: 'not-found',
      });
      const r = report.result!;
      expect(r.primary.dbStatus).toBe('not-found');
      expect(r.rtoFrom).toBe('detectedAt');
      expect(r.rtoSeconds).toBeGreaterThanOrEqual(90);
      expect(r.rtoSeconds).toBeLessThan(90 + 60);
      expect(report.incidentReport).toContain('Incident detected');
      expect(report.incidentReport).toContain('(from detection)');
      expect(report.incidentReport).toContain('- **Status:** Resolved: serving from the secondary region');

      await expectPromoted(aws, env);
      expect((await serviceState(aws, env.secondaryService)).desiredCount).toBe(2);
      expect((await serviceState(aws, env.primaryService)).desiredCount).toBe(0);
      expectDnsSwitched(env, before.dns, await zoneRecords(aws, env.zone.zoneId));
    });
  });

  it('secret mode: writes the promoted host into the secret (password kept, never in history); same revision', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const { handle } = await start(
        client,
        taskQueue,
        env.input({ ...planned, appConfig: { mode: 'secret', secretId: env.secret.name } }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.timeline.map((s) => s.name)).toContain(
        'Repoint the app: write the promoted endpoint into the DB secret',
      );

      // The secret in the secondary region: host is the promoted endpoint, every other field as it was.
      const secret = await readSecret(aws, SECONDARY_REGION, env.secret.name);
      expect(secret.value).toEqual({ ...env.secret.value, host: env.replica.endpoint });
      expect(secret.versionId).not.toBe(before.secrets.secondary.versionId);
      expect(report.result?.appConfig).toMatchObject({
        mode: 'secret',
        secretRegion: SECONDARY_REGION,
        previousSecretVersionId: before.secrets.secondary.versionId,
        secretVersionId: secret.versionId,
      });
      // The primary region's copy is not touched by a failover.
      expect(await readSecret(aws, 'us-east-1', env.secret.name)).toEqual(before.secrets.primary);

      // The secondary service: scaled up on the revision it had (no new task definition).
      const secondary = await serviceState(aws, env.secondaryService);
      expect(secondary).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: env.baseRevisions.secondary.at(-1),
      });
      expect(await listRevisions(aws, SECONDARY_REGION, env.family)).toEqual(before.revisions.secondary);
      await expectPromoted(aws, env);
      expectDnsSwitched(env, before.dns, await zoneRecords(aws, env.zone.zoneId));

      // Workflow history, every payload decoded (fetchHistory gives them base64): the host is there — so this would
      // find the password if it were there too — and the password is not.
      const text = await historyText(handle);
      expect(text).toContain(env.replica.endpoint);
      expect(text).not.toContain(env.secret.value.password);
    });
  });

  it('lag above the limit with acceptDataLoss proceeds, and says so in the warnings and the report', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { lag: [500, 600] });
      const { handle } = await start(
        client,
        taskQueue,
        env.input({ ...planned, acceptDataLoss: { reason: 'primary region is gone; the business accepts it' } }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.warnings).toContain(
        'data loss accepted (primary region is gone; the business accepts it): replica lag is 600s, above ' +
          'maxReplicaLagSeconds (300s): up to 600s of writes would be lost',
      );
      expect(report.result).toMatchObject({
        replicaLagSeconds: 600,
        dataLossEstimateSeconds: 600,
        acceptedDataLoss: 'primary region is gone; the business accepts it',
      });
      expect(report.incidentReport).toContain(
        '**Data loss accepted:** primary region is gone; the business accepts it',
      );
      await expectPromoted(aws, env);
    });
  });
});

describe('regionalFailover: refusals change nothing', () => {
  it('replica lag above maxReplicaLagSeconds: ReplicaLagRefused naming the lag and the limit', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { lag: [500, 600] });
      const before = await env.snapshot();
      const { workflowId } = await start(client, taskQueue, env.input(planned));
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ReplicaLagRefused);
      expect(failure.message).toContain('replica lag is 600s, above maxReplicaLagSeconds (300s)');
      expect(failure.message).toContain('"acceptDataLoss"');
      expect(failure.message).toContain('Nothing was changed');
      expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
      expect(await env.snapshot()).toEqual(before);
    });
  });

  it('no ReplicaLag datapoint at all: refused, the data loss cannot be estimated', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { lag: null });
      const before = await env.snapshot();
      const { workflowId } = await start(client, taskQueue, env.input(planned));
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ReplicaLagRefused);
      expect(failure.message).toContain(`no ReplicaLag datapoint for ${env.replica.id}`);
      expect(failure.message).toContain('Nothing was changed');
      expect(await env.snapshot()).toEqual(before);
    });
  });

  it('a healthy primary without plannedSwitchover: PrimaryHealthy', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const { workflowId } = await start(client, taskQueue, env.input());
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PrimaryHealthy);
      expect(failure.message).toContain(`the primary ${env.primaryDb.id} is available`);
      expect(failure.message).toContain('"plannedSwitchover"');
      expect(failure.message).toContain('Nothing was changed');
      expect(await env.snapshot()).toEqual(before);
    });
  });

  it('rejected at the approval gate, or not approved in time: nothing changed (approval comes before pausing writes)', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const [rejected, timedOut] = await Promise.all([makeFailoverEnv(aws), makeFailoverEnv(aws)]);
      const before = await Promise.all([rejected.snapshot(), timedOut.snapshot()]);
      const approval = { initiatedBy: 'alice', ...planned };
      const a = await start(
        client,
        taskQueue,
        rejected.input({ ...approval, approval: { required: true, timeout: '1m' } }),
      );
      const b = await start(
        client,
        taskQueue,
        timedOut.input({ ...approval, approval: { required: true, timeout: '2s' } }),
      );
      await waitForStatus(client, a.workflowId, (s) => s.state === 'awaiting-approval');
      await a.handle.signal(rejectSignal, { by: 'bob', reason: 'the primary is recovering' });

      const rejection = await expectFailure(client, a.workflowId);
      expect(rejection.type).toBe(FailureType.ApprovalRejected);
      expect(rejection.message).toContain('rejected by bob: the primary is recovering');
      expect(rejection.message).toContain('Nothing was changed');
      const timeout = await expectFailure(client, b.workflowId);
      expect(timeout.type).toBe(FailureType.ApprovalTimedOut);
      expect(timeout.message).toContain('no approval within 2s');
      expect(timeout.message).toContain('Nothing was changed');
      for (const f of [rejection, timeout]) {
        expect(f.report?.compensations).toEqual([]);
        expect(f.report?.timeline.some((s) => s.mutating)).toBe(false);
      }
      expect(await rejected.snapshot()).toEqual(before[0]);
      expect(await timedOut.snapshot()).toEqual(before[1]);
    });
  });

  it('dry run: plans all ten steps with their AWS actions, changes nothing, does not wait for approval', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const common = { ...planned, dryRun: true, initiatedBy: 'alice', approval: { required: true, timeout: '1m' } };
      const plans: Record<string, string[]> = {};
      for (const mode of ['task-definition-env', 'secret'] as const) {
        const appConfig =
          mode === 'secret'
            ? { mode, secretId: env.secret.name }
            : ({ mode, variable: 'DATABASE_HOST' } as RegionalFailoverInput['appConfig']);
        const handle = await client.workflow.start('regionalFailover', {
          taskQueue,
          workflowId: uid('dry'),
          args: [env.input({ ...common, appConfig })],
        });
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('dry-run');
        expect(report.result).toBeUndefined();
        expect(report.plan).toHaveLength(10);
        expect(report.timeline.some((s) => s.mutating)).toBe(false);
        expect(report.timeline.some((s) => s.name === 'Approval' || s.name === 'Acquire resource')).toBe(false);
        plans[mode] = report.plan!.map((p) => p.action);
        expect(report.plan?.[3]).toMatchObject({
          action: 'rds:PromoteReadReplica',
          params: { region: SECONDARY_REGION, dbInstance: env.replica.id },
        });
        expect(report.plan?.[2]?.params).toMatchObject({ ...env.primaryService, desiredCount: 0, from: 2 });
      }
      const actions = (repoint: string) => [
        'read only',
        'wait for approval',
        'ecs:UpdateService',
        'rds:PromoteReadReplica',
        repoint,
        'ecs:UpdateService',
        'http GET',
        'route53:ChangeResourceRecordSets',
        'http GET',
        'none',
      ];
      expect(plans['task-definition-env']).toEqual(actions('ecs:RegisterTaskDefinition'));
      expect(plans.secret).toEqual(actions('secretsmanager:PutSecretValue'));
      expect(await env.snapshot()).toEqual(before);
    });
  });

  it('malformed input: InvalidInput naming the field', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const valid = env.input(planned);
      const { desiredCount: _dropped, ...ecsWithoutCount } = valid.secondary.ecs;
      const cases = [
        {
          field: 'input.secondary.ecs.desiredCount',
          input: { ...valid, secondary: { ...valid.secondary, ecs: ecsWithoutCount } },
        },
        {
          field: 'input.appConfig: expected {"mode": "task-definition-env"',
          input: { ...valid, appConfig: { mode: 'carrier-pigeon' } },
        },
      ];
      for (const c of cases) {
        const workflowId = uid('bad');
        await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [c.input] });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type, c.field).toBe(FailureType.InvalidInput);
        expect(failure.message, c.field).toContain(c.field);
        expect(failure.message, c.field).toContain('Nothing was changed');
        expect((await client.workflow.getHandle(workflowId).query(statusQuery)).steps).toEqual([]);
      }
      expect(await env.snapshot()).toEqual(before);
    });
  });

  it('two failovers of one replica at once: the second is refused (derived ID, or the lock for a random ID)', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const input = env.input({ ...planned, initiatedBy: 'alice', approval: { required: true, timeout: '1m' } });
      const first = await start(client, taskQueue, input);
      await waitForStatus(client, first.workflowId, (s) => s.state === 'awaiting-approval');

      await expect(
        client.workflow.start('regionalFailover', {
          taskQueue,
          workflowId: first.workflowId,
          args: [{ ...input, approval: { required: false } }],
          workflowIdConflictPolicy: 'FAIL',
        }),
      ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      // Started under another ID (as the Temporal UI may): the run finds the resource taken and changes nothing.
      const otherId = uid('ui');
      await client.workflow.start('regionalFailover', {
        taskQueue,
        workflowId: otherId,
        args: [{ ...input, approval: { required: false } }],
      });
      const busy = await expectFailure(client, otherId);
      expect(busy.type).toBe(FailureType.ResourceBusy);
      expect(busy.message).toContain(`regionalFailover workflow ${first.workflowId}`);
      expect(busy.message).toContain('Nothing was changed');
      expect(await env.snapshot()).toEqual(before);

      await first.handle.signal(rejectSignal, { by: 'alice', reason: 'test cleanup' });
      await expectFailure(client, first.workflowId);
      expect(await env.snapshot()).toEqual(before);
    });
  });
});

describe('regionalFailover: failures', () => {
  it('PromoteReadReplica fails after writes were paused: the primary service is restored, the replica stays a replica', async () => {
    const { aws } = await testClients();
    const env = await makeFailoverEnv(aws);
    const before = await env.snapshot();
    // The replica is found by the preflight and by the promote activity's own describe, then PromoteReadReplica says
    // it is not there (deleted meanwhile): DBInstanceNotFoundFault, which the runbook does not retry.
    const proxy = await startFaultProxy(inject('awsEndpoint'), [
      {
        operation: 'PromoteReadReplica',
        times: 100,
        status: 404,
        errorType: 'DBInstanceNotFound',
        message: `DBInstance ${env.replica.id} not found.`,
      },
    ]);
    const faulty = createAwsClients({ endpoint: proxy.endpoint });
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const { workflowId } = await start(client, taskQueue, env.input(planned));
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe('DBInstanceNotFoundFault');
          expect(failure.message).toContain(`DBInstance ${env.replica.id} not found`);
          expect(failure.message).toContain(
            `Compensated: restore the primary service ${env.primaryService.service} to 2 tasks`,
          );
          const timeline = failure.report?.timeline.map((s) => [s.name, s.outcome]);
          expect(timeline).toContainEqual(['Pause writes: scale the primary service to 0', 'succeeded']);
          expect(timeline).toContainEqual(['Promote the replica', 'failed']);
          expect(timeline?.map(([name]) => name)).not.toContain('Point of no return');
          expect(failure.report?.compensations).toMatchObject([
            { name: `restore the primary service ${env.primaryService.service} to 2 tasks`, outcome: 'succeeded' },
          ]);
        },
        { activities: () => createActivities({ aws: faulty }) },
      );
      expect(proxy.calls.get('PromoteReadReplica')).toEqual({ faulted: 1, passed: 0 }); // not retried
      // Everything as before: the primary back at 2 tasks, the replica still a replica, DNS and the secondary as they were.
      expect(await env.snapshot()).toEqual(before);
      expect(before.replica.replicaSource).toBe(env.primaryDb.arn);
      expect(before.primaryService).toMatchObject({ desiredCount: 2, runningCount: 2 });
    } finally {
      faulty.destroy();
      await proxy.close();
    }
  });

  // AWS SDK v3 throws error codes its model does not define (RDS "AccessDenied") as the service's base class; the
  // activities re-raise them typed by their code (activities/index.ts asActivities) so retry policies match.
  it('an AccessDenied from RDS fails the run at once, typed AccessDenied, and the paused writes are restored', async () => {
    const { aws } = await testClients();
    const env = await makeFailoverEnv(aws);
    const proxy = await startFaultProxy(inject('awsEndpoint'), [
      {
        operation: 'PromoteReadReplica',
        times: 100,
        status: 403,
        errorType: 'AccessDenied',
        message: `User: arn:aws:iam::123456789012:user/oncall is not authorized to perform: rds:PromoteReadReplica on resource: ${env.replica.arn}`,
      },
    ]);
    const denied = createAwsClients({ endpoint: proxy.endpoint });
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const { workflowId, handle } = await start(client, taskQueue, env.input(planned));
          try {
            // A non-retryable failure ends the run within a second or two; give it 8 s, not the ~31 s of retries.
            const failure = await Promise.race([
              expectFailure(client, workflowId),
              new Promise<never>((_, reject) =>
                setTimeout(() => reject(new Error('the run was still retrying the denied call after 8 s')), 8_000),
              ),
            ]);
            expect(failure.type).toBe('AccessDenied');
            expect(failure.message).toContain('is not authorized to perform: rds:PromoteReadReplica');
            expect(proxy.calls.get('PromoteReadReplica')).toEqual({ faulted: 1, passed: 0 });
            // Before the point of no return: pausing the primary's writes was undone, the replica is still one.
            expect(failure.message).toContain('Compensated: restore the primary service');
            expect((await serviceState(aws, env.primaryService)).desiredCount).toBe(2);
            expect(((await env.snapshot()).replica as { replicaSource?: string | null }).replicaSource).toBeTruthy();
          } finally {
            await handle.terminate('test cleanup').catch(() => undefined);
          }
        },
        { activities: () => createActivities({ aws: denied }) },
      );
    } finally {
      denied.destroy();
      await proxy.close();
    }
  });

  /** Start a failover whose secondary app is unhealthy and wait until it asks for an operator. */
  async function untilOperatorNeeded(client: Client, taskQueue: string, env: FailoverEnv) {
    env.apps.secondary.setHealthy(false);
    const { workflowId, handle } = await start(
      client,
      taskQueue,
      env.input({ ...planned, health: { ...env.input().health, secondaryApp: fastHealth(env.apps.secondary, '2s') } }),
    );
    const status = await waitForStatus(client, workflowId, (s) => s.state === 'needs-operator');
    return { workflowId, handle, status };
  }

  /** What the run reports as done / not done when the secondary app fails its check (the DNS step not reached). */
  function expectOperatorRequest(status: RunbookStatus, env: FailoverEnv) {
    expect(status.operator?.failedStep).toBe('Verify the secondary app');
    expect(status.operator?.error).toContain('the secondary app is not healthy');
    expect(status.operator?.done).toEqual([
      `paused writes: ${env.primaryService.service} in us-east-1 scaled from 2 to 0`,
      `promote the replica: ${env.replica.id} promotion requested`,
      `promote the replica: ${env.replica.id} is standalone at ${env.replica.endpoint}`,
      expect.stringMatching(new RegExp(`^repoint the app: ${env.family}:3 has DATABASE_HOST=`)),
      `scale up the secondary service: 2 tasks on ${env.family}:3`,
    ]);
    expect(status.operator?.notDone).toEqual(['verify the secondary app', 'switch DNS', 'verify the public endpoint']);
    expect(status.operator?.how).toMatchObject({ retrySignal: 'retryStep', abandonSignal: 'abandon' });
  }

  it('secondary app unhealthy after promotion: needs-operator; once healthy, retryStep completes the failover', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const { handle, status } = await untilOperatorNeeded(client, taskQueue, env);
      expectOperatorRequest(status, env);
      // Waiting, with the promotion and the scale-up in place and DNS not yet moved.
      await expectPromoted(aws, env);
      expect((await serviceState(aws, env.secondaryService)).desiredCount).toBe(2);
      expect(await zoneRecords(aws, env.zone.zoneId)).toEqual(before.dns);

      env.apps.secondary.setHealthy(true);
      // An abandon without a reason is refused (and recorded, naming the field): the run still waits.
      await handle.signal(abandonSignal, { by: 'dave' } as { by: string; reason: string });
      await handle.signal(retryStepSignal, { by: 'carol' });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.warnings.some((w) => w.startsWith('retryStep by carol'))).toBe(true);
      expect(report.signals?.map((g) => [g.signal, g.by, g.accepted, g.refusal])).toEqual([
        ['abandon', 'dave', false, expect.stringMatching(/^malformed abandon: abandon\.reason: /)],
        ['retryStep', 'carol', true, undefined],
      ]);
      const steps = report.timeline.map((s) => [s.name, s.outcome]);
      expect(steps).toContainEqual(['Verify the secondary app', 'failed']);
      expect(steps).toContainEqual(['Verify the secondary app (operator retry 1)', 'succeeded']);
      expect(report.compensations).toEqual([]);
      expectDnsSwitched(env, before.dns, await zoneRecords(aws, env.zone.zoneId));
      expect((await handle.query(statusQuery)).operator).toBeUndefined();
    });
  });

  it('secondary app unhealthy after promotion: abandon fails the run, leaving AWS as it is (DNS not switched, replica promoted)', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const before = await env.snapshot();
      const { workflowId, handle, status } = await untilOperatorNeeded(client, taskQueue, env);
      expectOperatorRequest(status, env);

      await handle.signal(abandonSignal, { by: 'dave', reason: 'fixing the app config by hand' });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.Abandoned);
      expect(failure.message).toContain('abandoned by dave (fixing the app config by hand)');
      expect(failure.message).toContain('Left as it is, nothing undone');
      expect(failure.message).toContain(`Done: paused writes: ${env.primaryService.service}`);
      expect(failure.message).toContain('Not done: verify the secondary app; switch DNS; verify the public endpoint');
      expect(failure.report?.compensations).toEqual([]);

      // Nothing undone: the replica stays promoted, the primary paused, the secondary scaled up; DNS never switched.
      await expectPromoted(aws, env);
      expect((await serviceState(aws, env.primaryService)).desiredCount).toBe(0);
      expect((await serviceState(aws, env.secondaryService)).desiredCount).toBe(2);
      expect(await zoneRecords(aws, env.zone.zoneId)).toEqual(before.dns);
    });
  });

  it('the worker is killed mid-run and another takes over: the run completes, each change made once', async () => {
    const { client, aws } = await testClients();
    const env = await makeFailoverEnv(aws);
    const before = await env.snapshot();
    const taskQueue = uid('tq');
    const workers: WorkerProcess[] = [];
    try {
      workers.push(await startWorkerProcess(taskQueue));
      // Kill it while the run waits past the point of no return (the secondary app failed its check). Not during an
      // activity: an activity on a SIGKILLed worker is only retried once its heartbeat timeout (10–20 s) has passed.
      const { workflowId, handle, status } = await untilOperatorNeeded(client, taskQueue, env);
      expectOperatorRequest(status, env);
      await workers[0]!.kill();

      workers.push(await startWorkerProcess(taskQueue));
      env.apps.secondary.setHealthy(true);
      await handle.signal(retryStepSignal, { by: 'carol' });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.result?.secondary.endpoint).toBe(env.replica.endpoint);

      // Both workers ran workflow tasks of this run: the second one took over from the history.
      expect(await workerIdentities(handle)).toEqual(new Set(workers.map((w) => `worker-process-${w.pid}`)));

      // Each mutating call was made once: one activity each, and AWS shows one change each.
      const scheduled = await activityTypes(handle);
      expect(count(scheduled, 'promoteReadReplica')).toBe(1);
      expect(count(scheduled, 'registerRevisionWithEnv')).toBe(1);
      expect(count(scheduled, 'changeRecordSets')).toBe(1);
      expect(count(scheduled, 'updateService')).toBe(2); // pause the primary, scale up the secondary
      expect(await listRevisions(aws, SECONDARY_REGION, env.family)).toHaveLength(
        env.baseRevisions.secondary.length + 1,
      );
      await expectPromoted(aws, env);
      expect(await serviceState(aws, env.secondaryService)).toMatchObject({ desiredCount: 2, runningCount: 2 });
      expectDnsSwitched(env, before.dns, await zoneRecords(aws, env.zone.zoneId));
      expect(workflowId).toBe(regionalFailoverWorkflowId(env.input()));
    } finally {
      for (const w of workers) await w.kill();
    }
  }, 90_000);
});

describe('regionalFailover: what AWS says', () => {
  it('a secondary service deployed by CodeDeploy is refused before any change, in both app-config modes', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws);
      const cd = await makeControlledService(aws, {
        region: SECONDARY_REGION,
        cluster: env.secondaryService.cluster,
        taskDefinition: env.baseRevisions.secondary.at(-1)!,
        desiredCount: 0,
        controller: 'CODE_DEPLOY',
      });
      const before = await env.snapshot();
      const cdBefore = await serviceState(aws, cd);
      for (const [appConfig, action] of [
        [
          { mode: 'task-definition-env' as const, variable: 'DATABASE_HOST' },
          'deploy a task definition with the promoted endpoint to it',
        ],
        [
          { mode: 'secret' as const, secretId: env.secret.name },
          'force a new deployment of it so that its tasks read the promoted endpoint from the secret',
        ],
      ] as const) {
        const base = env.input();
        const input = env.input({
          ...planned,
          appConfig,
          secondary: { ...base.secondary, ecs: { cluster: cd.cluster, service: cd.service, desiredCount: 2 } },
        });
        const { workflowId } = await start(client, taskQueue, input);
        const failure = await expectFailure(client, workflowId);
        expect(failure.type, appConfig.mode).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toBe(
          `secondary service ${cd.service} (${SECONDARY_REGION}/${cd.cluster}/${cd.service}) uses the CODE_DEPLOY ` +
            `deployment controller, and AWS refuses a task-definition change or a forced deployment through ` +
            `UpdateService for such a service: this runbook would ${action}, after the promotion (the point of no ` +
            `return). To change it, deploy it through CodeDeploy (aws deploy create-deployment --application-name … ` +
            `--deployment-group-name …), or run this runbook on an ECS-controlled service. Nothing was changed.`,
        );
        expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
      }
      // The replica is still a replica, the primary not paused, DNS and the secrets as they were; the service too.
      expect(await env.snapshot()).toEqual(before);
      expect(await serviceState(aws, cd)).toEqual(cdBefore);
    });
  });

  it('the promoted replica goes to a failed state after the point of no return: needs-operator at once, with AWS’s status', async () => {
    const { aws } = await testClients();
    const env = await makeFailoverEnv(aws);
    const before = await env.snapshot();
    // AWS's answers once the promotion was requested: the instance is failed (the emulator's promotions succeed).
    let promoted = false;
    await withInterceptingWorker(
      (call) => {
        if (call.operation === 'PromoteReadReplica') promoted = true;
        const id = call.operation === 'DescribeDBInstances' ? callParam(call, 'DBInstanceIdentifier') : undefined;
        if (!promoted || id !== env.replica.id) return undefined;
        const infos = [
          { type: 'read replication', status: 'error', normal: false, message: 'Replication has stopped.' },
        ];
        return { rewrite: (xml) => withDbStatus(xml, env.replica.id, 'failed', infos) };
      },
      async ({ client, taskQueue }) => {
        const { workflowId, handle } = await start(
          client,
          taskQueue,
          env.input({ ...planned, promoteTimeout: '2h' }), // not waited out: the wait ends at the failed state
        );
        try {
          const status = await waitForStatus(client, workflowId, (s) => s.state === 'needs-operator', 30_000);
          const error =
            `promoted replica ${env.replica.id} in ${SECONDARY_REGION} is failed: RDS could not create it or keep it ` +
            `running (read replication error: Replication has stopped.)`;
          expect(status.operator?.failedStep).toBe('Wait until the promoted DB is available as a standalone instance');
          expect(status.operator?.error).toContain(error);
          expect(status.operator?.done).toEqual([
            `paused writes: ${env.primaryService.service} in us-east-1 scaled from 2 to 0`,
            `promote the replica: ${env.replica.id} promotion requested`,
          ]);
          expect(status.operator?.notDone).toEqual([
            'repoint the app',
            'scale up the secondary service',
            'verify the secondary app',
            'switch DNS',
            'verify the public endpoint',
          ]);
          // Past the point of no return nothing is undone: the primary stays paused, DNS and the secondary untouched.
          expect((await serviceState(aws, env.primaryService)).desiredCount).toBe(0);
          expect((await env.snapshot()).dns).toEqual(before.dns);
          expect(await serviceState(aws, env.secondaryService)).toEqual(before.secondaryService);

          await handle.signal(abandonSignal, { by: 'dave', reason: 'restoring the DB by hand' });
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.Abandoned);
          expect(failure.message).toContain(
            `abandoned by dave (restoring the DB by hand) after "Wait until the promoted DB is available as a standalone instance" failed: ${error}`,
          );
          expect(failure.report?.compensations).toEqual([]);
        } finally {
          await handle.terminate('test cleanup').catch(() => undefined);
        }
      },
    );
  });
});
