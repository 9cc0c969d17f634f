// blueGreenDeploy judged like an SRE (issue 14, "Gates"): a sustained-window metric gate that rolls back only when the
// breach lasts the window, HTTP checks that read JSON with a header from Secrets Manager and an SLO burn-rate gate,
// watched through the blue standby (seed 002: "if issues occur, immediate rollback"); and a gated run through the
// realistic AWS layer with throttling. Datapoints are put at past (and coming) timestamps to fill the windows; the
// outcome is read back through the SDK (router weights, the services) and from the report's readings.
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { FailureType } from '../../api/failures';
import type { GateSetInput } from '../../api/gates';
import { blueGreenWorkflowId, type BlueGreenInput, type BlueGreenResult } from '../../api/runbooks/blue-green';
import type { GateReading, RunbookReport, RunbookStatus } from '../../api/status';
import { DEMO_LOGIN_TOKEN } from '../../scripts/lib/demo-apps';
import { withBlueGreenEnv, type BlueGreenEnv, type BlueGreenSnapshot } from '../helpers/env/blue-green-env';
import { historyText } from '../helpers/history';
import { withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

afterAll(closeConnections);

type Report = RunbookReport<BlueGreenResult>;

async function start(client: Client, taskQueue: string, input: BlueGreenInput) {
  const workflowId = blueGreenWorkflowId(input);
  const handle = await client.workflow.start('blueGreenDeploy', { taskQueue, workflowId, args: [input] });
  return { workflowId, handle: handle as WorkflowHandle };
}

/**
 * Datapoints of `metric` every 5 s from `fromSec` to `toSec` (seconds from now; negative is past), each `value`:
 * every 10 s period in between gets two.
 */
async function putEvery5s(
  aws: AwsClients,
  metric: { namespace: string; metricName: string; dimensions: { name: string; value: string }[] },
  fromSec: number,
  toSec: number,
  value: number,
) {
  const now = Date.now();
  const data = [];
  for (let s = fromSec; s <= toSec; s += 5) {
    data.push({
      MetricName: metric.metricName,
      Dimensions: metric.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
      Timestamp: new Date(now + s * 1000),
      Value: value,
      StorageResolution: 1,
    });
  }
  for (let i = 0; i < data.length; i += 500) {
    await aws
      .cloudwatch('us-east-1')
      .send(new PutMetricDataCommand({ Namespace: metric.namespace, MetricData: data.slice(i, i + 500) }));
  }
}

/** The error-rate gate of these tests: 10 s periods, fails only when every period of 30 s is above 5. */
const sustainedGate = (env: BlueGreenEnv) => ({
  name: 'error rate',
  ...env.metric,
  stat: 'Maximum',
  period: '10s',
  for: '30s',
  comparison: '>' as const,
  threshold: 5,
});

const baking = (step: number) => (s: RunbookStatus) => s.traffic?.phase === 'bake' && s.traffic.step === step;

/** Rolled back: the router as saved (blue 100 / green 0), green back to its count and revision, blue untouched. */
async function expectRolledBack(env: BlueGreenEnv, before: BlueGreenSnapshot, report: Report | undefined) {
  const after = await env.snapshot();
  expect(await env.weights()).toEqual({ blue: 100, green: 0 });
  expect(after.router).toEqual(before.router);
  expect(after.green).toEqual(before.green);
  expect(after.blue).toEqual(before.blue);
  expect(report?.compensations?.map((c) => [c.name.replace(/ \(.*\)$/, ''), c.outcome])).toEqual([
    ['traffic back to blue 100%', 'succeeded'],
    [`scale green back to 0 tasks on ${env.family}:1`, 'succeeded'],
  ]);
}

const WINDOW_TEXT = (n: number) => `${n}/3 periods > 5 (10s periods over 30s)`;

describe.concurrent('blueGreenDeploy: a sustained-window gate', () => {
  it('does not roll back when the metric breaches once among good periods: promoted, the breach seen as 1/3', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        // Good datapoints through the whole run, one breaching one in the period 12 s from now.
        await putEvery5s(aws, env.metric, -60, 120, 1);
        await putEvery5s(aws, env.metric, 12, 12, 50);
        const input = env.input({
          steps: [50, 100],
          bakeTime: '15s',
          checkInterval: '2s',
          blueStandby: '4s',
          gates: { metrics: [sustainedGate(env)] },
        });
        const { handle } = await start(client, taskQueue, input);
        const report = (await handle.result()) as Report;

        expect(report.outcome).toBe('succeeded');
        expect(report.result?.outcome).toBe('promoted');
        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
        expect((await env.snapshot()).blue.desiredCount).toBe(0);
        const metricReadings = (report.readings ?? []).filter((r) => r.gate === 'error rate');
        expect(metricReadings.every((r) => r.verdict === 'pass')).toBe(true);
        // The breach was read (one period of three), and did not fail the gate.
        expect(metricReadings.map((r) => r.value)).toContain(WINDOW_TEXT(1));
        expect(metricReadings.find((r) => r.value === WINDOW_TEXT(1))).toMatchObject({
          kind: 'metric',
          threshold: 'fails when Maximum > 5 for 30s',
          verdict: 'pass',
        });
      }),
    );
  });

  it('rolls back when the metric breaches for the whole window: traffic back on blue, green back, the reading in the error', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        await putEvery5s(aws, env.metric, -60, 120, 1);
        const input = env.input({
          steps: [50, 100],
          bakeTime: '2m',
          checkInterval: '2s',
          gates: { metrics: [sustainedGate(env)] },
        });
        const { workflowId } = await start(client, taskQueue, input);
        const bake = await waitForStatus(
          client,
          workflowId,
          (s) => baking(50)(s) && (s.readings ?? []).some((r) => r.step === 50),
          30_000,
        );
        expect(bake.readings?.find((r) => r.step === 50)).toMatchObject({ value: WINDOW_TEXT(0), verdict: 'pass' });
        expect(await env.weights()).toEqual({ blue: 50, green: 50 });

        // The error rate goes up and stays up: every period of the window breaches.
        await putEvery5s(aws, env.metric, -40, 120, 40);
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.GateFailed);
        expect(failure.message).toContain(
          `rolled back: gate error rate (metric) read ${WINDOW_TEXT(3)} [fails when Maximum > 5 for 30s] at 50% green`,
        );
        const report = failure.report as Report;
        expect(report.readings?.filter((r) => r.verdict === 'fail')).toEqual([
          expect.objectContaining({ gate: 'error rate', step: 50, value: WINDOW_TEXT(3) }),
        ]);
        await expectRolledBack(env, before, report);
      }),
    );
  });
});

describe.concurrent('blueGreenDeploy: HTTP checks, burn rate and the standby watch', () => {
  it('a JSON health score that drops during the blue standby rolls back on its own, naming the gate; the login secret is never in the history', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        const secret = uid('bg-login');
        await aws
          .secrets('us-east-1')
          .send(new CreateSecretCommand({ Name: secret, SecretString: JSON.stringify({ token: DEMO_LOGIN_TOKEN }) }));
        const slo = (metricName: string) => ({
          namespace: env.metric.namespace,
          metricName,
          dimensions: [{ name: 'Service', value: `${env.green.service}-${metricName}` }],
        });
        // A healthy SLO: 0.04 % errors against a 0.1 % budget (0.4x), over the last 2 minutes and the coming ones.
        await putEvery5s(aws, slo('Requests'), -150, 150, 500);
        await putEvery5s(aws, slo('Errors'), -150, 150, 0.2);
        const gates: GateSetInput = {
          httpChecks: [
            {
              name: 'login',
              method: 'POST',
              url: `${env.app.url}/login`,
              headers: { Authorization: { secret, jsonKey: 'token', prefix: 'Bearer ' } },
              body: { user: 'probe' },
            },
            {
              name: 'health score',
              url: `${env.app.url}/health.json`,
              json: [{ path: '$.score', op: '>', value: 80 }],
            },
          ],
          burnRates: [
            {
              name: 'checkout SLO',
              errors: slo('Errors'),
              requests: slo('Requests'),
              slo: 99.9,
              longWindow: '2m',
              shortWindow: '30s',
              period: '10s',
            },
          ],
        };
        const input = env.input({ steps: [100], bakeTime: '2s', checkInterval: '1s', blueStandby: '2m', gates });
        const { workflowId, handle } = await start(client, taskQueue, input);
        const standby = await waitForStatus(
          client,
          workflowId,
          (s) => s.traffic?.phase === 'blue standby' && (s.readings ?? []).length >= 3,
          40_000,
        );
        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
        const latest = (g: string) => standby.readings?.filter((r) => r.gate === g).at(-1);
        expect(latest('login')).toMatchObject({ kind: 'http', value: 200, verdict: 'pass', detail: 'POST /login 200' });
        expect(latest('health score')).toMatchObject({
          kind: 'http',
          verdict: 'pass',
          detail: 'GET /health.json 200; $.score = 95 (expected > 80)',
        });
        expect(latest('checkout SLO')).toMatchObject({
          kind: 'burn-rate',
          value: 'burn rate 0.4x over 2m, 0.4x over 30s',
          threshold: 'fails when both windows burn > 14.4x (SLO 99.9 %)',
          verdict: 'pass',
        });

        // The app degrades while blue stands by: no one signals, the watch rolls back.
        env.app.setScore(40);
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.GateFailed);
        expect(failure.message).toContain(
          'rolled back during the blue standby: gate health score (http) read 200 [GET 200, $.score > 80] at 100% green: ' +
            'GET /health.json 200; $.score = 40 (expected > 80) FAILS',
        );
        const report = failure.report as Report;
        expect(report.timeline.map((s) => s.name)).not.toContain('Decommission blue');
        await expectRolledBack(env, before, report);
        // The credential stayed in the activity: the history holds the secret's name, never its value.
        const history = await historyText(handle);
        expect(history).toContain(secret);
        expect(history).not.toContain(DEMO_LOGIN_TOKEN);
      }),
    );
  });
});

describe('blueGreenDeploy gates under realistic AWS', () => {
  it('a sustained breach rolls back through throttled CloudWatch and Route 53 PENDING changes', async () => {
    await withRealisticWorker(
      { minuteMs: 200, faults: [{ name: 'throttle-storm', rate: 0.25 }] },
      async ({ client, taskQueue, aws, layer }) =>
        withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
          const before = await env.snapshot();
          await putEvery5s(aws, env.metric, -60, 180, 1);
          const input = env.input({
            steps: [50, 100],
            bakeTime: '3m',
            checkInterval: '2s',
            stableTimeout: '2m',
            gates: { metrics: [sustainedGate(env)] },
          });
          const { workflowId } = await start(client, taskQueue, input);
          await waitForStatus(
            client,
            workflowId,
            (s) => baking(50)(s) && (s.readings ?? []).some((r: GateReading) => r.step === 50),
            90_000,
          );
          await putEvery5s(aws, env.metric, -40, 180, 40);
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.GateFailed);
          expect(failure.message).toContain(`rolled back: gate error rate (metric) read ${WINDOW_TEXT(3)}`);
          // The gate's reads went through the storm (some throttled, retried) and the run still judged and rolled back.
          const reads = layer.calls().filter((c) => c.operation === 'GetMetricData');
          expect(reads.length).toBeGreaterThan(0);
          expect(layer.calls().some((c) => c.fault === 'throttle-storm')).toBe(true);
          // Each weight change (the shift and the rollback) was PENDING and waited for.
          expect(layer.calls().filter((c) => c.operation === 'GetChange' && c.status === 200).length).toBeGreaterThan(
            1,
          );
          await expectRolledBack(env, before, failure.report as Report);
        }),
    );
  });
});
