// The watch after a switch and the RTO target (issue 14): a regional failover that watches its gates after DNS moved
// reports a gate that fails (a warning, the readings, the watch step) and alerts through the notifications, undoing
// nothing; the RTO is compared with `rtoTarget` in the report and the notification. Real dev server, real worker,
// moto; notifications go to a local webhook receiver.
import type { Client } from '@temporalio/client';
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { FailureType } from '../../api/failures';
import {
  regionalFailoverWorkflowId,
  type RegionalFailoverInput,
  type RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { RunbookReport } from '../../api/status';
import { serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import { SECONDARY_REGION, makeFailoverEnv, stripDot } from '../helpers/env/failover-env';
import { notifyingTo, startReceiver, type Receiver } from '../helpers/notify-receiver';
import { closeConnections, expectFailure, uid, withWorker } from '../helpers/temporal';

type Report = RunbookReport<RegionalFailoverResult>;
const planned = { plannedSwitchover: { reason: 'DR drill' } };

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await closeConnections();
});

/** A metric alarm in `region`, set to `state`. */
async function alarm(aws: AwsClients, region: string, state: 'OK' | 'ALARM'): Promise<string> {
  const name = uid('api-5xx');
  const cw = aws.cloudwatch(region);
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'Demo/App',
      MetricName: 'Errors5xx',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 5,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: `test: ${state}` }));
  return name;
}

const start = (client: Client, taskQueue: string, input: RegionalFailoverInput) =>
  client.workflow.start('regionalFailover', {
    taskQueue,
    workflowId: regionalFailoverWorkflowId(input),
    args: [input],
  });

describe('the watch after a failover, and the RTO target', () => {
  it('a gate that fails during the watch: a warning, the watch step and readings, one alert; DNS stays switched', async () => {
    const before = receiver.messages.length;
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const env = await makeFailoverEnv(aws, { lag: [2] });
        const quiet = await alarm(aws, SECONDARY_REGION, 'OK');
        const loud = await alarm(aws, SECONDARY_REGION, 'ALARM');
        const handle = await start(
          client,
          taskQueue,
          env.input({
            ...planned,
            reason: 'watch drill',
            rtoTarget: '15m',
            watch: { for: '3s', interval: '1s', alarms: [quiet, loud] },
          }),
        );
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('succeeded-with-warnings');
        const watchWarnings = report.warnings.filter((w) => w.startsWith('watch after the failover'));
        // One warning for the gate that failed (not one per check), none for the one that passed.
        expect(watchWarnings).toHaveLength(1);
        expect(watchWarnings[0]).toContain(`${loud} failed`);
        expect(watchWarnings[0]).toContain('read ALARM');
        const step = report.timeline.find((s) => s.name.startsWith('Watch '));
        expect(step?.name).toBe(`Watch ${quiet}, ${loud} for 3s after the failover`);
        expect(step?.details).toMatchObject({ verdict: 'gates failed' });
        const w = report.result!.watch!;
        expect(w.verdict).toBe('gates failed');
        expect(w.checks).toBeGreaterThanOrEqual(3);
        expect(w.failures.map((f) => f.gate)).toEqual([loud]);
        expect(report.readings?.some((r) => r.gate === quiet && r.verdict === 'pass')).toBe(true);

        // Nothing undone: DNS still points at the secondary, the secondary app still runs.
        const primary = (await zoneRecords(aws, env.zone.zoneId)).find(
          (r) => r.SetIdentifier === 'primary' && r.Type === 'A',
        );
        expect(stripDot(primary?.AliasTarget?.DNSName)).toBe(env.targets.secondary);
        expect((await serviceState(aws, env.secondaryService)).desiredCount).toBe(2);
        expect(report.compensations).toEqual([]);

        // The RTO met its target: said in the report and the notification.
        expect(report.incidentReport).toMatch(/\*\*RTO against target:\*\* .+ \(target 15m: met\)/);
        const mine = receiver.messages.slice(before).filter((m) => m.includes(env.replica.id));
        const alerts = mine.filter((m) => m.startsWith('⚠️ WATCH:'));
        expect(alerts).toHaveLength(1);
        expect(alerts[0]).toContain(`${loud} failed`);
        expect(alerts[0]).toContain('Nothing is undone');
        expect(mine.find((m) => m.includes('RESOLVED'))).toMatch(/\(RTO .+ \(target 15m: met\)\)/);
      },
      { activities: notifyingTo(receiver.url) },
    );
  });

  it('an RTO over its target (measured from detectedAt) is a warning naming by how much; a clean watch adds none', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { primaryDown: true, lag: [1] });
      const quiet = await alarm(aws, SECONDARY_REGION, 'OK');
      const detectedAt = new Date(Date.now() - 20 * 60_000).toISOString();
      const handle = await start(
        client,
        taskQueue,
        env.input({ detectedAt, rtoTarget: '15m', watch: { for: '2s', interval: '1s', alarms: [quiet] } }),
      );
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.warnings).toHaveLength(1);
      expect(report.warnings[0]).toMatch(/^RTO 20m\d*s? \(target 15m: MISSED by 5m\d*s?\)$/);
      expect(report.result!.watch).toMatchObject({ verdict: 'clean', failures: [] });
      expect(report.incidentReport).toMatch(/\*\*RTO against target:\*\* 20m.* \(target 15m: MISSED by 5m/);
    });
  });

  it('a watch without gates, or checked too often: InvalidInput naming the field, nothing changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const env = await makeFailoverEnv(aws, { lag: [1] });
      const before = await env.snapshot();
      for (const [watch, field] of [
        [{ for: '1h' }, 'input.watch.alarms'],
        [{ for: '1h', interval: '1s', alarms: ['x'] }, 'input.watch.interval'],
      ] as const) {
        const input = env.input({ ...planned, watch } as Partial<RegionalFailoverInput>);
        const workflowId = uid('watch-invalid');
        await client.workflow.start('regionalFailover', { taskQueue, workflowId, args: [input] });
        const err = await expectFailure(client, workflowId);
        expect(err.type).toBe(FailureType.InvalidInput);
        expect(err.message).toContain(field);
        expect(err.message).toContain('Nothing was changed');
      }
      expect(await env.snapshot()).toEqual(before);
    });
  });
});
