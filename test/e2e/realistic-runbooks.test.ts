// Runbooks against the realistic AWS layer (scripts/realistic/): AWS's phases take time here (one AWS minute =
// 200 ms), so a run shows realistic waits, and each change is made exactly once (counted at the layer).
import { PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, describe, expect, it } from 'vitest';
import { approveSignal } from '../../api/definitions';
import { regionalFailoverWorkflowId } from '../../api/runbooks/regional-failover';
import type { RegionalFailoverResult } from '../../api/runbooks/regional-failover';
import type { RunbookReport, StepRecord } from '../../api/status';
import { serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import { SECONDARY_REGION, makeFailoverEnv } from '../helpers/env/failover-env';
import { effectiveMutations, withRealisticWorker } from '../helpers/realistic';
import { closeConnections, uid, waitForStatus } from '../helpers/temporal';
import { driver } from '../chaos/drivers';

afterAll(closeConnections);

// Slow enough for the waits' polls (2 s, then backing off) to meet AWS's phases, as they do on AWS.
const MINUTE = 500;
const took = (s: StepRecord | undefined) => (s?.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : -1);
const step = (r: RunbookReport, name: string) => r.timeline.find((s) => s.name.startsWith(name));
const phases = (r: RunbookReport, name: string) => String(step(r, name)?.details?.phases ?? '(no phases)');

/** A driver's run (test/chaos/drivers.ts: the example's shape, no approval) under the layer, to its report. */
async function realisticRun(runbook: string): Promise<RunbookReport> {
  return withRealisticWorker({ minuteMs: MINUTE }, async ({ client, taskQueue, aws }) => {
    const prepared = await driver(runbook).prepare(aws, { client, taskQueue });
    try {
      const report = (await client.workflow.execute(runbook, {
        taskQueue,
        workflowId: uid(runbook),
        args: [prepared.input],
      })) as RunbookReport;
      await prepared.verify(aws);
      return report;
    } finally {
      await prepared.close();
    }
  });
}

describe('regionalFailover under realistic AWS', () => {
  it('completes with AWS’s own waits: the promotion, the rolling deployment and Route 53 take their time; each change once', async () => {
    await withRealisticWorker({ minuteMs: MINUTE }, async ({ client, taskQueue, aws, layer }) => {
      const env = await makeFailoverEnv(aws, { lag: [3, 4, 5] });
      const input = env.input({
        plannedSwitchover: { reason: 'DR drill' },
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
      });
      const workflowId = regionalFailoverWorkflowId(input);
      const handle = await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 30_000);
      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as RunbookReport<RegionalFailoverResult>;
      expect(report.outcome).toBe('succeeded-with-warnings');

      // A promotion is modifying 3 and backing-up 2 AWS minutes; the deployment starts 2 tasks, 0.5 minute each, then
      // drains; Route 53 is PENDING a minute. moto alone would answer each at once.
      expect(took(step(report, 'Wait until the promoted DB is available'))).toBeGreaterThanOrEqual(5 * MINUTE);
      expect(took(step(report, 'Wait until the secondary service is stable'))).toBeGreaterThanOrEqual(1.5 * MINUTE);
      expect(took(step(report, 'Wait for the DNS change to be INSYNC'))).toBeGreaterThanOrEqual(MINUTE);
      // The timeline says which phases AWS went through.
      expect(phases(report, 'Wait until the promoted DB is available')).toMatch(
        /^modifying \(replica\) @\S+ → .*available @\S+$/,
      );
      expect(phases(report, 'Wait until the secondary service is stable')).toMatch(
        /IN_PROGRESS \d\/2.* → COMPLETED 2\/2/,
      );
      expect(phases(report, 'Wait for the DNS change to be INSYNC')).toMatch(/^PENDING @\S+ → INSYNC @\S+$/);
      expect(report.incidentReport).toMatch(
        /Wait until the promoted DB is available as a standalone instance: succeeded — modifying/,
      );

      // AWS as a failover leaves it, and every change made once.
      expect((await serviceState(aws, env.secondaryService)).desiredCount).toBe(2);
      expect((await zoneRecords(aws, env.zone.zoneId)).length).toBeGreaterThan(0);
      const mutations = effectiveMutations(layer);
      expect(mutations.filter((m) => m.startsWith('PromoteReadReplica'))).toEqual([
        `PromoteReadReplica ${env.replica.id}`,
      ]);
      expect(mutations.filter((m) => m.startsWith('ChangeResourceRecordSets'))).toHaveLength(1);
      expect(mutations.filter((m) => m.startsWith('RegisterTaskDefinition'))).toHaveLength(1);
      // The two services share a name in their two regions: pause writes in one, scale up in the other.
      const updates = layer.mutations().filter((c) => c.operation === 'UpdateService');
      expect(updates.map((c) => `${c.region}/${c.resource}`).sort()).toEqual(
        [
          `${env.primaryService.region}/${env.primaryService.service}`,
          `${env.secondaryService.region}/${env.secondaryService.service}`,
        ].sort(),
      );
    });
  });
});

describe('the watch after a failover under realistic AWS', () => {
  it('throttled reads are retried, a refused read is "could not be read" and the watch goes on, a raised alarm is caught', async () => {
    const throttle = { name: 'throttle-storm' as const, rate: 0.2 };
    await withRealisticWorker({ minuteMs: 200, faults: [throttle] }, async ({ client, taskQueue, aws, layer }) => {
      const env = await makeFailoverEnv(aws, { lag: [2] });
      const alarm = uid('api-5xx');
      const cw = aws.cloudwatch(SECONDARY_REGION);
      await cw.send(
        new PutMetricAlarmCommand({
          AlarmName: alarm,
          Namespace: 'Demo/App',
          MetricName: 'Errors5xx',
          Dimensions: [{ Name: 'Service', Value: alarm }],
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 1,
          Threshold: 5,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
      const input = env.input({
        plannedSwitchover: { reason: 'DR drill' },
        watch: { for: '6s', interval: '1s', alarms: [alarm] },
      });
      const workflowId = regionalFailoverWorkflowId(input);
      const handle = await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
      await waitForStatus(client, workflowId, (s) => s.currentStep?.startsWith('Watch ') ?? false, 60_000);
      // During the watch: the next DescribeAlarms is refused, and 5xx errors breach the alarm (the layer evaluates it
      // from the metric data, as CloudWatch does).
      layer.setFaults([throttle, { name: 'access-denied', operation: 'DescribeAlarms' }]);
      const now = Date.now();
      await cw.send(
        new PutMetricDataCommand({
          Namespace: 'Demo/App',
          MetricData: [0, 60_000, 120_000].map((ago) => ({
            MetricName: 'Errors5xx',
            Dimensions: [{ Name: 'Service', Value: alarm }],
            Timestamp: new Date(now - ago),
            Value: 40,
          })),
        }),
      );
      const report = (await handle.result()) as RunbookReport<RegionalFailoverResult>;

      expect(report.outcome).toBe('succeeded-with-warnings');
      const watch = report.result!.watch!;
      expect(watch.unreadableChecks).toBe(1);
      expect(watch.verdict).toBe('gates failed');
      expect(watch.failures.map((f) => f.gate)).toEqual([alarm]);
      expect(report.warnings.find((w) => w.includes('could not be read'))).toMatch(/AccessDenied|not authorized/);
      expect(report.warnings.some((w) => w.startsWith(`watch after the failover: ${alarm} failed`))).toBe(true);
      expect(step(report, 'Watch ')?.outcome).toBe('succeeded');
      expect(layer.calls().some((c) => c.operation === 'DescribeAlarms' && c.fault === 'access-denied')).toBe(true);
      // The failover itself stands, each change made once.
      expect((await serviceState(aws, env.secondaryService)).desiredCount).toBe(2);
      const mutations = effectiveMutations(layer);
      expect(mutations.filter((m) => m.startsWith('PromoteReadReplica'))).toHaveLength(1);
      expect(mutations.filter((m) => m.startsWith('ChangeResourceRecordSets'))).toHaveLength(1);
    });
  });
});

describe('snapshotRestore and blueGreenDeploy under realistic AWS', () => {
  it('a snapshot restore shows the safety snapshot creating and the restore creating → backing-up → available', async () => {
    const report = await realisticRun('snapshotRestore');
    expect(report.outcome).toMatch(/^succeeded/);
    expect(phases(report, 'Wait until the safety snapshot')).toMatch(/^creating @\S+ → available @\S+$/);
    expect(phases(report, 'Wait until the restored instance')).toMatch(
      /^(not found yet @\S+ → )?creating @\S+ → .*available @\S+$/,
    );
    expect(took(step(report, 'Wait until the restored instance'))).toBeGreaterThanOrEqual(8 * MINUTE);
  });

  it('a blue-green deployment shows green rolling IN_PROGRESS → COMPLETED and each weight change waiting out Route 53 PENDING', async () => {
    const report = await realisticRun('blueGreenDeploy');
    expect(report.outcome).toMatch(/^succeeded/);
    const green = report.timeline.find((s) => /stable/i.test(s.name) && /green/i.test(s.name));
    expect(String(green?.details?.phases), green?.name).toMatch(/IN_PROGRESS \d+\/\d+.* → COMPLETED/);
    // Each weight change waits for Route 53 (PENDING a minute) before the bake.
    expect(took(step(report, 'Shift 50%'))).toBeGreaterThanOrEqual(MINUTE);
  });
});
