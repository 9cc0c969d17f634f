// regionalFailover of an Aurora Global Database end to end (input `database: {kind: "aurora-global"}`): real dev
// server, real worker, a global database of its own per test (test/helpers/env/global-cluster-env.ts), the outcome
// read back through the SDK: which member is the global writer (DescribeGlobalClusters), the services' counts and
// revisions, the task definition's DATABASE_HOST, the Route 53 records. The emulator answers SwitchoverGlobalCluster
// and FailoverGlobalCluster through our moto patch (scripts/moto/server.py); the last test goes through the realistic
// layer, which shows the global cluster `failing-over` for a few AWS minutes (scripts/realistic/global-cluster.ts).
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { approveSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import {
  regionalFailoverWorkflowId,
  type RegionalFailbackResult,
  type RegionalFailoverInput,
  type RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { RunbookReport } from '../../api/status';
import { serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import {
  ALB_ZONE,
  PRIMARY_REGION,
  SECONDARY_REGION,
  fastHealth,
  stripDot,
  taskDefinitionEnv,
} from '../helpers/env/failover-env';
import { makeGlobalClusterEnv, type GlobalEnv } from '../helpers/env/global-cluster-env';
import { effectiveMutations, withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';
import type { AwsClients } from '../../activities/aws-clients';

afterAll(closeConnections);

type Report = RunbookReport<RegionalFailoverResult>;

async function start(client: Client, taskQueue: string, input: RegionalFailoverInput) {
  const workflowId = regionalFailoverWorkflowId(input);
  const handle = await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
  return { workflowId, handle: handle as WorkflowHandle };
}

const TIMELINE = (mode: 'switchover' | 'failover', target: string) => [
  'Acquire resource',
  'Preflight: global database, target cluster, RPO lag, primary cluster, secondary service, DNS',
  'Safety checks: global database, RPO, primary health',
  'Lock resources',
  'Approval',
  'Pause writes: scale the primary service to 0',
  'Wait until the primary service has stopped',
  `Measure the global lag before the ${mode}`,
  mode === 'switchover'
    ? 'Switch over the global database (SwitchoverGlobalCluster)'
    : 'Fail over the global database (FailoverGlobalCluster, AllowDataLoss)',
  'Point of no return',
  `Wait until ${target} is the global writer and available`,
  'Repoint the app: register a task definition with the new writer endpoint',
  'Scale up the secondary service',
  'Wait until the secondary service is stable',
  'Verify the secondary app',
  'Save the DNS records',
  'Switch DNS to the secondary',
  'Wait for the DNS change to be INSYNC',
  'Verify the public endpoint',
];

/** After a completed run: the target cluster is the writer, the app in the secondary region runs on its endpoint. */
async function expectServingFromSecondary(aws: AwsClients, env: GlobalEnv) {
  expect(await env.globalState()).toMatchObject({ writer: env.db.secondary.id, status: 'available' });
  const secondary = await serviceState(aws, env.secondaryService);
  expect(secondary).toMatchObject({ desiredCount: 2, runningCount: 2 });
  expect(secondary.taskDefinition).not.toBe(env.baseRevisions.secondary.at(-1));
  expect(await taskDefinitionEnv(aws, SECONDARY_REGION, secondary.taskDefinition, 'DATABASE_HOST')).toBe(
    env.db.secondary.endpoint,
  );
  const records = await zoneRecords(aws, env.zone.zoneId);
  const primary = records.find((r) => r.SetIdentifier === 'primary' && r.Type === 'A');
  expect(stripDot(primary?.AliasTarget?.DNSName)).toBe(env.targets.secondary);
  expect(primary?.AliasTarget?.HostedZoneId).toBe(ALB_ZONE[SECONDARY_REGION]);
}

describe('regionalFailover of an Aurora global database', () => {
  it('approved switchover: the secondary cluster becomes the global writer, the app is repointed and scaled there, DNS switched; regionalFailback switches it back and restores services and DNS', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeGlobalClusterEnv(aws, { lagMs: [120, 150, 180] });
      const before = await env.snapshot();
      expect(await env.globalState()).toMatchObject({ writer: env.db.primary.id });
      const input = env.globalInput('switchover', {
        reason: 'planned region move (CHG-12)',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
      });
      const { workflowId, handle } = await start(client, taskQueue, input);
      expect(workflowId).toBe(`failover:global/${env.db.globalCluster}`);

      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain(
        `switchover the Aurora global database ${env.db.globalCluster}: writer ${env.db.primary.id} (${PRIMARY_REGION}, available) → ${env.db.secondary.id} (${SECONDARY_REGION}); global lag 180 ms (a switchover loses no data)`,
      );
      expect(waiting.pendingApproval?.plan?.[3]).toMatchObject({
        action: 'rds:SwitchoverGlobalCluster',
        params: { globalCluster: env.db.globalCluster, to: `${env.db.secondary.id} (${SECONDARY_REGION})` },
      });
      expect(await env.snapshot()).toEqual(before); // nothing before the approval
      expect(await env.globalState()).toMatchObject({ writer: env.db.primary.id });

      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      expect(report.timeline.map((s) => s.name)).toEqual(TIMELINE('switchover', env.db.secondary.id));
      expect(report.timeline.every((s) => s.outcome === 'succeeded')).toBe(true);

      await expectServingFromSecondary(aws, env);
      // The primary region's service is paused; the old primary cluster is a secondary now, still there.
      expect(await serviceState(aws, env.primaryService)).toMatchObject({ desiredCount: 0 });
      expect((await env.globalState()).members.sort()).toEqual([env.db.primary.id, env.db.secondary.id].sort());

      const r = report.result!;
      expect(r.database).toMatchObject({
        kind: 'aurora-global',
        mode: 'switchover',
        globalCluster: env.db.globalCluster,
        before: { region: PRIMARY_REGION, cluster: env.db.primary.id, status: 'available' },
        after: { region: SECONDARY_REGION, cluster: env.db.secondary.id, endpoint: env.db.secondary.endpoint },
        lagMetric: 'AuroraGlobalDBRPOLag',
      });
      expect(r.dataLossEstimateSeconds).toBe(0);
      expect(r.replicaLagSeconds).toBe(0.18);
      expect(report.incidentReport).toContain(
        `${env.db.primary.id} (${PRIMARY_REGION}) → ${env.db.secondary.id} (${SECONDARY_REGION})`,
      );

      // regionalFailback: the writer switches back to the original cluster, the services and DNS go back as they were.
      const failbackId = uid('fb');
      const fb = await client.workflow.start('regionalFailback', {
        taskQueue,
        workflowId: failbackId,
        args: [
          {
            failoverWorkflowId: workflowId,
            health: { primaryApp: fastHealth(env.apps.primary), publicEndpoint: input.health.publicEndpoint },
            initiatedBy: 'alice',
            approval: { required: true, timeout: '1m' },
          },
        ],
      });
      const fbWaiting = await waitForStatus(client, failbackId, (s) => s.state === 'awaiting-approval');
      expect(fbWaiting.pendingApproval?.summary).toContain(
        `fail back to ${PRIMARY_REGION}: switch the Aurora global database ${env.db.globalCluster} over to ${env.db.primary.id}`,
      );
      expect(await env.globalState()).toMatchObject({ writer: env.db.secondary.id });
      await fb.signal(approveSignal, { by: 'bob' });
      const back = (await fb.result()) as RunbookReport<RegionalFailbackResult>;
      expect(back.outcome).toBe('succeeded');
      expect(back.timeline.map((s) => s.name)).toEqual([
        'Acquire resource',
        'Preflight: read what the failover did',
        'Preflight: global database, original cluster, services, DNS',
        'Lock resources',
        'Approval',
        'Pause writes: scale the secondary service to 0',
        'Wait until the secondary service has stopped',
        'Switch the global database back (SwitchoverGlobalCluster)',
        'Point of no return',
        `Wait until ${env.db.primary.id} is the global writer and available`,
        'Repoint the app: register the recorded revision with the original writer endpoint',
        'Restore the original service',
        'Wait until the original service is stable',
        'Verify the original region app',
        'Restore the recorded DNS record sets',
        'Wait for the DNS change to be INSYNC',
        'Verify the public endpoint',
        'Put the secondary service back as it was',
        'Wait until the secondary service is stable',
      ]);
      // AWS, read back: the original cluster is the writer again, both clusters still members…
      expect(await env.globalState()).toMatchObject({ writer: env.db.primary.id, status: 'available' });
      expect((await env.globalState()).members.sort()).toEqual([env.db.primary.id, env.db.secondary.id].sort());
      // …the original service runs its 2 tasks on a new revision pointing at the original writer endpoint…
      const east = await serviceState(aws, env.primaryService);
      expect(east).toMatchObject({ desiredCount: 2, runningCount: 2 });
      expect(await taskDefinitionEnv(aws, PRIMARY_REGION, east.taskDefinition, 'DATABASE_HOST')).toBe(
        env.db.primary.endpoint,
      );
      // …DNS is exactly as before the failover, the secondary service back on its revision with 0 tasks.
      expect(await zoneRecords(aws, env.zone.zoneId)).toEqual(before.dns);
      expect(await serviceState(aws, env.secondaryService)).toEqual(before.secondaryService);
      expect(back.result?.newPrimary).toEqual({
        region: PRIMARY_REGION,
        dbInstance: env.db.primary.id,
        endpoint: env.db.primary.endpoint,
      });
    });
  });

  it('failover with the primary cluster down and the lag under the limit: completes, reports the data-loss estimate', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeGlobalClusterEnv(aws, { lagMs: [100, 200, 250], primaryStopped: true });
      const { handle } = await start(client, taskQueue, env.globalInput('failover', { maxReplicaLagSeconds: 1 }));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      expect(report.warnings).toEqual([]);
      expect(report.timeline.map((s) => s.name)).toEqual(TIMELINE('failover', env.db.secondary.id));
      await expectServingFromSecondary(aws, env);
      expect(report.result).toMatchObject({
        dataLossEstimateSeconds: 0.25,
        database: { mode: 'failover', before: { cluster: env.db.primary.id, status: 'stopped' } },
      });
      expect(report.incidentReport).toContain('up to 0.25s of writes (AuroraGlobalDBRPOLag just before the failover)');

      // The old primary is still stopped: regionalFailback refuses (nothing changed) until it is an available secondary.
      const failbackId = uid('fb');
      await client.workflow.start('regionalFailback', {
        taskQueue,
        workflowId: failbackId,
        args: [
          {
            failoverWorkflowId: regionalFailoverWorkflowId(env.globalInput('failover')),
            health: { primaryApp: fastHealth(env.apps.primary), publicEndpoint: fastHealth(env.apps.public) },
            approval: { required: false },
          },
        ],
      });
      const refused = await expectFailure(client, failbackId);
      expect(refused.type).toBe(FailureType.PreconditionFailed);
      expect(refused.message).toContain(
        `${env.db.primary.id} (${PRIMARY_REGION}) is not an available secondary yet: the cluster is stopped`,
      );
      expect(refused.report?.timeline.some((s) => s.mutating)).toBe(false);
      expect(await env.globalState()).toMatchObject({ writer: env.db.secondary.id });
    });
  });

  it('refusals before any change: lag over the limit (named), a switchover with a stopped primary, a failover of a healthy primary', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const cases: { env: GlobalEnv; input: RegionalFailoverInput; type: string; says: string[] }[] = [];
      const laggy = await makeGlobalClusterEnv(aws, { lagMs: [500, 3000], primaryStopped: true });
      cases.push({
        env: laggy,
        input: laggy.globalInput('failover', { maxReplicaLagSeconds: 1 }),
        type: FailureType.ReplicaLagRefused,
        says: [
          'refusing to fail over: the global RPO lag is 3s, above maxReplicaLagSeconds (1s): up to 3s of writes would be lost',
          'acceptDataLoss',
        ],
      });
      const stopped = await makeGlobalClusterEnv(aws, { primaryStopped: true });
      cases.push({
        env: stopped,
        input: stopped.globalInput('switchover'),
        type: FailureType.PreconditionFailed,
        says: [
          `refusing to switch over: the primary cluster ${stopped.db.primary.id} (${PRIMARY_REGION}) is not healthy: the cluster is stopped`,
          '"mode": "failover"',
        ],
      });
      const healthy = await makeGlobalClusterEnv(aws);
      cases.push({
        env: healthy,
        input: healthy.globalInput('failover'),
        type: FailureType.PrimaryHealthy,
        says: [`the primary cluster ${healthy.db.primary.id} is healthy`, '"mode": "switchover"'],
      });
      for (const c of cases) {
        const before = await c.env.snapshot();
        const { workflowId } = await start(client, taskQueue, c.input);
        const failure = await expectFailure(client, workflowId);
        expect(failure.type, c.says[0]).toBe(c.type);
        for (const s of c.says) expect(failure.message).toContain(s);
        expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
        expect(await c.env.snapshot()).toEqual(before);
        expect(await c.env.globalState()).toMatchObject({ writer: c.env.db.primary.id });
      }
    });
  });

  it('bad input names the field and changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeGlobalClusterEnv(aws);
      const before = await env.snapshot();
      const valid = env.globalInput('switchover');
      const cases: { field: string; input: unknown }[] = [
        {
          field: 'input.database.mode: expected "switchover"',
          input: { ...valid, database: { ...valid.database, mode: 'sideways' } },
        },
        {
          field: 'input.primary.dbInstance: not with "database"',
          input: { ...valid, primary: { ...valid.primary, dbInstance: 'some-db' } },
        },
        {
          field: 'input.database.targetCluster: is in eu-west-1, but secondary.region is us-west-1',
          input: {
            ...valid,
            database: { ...valid.database, targetCluster: 'arn:aws:rds:eu-west-1:123456789012:cluster:other' },
          },
        },
        {
          field: 'input.secondary.dbInstance: required',
          input: { ...valid, database: undefined },
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
      expect(await env.globalState()).toMatchObject({ writer: env.db.primary.id });
    });
  });
});

describe('regionalFailover of an Aurora global database under realistic AWS', () => {
  // Slow enough for the wait's polls (2 s, then 4 s; 2 s again after a throttled one) to meet `failing-over`
  // (4 AWS minutes: 6 s here) even when a probe is throttled.
  const MINUTE = 1500;

  it('failover with the primary cluster down, under throttling: the global cluster goes pending → failing-over for minutes, the run waits it out and completes; each change once', async () => {
    await withRealisticWorker({ minuteMs: MINUTE }, async ({ client, taskQueue, aws, layer }) => {
      const env = await makeGlobalClusterEnv(aws, { lagMs: [80, 90, 100], primaryStopped: true });
      // AWS under load: a fifth of all calls are throttled (or 503); the SDK and the activities' retries ride it out.
      layer.setFaults([{ name: 'throttle-storm', rate: 0.2 }]);
      const { handle } = await start(client, taskQueue, env.globalInput('failover'));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      const wait = report.timeline.find(
        (s) => s.name === `Wait until ${env.db.secondary.id} is the global writer and available`,
      );
      // AWS: FailoverState pending, then failing-over for 4 AWS minutes; the writer moves at the end.
      expect(String(wait?.details?.phases)).toMatch(
        /failing-over \(global failing-over\) @\S+ → writer \S+, cluster available @/,
      );
      expect(Date.parse(wait!.endedAt!) - Date.parse(wait!.startedAt)).toBeGreaterThanOrEqual(3 * MINUTE);
      expect(report.result?.database?.before).toMatchObject({ cluster: env.db.primary.id, status: 'stopped' });
      expect(report.result?.dataLossEstimateSeconds).toBe(0.1);
      await expectServingFromSecondary(aws, env);
      const mutations = effectiveMutations(layer);
      expect(mutations.filter((m) => m.startsWith('FailoverGlobalCluster'))).toHaveLength(1);
      expect(mutations.some((m) => m.startsWith('SwitchoverGlobalCluster'))).toBe(false);
      expect(mutations.filter((m) => m.startsWith('ChangeResourceRecordSets'))).toHaveLength(1);
    });
  });
});
