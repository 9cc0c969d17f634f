// blueGreenDeploy end to end: real dev server, real worker, every test in an environment of its own
// (test/helpers/env/blue-green-env.ts). The outcome is read back through the SDK: the router's weights while each step
// bakes and after the run (Route 53 weighted records or the ALB listener's forward action), the blue and green
// services' counts and revisions, the image of the revision green runs.
import { DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  abortDeploySignal,
  approveSignal,
  pauseSignal,
  promoteSignal,
  rejectSignal,
  resumeSignal,
  rollbackSignal,
  statusQuery,
} from '../../api/definitions';
import { FailureType } from '../../api/failures';
import { blueGreenWorkflowId, type BlueGreenInput, type BlueGreenResult } from '../../api/runbooks/blue-green';
import type { GateReading, RunbookReport, RunbookStatus } from '../../api/status';
import {
  BLUE_IMAGE,
  watchRouter,
  withBlueGreenEnv,
  type BlueGreenEnv,
  type BlueGreenSnapshot,
  type RouterKind,
  type RouterWatch,
} from '../helpers/env/blue-green-env';
import { ensureTaskDefinitions } from '../../scripts/lib/fixtures';
import { makeControlledService, serviceState } from '../helpers/env/aws-fixtures';
import { cli } from '../helpers/cli';
import { activityTypes, workerIdentities } from '../helpers/history';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

afterAll(closeConnections);

type Report = RunbookReport<BlueGreenResult>;

/** Start a deployment under its derived workflow ID, as the CLI does. */
async function start(
  client: Client,
  taskQueue: string,
  input: BlueGreenInput,
  workflowId = blueGreenWorkflowId(input),
) {
  const handle = await client.workflow.start('blueGreenDeploy', { taskQueue, workflowId, args: [input] });
  return { workflowId, handle: handle as WorkflowHandle };
}

/**
 * Start a deployment with the router watched from before the start (test/helpers/env/blue-green-env.ts watchRouter), run
 * `during` (signals, checks) and wait for the result.
 */
async function runWatched(
  client: Client,
  taskQueue: string,
  env: BlueGreenEnv,
  input: BlueGreenInput,
  during: (handle: WorkflowHandle, workflowId: string) => Promise<void> = async () => undefined,
): Promise<{ report: Report; watch: RouterWatch; handle: WorkflowHandle }> {
  const watch = await watchRouter(env);
  try {
    const { workflowId, handle } = await start(client, taskQueue, input);
    await during(handle, workflowId);
    return { report: (await handle.result()) as Report, watch, handle };
  } finally {
    await watch.stop();
  }
}

const baking = (step: number) => (s: RunbookStatus) => s.traffic?.phase === 'bake' && s.traffic.step === step;
const names = (r: { timeline: { name: string }[] } | undefined) => (r?.timeline ?? []).map((s) => s.name);
const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;
const stripDot = (s: string | undefined) => (s ?? '').replace(/\.$/, '');

/** The router state before the run with only the weights changed to blue/green. */
function withWeights(env: BlueGreenEnv, before: BlueGreenSnapshot, blue: number, green: number): unknown {
  if (env.router.kind === 'route53') {
    const recordName = env.router.zone.recordName;
    return (before.router as ResourceRecordSet[]).map((r) =>
      stripDot(r.Name) === recordName && r.SetIdentifier
        ? { ...r, Weight: r.SetIdentifier === 'blue' ? blue : green }
        : r,
    );
  }
  const { blueArn, greenArn } = env.router;
  return (before.router as Action[]).map((a) =>
    a.Type !== 'forward'
      ? a
      : {
          ...a,
          ForwardConfig: {
            ...a.ForwardConfig,
            TargetGroups: a.ForwardConfig!.TargetGroups!.map((g) =>
              g.TargetGroupArn === blueArn
                ? { ...g, Weight: blue }
                : g.TargetGroupArn === greenArn
                  ? { ...g, Weight: green }
                  : g,
            ),
          },
        },
  );
}

/**
 * A rolled-back run: the router exactly as saved (blue 100 / green 0), green back to its recorded count and revision,
 * blue untouched; the report lists the compensations, traffic back first, then green.
 */
async function expectRolledBack(env: BlueGreenEnv, before: BlueGreenSnapshot, report: Report | undefined) {
  const after = await env.snapshot();
  expect(await env.weights()).toEqual({ blue: 100, green: 0 });
  expect(after.router).toEqual(before.router);
  expect(after.green).toEqual(before.green);
  expect(after.blue).toEqual(before.blue);
  const compensations = report?.compensations ?? [];
  expect(compensations.map((c) => c.outcome)).toEqual(['succeeded', 'succeeded']);
  expect(compensations[0]?.name).toMatch(/^traffic back to blue 100% \((Route 53|ALB) .* as it was\)$/);
  expect(compensations[1]?.name).toBe(`scale green back to 0 tasks on ${env.family}:1`);
  expect(Date.parse(compensations[0]!.endedAt)).toBeLessThanOrEqual(Date.parse(compensations[1]!.startedAt));
}

const TIMELINE = (bake: string, approval: 'succeeded' | 'skipped') => [
  ['Acquire resource', 'succeeded'],
  ['Preflight: services, router, alarms', 'succeeded'],
  ['Safety checks: blue serves all traffic, alarms exist', 'succeeded'],
  ['Lock resources', 'succeeded'],
  ['Register the green revision', 'succeeded'],
  ['Deploy green', 'succeeded'],
  ['Wait until green is stable', 'succeeded'],
  ['Check every gate before any traffic moves', 'succeeded'],
  ['Shift 30% to green', 'succeeded'],
  ['Read the router at 30%', 'succeeded'],
  [`Bake 30% for ${bake}`, 'succeeded'],
  ['Shift 50% to green', 'succeeded'],
  ['Read the router at 50%', 'succeeded'],
  [`Bake 50% for ${bake}`, 'succeeded'],
  ['Approval before 100 %', approval],
  ['Shift 100% to green', 'succeeded'],
  ['Read the router at 100%', 'succeeded'],
  [`Bake 100% for ${bake}`, 'succeeded'],
  ['Blue standby for 2s (signal "rollback" sends traffic back)', 'succeeded'],
  ['Decommission blue', 'succeeded'],
  ['Wait until blue has stopped', 'succeeded'],
];

describe.concurrent('blueGreenDeploy: complete deployments', () => {
  for (const kind of ['route53', 'alb'] as RouterKind[]) {
    it(`${kind}: 30 → 50 → 100 held in order while baking, approval before 100 %, blue decommissioned after the standby`, async () => {
      await withWorker(({ client, taskQueue, aws }) =>
        withBlueGreenEnv(aws, { router: kind }, async (env) => {
          const before = await env.snapshot();
          expect(await env.weights()).toEqual({ blue: 100, green: 0 });
          const input = env.input({
            bakeTime: '3s',
            reason: 'release 2.0',
            initiatedBy: 'alice',
            approval: { required: true, timeout: '1m' },
          });
          const { report, watch, handle } = await runWatched(client, taskQueue, env, input, async (h, workflowId) => {
            const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 30_000);
            expect(waiting.pendingApproval?.gate).toBe('Approval before 100 %');
            expect(waiting.pendingApproval?.summary).toContain('shift the last 50% to green');
            expect(waiting.traffic).toMatchObject({ blue: 50, green: 50, step: 50 });
            expect(await env.weights()).toEqual({ blue: 50, green: 50 }); // nothing past 50 % before the approval

            await h.signal(approveSignal, { by: 'alice' }); // the initiator: refused, second person required
            await h.signal(approveSignal, { by: 'bob', comment: 'dashboards look fine' });
          });

          // What the router held (read through the SDK) while the run baked each step, and every split it went
          // through: 30, 50, 100 in order, nothing skipped or repeated.
          expect(watch.bakes(report)).toEqual([
            { step: 30, weights: { blue: 70, green: 30 } },
            { step: 50, weights: { blue: 50, green: 50 } },
            { step: 100, weights: { blue: 0, green: 100 } },
          ]);
          expect(watch.greenSeen).toEqual([0, 30, 50, 100]);

          // The report.
          expect(report.outcome).toBe('succeeded');
          expect(report.initiatedBy).toBe('alice');
          expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual(TIMELINE('3s', 'succeeded'));
          expect(report.approvals).toMatchObject([
            { by: 'alice', decision: 'approve', accepted: false, refusal: expect.stringContaining('second person') },
            { by: 'bob', decision: 'approve', accepted: true, gate: 'Approval before 100 %' },
          ]);
          expect(report.durationMs).toBeGreaterThanOrEqual(3 * 3_000 + 2_000); // three bakes and the standby
          expect(report.durationMs).toBeLessThan(60_000);
          const r = report.result!;
          expect(r.outcome).toBe('promoted');
          expect(r.weightsPerStep).toEqual([
            { step: 30, weights: { blue: 70, green: 30 } },
            { step: 50, weights: { blue: 50, green: 50 } },
            { step: 100, weights: { blue: 0, green: 100 } },
          ]);
          expect(r.finalWeights).toEqual({ blue: 0, green: 100 });
          expect(r.blueTaskDefinition).toBe(env.revisions[0]);
          expect(r.desiredCount).toBe(2);
          // Readings: every gate, every step, each with its value, threshold and verdict.
          const readings = report.readings ?? [];
          expect(r.readingsTaken).toBe(readings.length); // fewer than the 300 the status keeps
          for (const reading of readings) {
            expect(reading).toEqual({
              at: expect.any(String),
              step: expect.any(Number),
              gate: expect.any(String),
              kind: expect.stringMatching(/^(alarm|health|target-health)$/),
              value: expect.anything(),
              threshold: expect.any(String),
              verdict: 'pass',
              ...(reading.detail ? { detail: reading.detail } : {}),
            });
          }
          expect(new Set(readings.map((x) => x.step))).toEqual(new Set([0, 30, 50, 100]));
          const byGate = (gate: string) => readings.filter((x) => x.gate === gate);
          expect(byGate(env.alarm)[0]).toMatchObject({ kind: 'alarm', value: 'OK', threshold: 'not ALARM' });
          expect(byGate('green health')[0]).toMatchObject({
            kind: 'health',
            value: 200,
            threshold: '2 consecutive 200',
          });
          if (kind === 'alb') {
            expect(byGate('green targets')[0]).toMatchObject({ value: '2/2 healthy', verdict: 'pass' });
          } else {
            expect(byGate('green targets')).toEqual([]);
          }
          // A bake reads every gate when it starts and again at least once before it ends.
          for (const step of [30, 50, 100]) {
            for (const gate of [env.alarm, 'green health']) {
              expect(byGate(gate).filter((x) => x.step === step).length, `${gate} at ${step}%`).toBeGreaterThanOrEqual(
                2,
              );
            }
          }

          // AWS, read back. The router: blue 0 / green 100, nothing else changed.
          expect(await env.weights()).toEqual({ blue: 0, green: 100 });
          const after = await env.snapshot();
          expect(after.router).toEqual(withWeights(env, before, 0, 100));
          // Blue: decommissioned after the standby, on the revision it had.
          expect(after.blue).toEqual({ desiredCount: 0, runningCount: 0, taskDefinition: env.revisions[0] });
          // Green: blue's previous count on a NEW revision whose image is the given one, all else as blue's.
          expect(after.revisions).toHaveLength(2);
          const newRevision = after.revisions[1]!;
          expect(after.revisions[0]).toBe(env.revisions[0]);
          expect(after.green).toEqual({ desiredCount: 2, runningCount: 2, taskDefinition: newRevision });
          expect(r.greenTaskDefinition).toBe(newRevision);
          const describeTd = async (td: string) =>
            (await aws.ecs(env.region).send(new DescribeTaskDefinitionCommand({ taskDefinition: td }))).taskDefinition!;
          const [blueTd, greenTd] = await Promise.all([describeTd(env.revisions[0]!), describeTd(newRevision)]);
          expect(greenTd.revision).toBe(2);
          expect(greenTd.containerDefinitions?.map((c) => c.image)).toEqual([env.image]);
          expect(blueTd.containerDefinitions?.map((c) => c.image)).toEqual([BLUE_IMAGE]);
          expect(greenTd.containerDefinitions?.map((c) => ({ ...c, image: undefined }))).toEqual(
            blueTd.containerDefinitions?.map((c) => ({ ...c, image: undefined })),
          );
          expect({ cpu: greenTd.cpu, memory: greenTd.memory, family: greenTd.family }).toEqual({
            cpu: blueTd.cpu,
            memory: blueTd.memory,
            family: blueTd.family,
          });

          const status = await handle.query(statusQuery);
          expect(status.state).toBe('succeeded');
          expect(status.traffic).toEqual({ blue: 0, green: 100, step: 100, phase: 'done' });
        }),
      );
    }, 60_000);
  }

  it('custom steps [10, 50, 100] (ALB found by load balancer name): the router holds 10, 50, 100', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        if (env.router.kind !== 'alb') throw new Error('ALB expected');
        const input = env.input({
          steps: [10, 50, 100],
          router: {
            kind: 'alb-weighted',
            loadBalancer: env.router.loadBalancerName,
            blueTargetGroup: env.router.blueTargetGroup,
            greenTargetGroup: env.router.greenTargetGroup,
          },
        });
        const { report, watch } = await runWatched(client, taskQueue, env, input);
        expect(report.outcome).toBe('succeeded');
        expect(watch.bakes(report)).toEqual([
          { step: 10, weights: { blue: 90, green: 10 } },
          { step: 50, weights: { blue: 50, green: 50 } },
          { step: 100, weights: { blue: 0, green: 100 } },
        ]);
        expect(watch.greenSeen).toEqual([0, 10, 50, 100]);
        expect(report.result?.weightsPerStep.map((w) => w.step)).toEqual([10, 50, 100]);
        expect(names(report).filter((n) => n.startsWith('Shift'))).toEqual([
          'Shift 10% to green',
          'Shift 50% to green',
          'Shift 100% to green',
        ]);
        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
        expect((await env.snapshot()).blue.desiredCount).toBe(0);
      }),
    );
  }, 60_000);
});

describe.concurrent('blueGreenDeploy: gates roll back', () => {
  it('an alarm raised during the 50 % bake: GateFailed naming the alarm and its reading; traffic back exactly, then green', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        const { workflowId, handle } = await start(client, taskQueue, env.input({ bakeTime: '1m' }));
        await waitForStatus(client, workflowId, (s) => !!s.readings?.some((r) => r.step === 30), 30_000);
        await handle.signal(promoteSignal, { by: 'gina' }); // on to 50 % (the alarm has passed at 30 %)
        await waitForStatus(client, workflowId, baking(50), 30_000);
        expect(await env.weights()).toEqual({ blue: 50, green: 50 });
        const why = 'Threshold Crossed: 3 datapoints were greater than the threshold (5.0)';
        await env.setAlarm('ALARM', why);

        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.GateFailed);
        expect(failure.message).toContain(`rolled back: gate ${env.alarm} (alarm) read ALARM [not ALARM] at 50% green`);
        expect(failure.message).toContain(why);
        expect(failure.message).toContain('Compensated: traffic back to blue 100%');
        const report = failure.report as Report;
        expect(report.timeline.find((s) => s.name === 'Bake 50% for 1m')?.outcome).toBe('failed');
        expect(names(report)).not.toContain('Shift 100% to green');

        // Route 53 exactly as it was (every record of the zone), green back to 0 tasks on revision 1.
        await expectRolledBack(env, before, report);

        // The status query shows the failing reading, after passing ones for the same alarm.
        const status = await handle.query(statusQuery);
        expect(status.state).toBe('failed');
        expect(status.traffic).toMatchObject({ blue: 100, green: 0, phase: 'rolled back' });
        const alarmReadings = (status.readings ?? []).filter((r) => r.gate === env.alarm);
        expect(alarmReadings.at(-1)).toEqual({
          at: expect.any(String),
          step: 50,
          gate: env.alarm,
          kind: 'alarm',
          value: 'ALARM',
          threshold: 'not ALARM',
          verdict: 'fail',
          detail: why,
        });
        expect(alarmReadings.filter((r) => r.verdict === 'pass').map((r) => r.step)).toContain(30);
        expect(alarmReadings.filter((r) => r.verdict === 'fail')).toHaveLength(1);
        expect(report.readings).toEqual(status.readings);
      }),
    );
  });

  it('green unhealthy before any traffic moved: rolled back with the router never changed, green scaled back', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        env.app.setHealthy(false);
        const before = await env.snapshot();
        const input = env.input({
          gates: {
            alarms: [env.alarm],
            greenHealth: { url: env.app.healthUrl, consecutive: 2, interval: '100ms', timeout: '1s' },
          },
        });
        const { workflowId } = await start(client, taskQueue, input);
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.GateFailed);
        expect(failure.message).toContain(
          'gate failed before any traffic moved: green health (health) read 503 [2 consecutive 200] at 0% green',
        );
        expect(failure.message).toContain(`${env.app.healthUrl} not healthy after`);
        expect(env.app.probes).toBeGreaterThan(0);
        const report = failure.report as Report;
        expect(report.timeline.find((s) => s.name === 'Check every gate before any traffic moves')?.outcome).toBe(
          'failed',
        );
        expect(names(report).filter((n) => n.startsWith('Shift') || n.startsWith('Bake'))).toEqual([]);
        // Every gate was read once, before any traffic moved; only green's health failed.
        expect(report.readings?.map((r) => [r.step, r.gate, r.value, r.verdict])).toEqual([
          [0, env.alarm, 'OK', 'pass'],
          [0, 'green health', 503, 'fail'],
          [0, 'green targets', '2/2 healthy', 'pass'],
        ]);
        // Only green to undo: the router was never touched.
        expect(report.compensations.map((c) => [c.name, c.outcome])).toEqual([
          [`scale green back to 0 tasks on ${env.family}:1`, 'succeeded'],
        ]);
        const after = await env.snapshot();
        expect(after.router).toEqual(before.router);
        expect(await env.weights()).toEqual({ blue: 100, green: 0 });
        expect(after.green).toEqual(before.green);
        expect(after.blue).toEqual(before.blue);
      }),
    );
  });

  it('a metric above its threshold: rolled back, the reading recorded with its value', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        const input = env.input({
          bakeTime: '1m',
          gates: {
            alarms: [],
            metrics: [
              { name: '5xx count', ...env.metric, stat: 'Maximum', period: '10s', comparison: '>', threshold: 5 },
            ],
          },
        });
        const { workflowId } = await start(client, taskQueue, input);
        // No datapoints yet: the gate passes (failWhenMissing is off) and says so.
        const quiet = await waitForStatus(client, workflowId, (s) => baking(30)(s) && (s.readings?.length ?? 0) > 0);
        expect(quiet.readings?.[0]).toMatchObject({
          gate: '5xx count',
          kind: 'metric',
          value: null,
          verdict: 'pass',
          detail: 'no datapoints in the window',
        });
        await env.putMetric(42);

        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.GateFailed);
        expect(failure.message).toContain('gate 5xx count (metric) read 42 [fails when Maximum > 5] at 30% green');
        const report = failure.report as Report;
        expect(report.readings?.at(-1)).toEqual({
          at: expect.any(String),
          step: 30,
          gate: '5xx count',
          kind: 'metric',
          value: 42,
          threshold: 'fails when Maximum > 5',
          verdict: 'fail',
        });
        await expectRolledBack(env, before, report);
      }),
    );
  });

  it('ALB target health: a green instance target that stops (unused) fails the gate; an empty green target group fails it too', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      Promise.all([
        withBlueGreenEnv(aws, { router: 'alb', greenTargets: 'instance' }, async (env) => {
          const instance = env.router.kind === 'alb' ? env.router.greenInstanceId! : '';
          const before = await env.snapshot();
          const { workflowId } = await start(client, taskQueue, env.input({ bakeTime: '1m' }));
          const healthy = await waitForStatus(
            client,
            workflowId,
            (s) => baking(30)(s) && !!s.readings?.some((r) => r.gate === 'green targets'),
            30_000,
          );
          expect(healthy.readings?.find((r) => r.gate === 'green targets')).toMatchObject({
            kind: 'target-health',
            value: '1/1 healthy',
            verdict: 'pass',
          });
          await env.stopGreenInstance();

          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.GateFailed);
          expect(failure.message).toContain(
            'gate green targets (target-health) read 0/1 healthy [all registered targets healthy] at 30% green',
          );
          expect(failure.message).toContain(`${instance}:8080 unused (Target.InvalidState)`);
          await expectRolledBack(env, before, failure.report as Report);
        }),
        withBlueGreenEnv(aws, { router: 'alb', greenTargets: 'none' }, async (env) => {
          const before = await env.snapshot();
          const { workflowId } = await start(client, taskQueue, env.input({ bakeTime: '1m' }));
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.GateFailed);
          expect(failure.message).toContain(
            'gate failed before any traffic moved: green targets (target-health) read 0/0 healthy',
          );
          expect(failure.message).toContain('no targets registered: green would answer 503');
          // Found before any traffic moved: the listener was never modified; only green is scaled back.
          expect(names(failure.report).filter((n) => n.startsWith('Shift'))).toEqual([]);
          expect(failure.report?.compensations.map((c) => c.name)).toEqual([
            `scale green back to 0 tasks on ${env.family}:1`,
          ]);
          expect(await env.snapshot()).toMatchObject({ router: before.router, green: before.green, blue: before.blue });
        }),
      ]),
    );
  });
});

describe.concurrent('blueGreenDeploy: operators roll back', () => {
  it('abort during a bake: RolledBack naming who and why; traffic back to blue, green scaled back', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        const before = await env.snapshot();
        const { workflowId, handle } = await start(client, taskQueue, env.input({ bakeTime: '1m' }));
        await waitForStatus(client, workflowId, baking(30), 30_000);
        await handle.signal(promoteSignal, { by: 'gina' });
        await waitForStatus(client, workflowId, baking(50), 30_000);
        // Through the CLI, as an operator does it.
        const abort = await cli('abort', workflowId, '--by', 'erin', '--reason', 'latency is up');
        expect(abort).toMatchObject({ code: 0, out: 'abort sent: rolling back' });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.RolledBack);
        expect(failure.message).toContain('rolled back during the 50% bake: abort by erin (latency is up)');
        await expectRolledBack(env, before, failure.report as Report);
      }),
    );
  });

  it('rollback during the blue standby: traffic back to blue, green scaled back, blue kept', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        const { workflowId, handle } = await start(client, taskQueue, env.input({ blueStandby: '1m' }));
        const standby = await waitForStatus(client, workflowId, (s) => s.traffic?.phase === 'blue standby', 30_000);
        expect(standby.state).toBe('waiting');
        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
        expect((await env.snapshot()).blue).toEqual(before.blue); // blue still up during the standby

        await handle.signal(rollbackSignal, { by: 'dave', reason: 'p99 regression' });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.RolledBack);
        expect(failure.message).toContain('rolled back during the blue standby: rollback by dave (p99 regression)');
        const report = failure.report as Report;
        expect(names(report)).not.toContain('Decommission blue');
        expect(names(report).filter((n) => n.startsWith('Shift'))).toHaveLength(3);
        await expectRolledBack(env, before, report);
      }),
    );
  });

  it('approval rejected, or not given in time, at the final step: rolled back from 50 %', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      Promise.all([
        withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
          const before = await env.snapshot();
          const input = env.input({ initiatedBy: 'alice', approval: { required: true, timeout: '1m' } });
          const { workflowId, handle } = await start(client, taskQueue, input);
          await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 30_000);
          expect(await env.weights()).toEqual({ blue: 50, green: 50 });
          await handle.signal(rejectSignal, { by: 'carol', reason: 'error budget spent' });
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.ApprovalRejected);
          expect(failure.message).toContain('rejected by carol: error budget spent');
          expect(names(failure.report)).not.toContain('Shift 100% to green');
          await expectRolledBack(env, before, failure.report as Report);
        }),
        withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
          const before = await env.snapshot();
          const input = env.input({ initiatedBy: 'alice', approval: { required: true, timeout: '3s' } });
          const { workflowId } = await start(client, taskQueue, input);
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.ApprovalTimedOut);
          expect(failure.message).toContain('no approval within 3s');
          expect(names(failure.report)).not.toContain('Shift 100% to green');
          await expectRolledBack(env, before, failure.report as Report);
        }),
      ]),
    );
  });

  it('abort, or an alarm, while waiting for the final approval ends the wait and rolls back from 50 %', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      Promise.all(
        (['abort', 'alarm'] as const).map((how) =>
          withBlueGreenEnv(aws, { router: how === 'abort' ? 'route53' : 'alb' }, async (env) => {
            const before = await env.snapshot();
            const input = env.input({ initiatedBy: 'alice', approval: { required: true, timeout: '1m' } });
            const { workflowId, handle } = await start(client, taskQueue, input);
            const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 30_000);
            expect(waiting.traffic).toMatchObject({ green: 50, phase: 'awaiting approval' });
            if (how === 'abort') await handle.signal(abortDeploySignal, { by: 'erin', reason: 'incident elsewhere' });
            else await env.setAlarm('ALARM', 'error rate up while waiting');
            // Well before the approval's 1m timeout.
            const failure = await Promise.race([
              expectFailure(client, workflowId),
              new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000)),
            ]);
            try {
              expect(failure, 'the run was still waiting for approval 15s later').toBeDefined();
              if (how === 'abort') {
                expect(failure?.type).toBe(FailureType.RolledBack);
                expect(failure?.message).toContain(
                  'rolled back while waiting for approval: abort by erin (incident elsewhere)',
                );
              } else {
                expect(failure?.type).toBe(FailureType.GateFailed);
                expect(failure?.message).toContain(
                  `rolled back: gate ${env.alarm} (alarm) read ALARM [not ALARM] at 50% green: error rate up while waiting`,
                );
              }
              expect(failure?.report?.timeline.find((s) => s.name === 'Approval before 100 %')?.outcome).toBe('failed');
              expect(names(failure?.report)).not.toContain('Shift 100% to green');
              await expectRolledBack(env, before, failure?.report as Report);
            } finally {
              if (!failure) await handle.terminate('test cleanup: the run did not end');
            }
          }),
        ),
      ),
    );
  });
});

describe.concurrent('blueGreenDeploy: pause, resume, promote', () => {
  it('pause holds the step past bakeTime while the gates are still checked; resume goes on', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        // 15s: the bake must still be on when the status poll sees it and the operator's pause lands, even while a CPU-heavy
        // test beside this one (a production build) slows this worker's queries by seconds (2s and 6s were missed in CI).
        const input = env.input({ steps: [50, 100], bakeTime: '15s' });
        const { workflowId, handle } = await start(client, taskQueue, input);
        await waitForStatus(client, workflowId, baking(50), 30_000);
        const pause = await cli('pause', workflowId, '--by', 'frank', '--json'); // the CLI, as an operator does it
        expect(pause.code).toBe(0);
        expect(JSON.parse(pause.out)).toEqual({ workflowId, signal: 'pause', by: 'frank', sent: true });
        const paused = await waitForStatus(client, workflowId, (s) => s.traffic?.paused === true);
        const at50 = (s: RunbookStatus) => (s.readings ?? []).filter((r: GateReading) => r.step === 50).length;
        const readingsAtPause = at50(paused);

        await new Promise((r) => setTimeout(r, 16_500)); // well past the 15s bake
        const held = await handle.query(statusQuery);
        expect(held.traffic).toMatchObject({ step: 50, paused: true, green: 50 });
        expect(held.currentStep).toBe('Bake 50% for 15s');
        expect(at50(held)).toBeGreaterThanOrEqual(readingsAtPause + 2 * 2); // two gates, checked every 1s
        expect(await env.weights()).toEqual({ blue: 50, green: 50 });

        expect(await cli('resume', workflowId, '--by', 'frank')).toMatchObject({ code: 0, out: 'resumed' });
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('succeeded');
        const late = await cli('promote', workflowId, '--by', 'frank');
        expect(late).toMatchObject({ code: 1, err: `error: refused: ${workflowId} has already succeeded` });
        const bake = report.timeline.find((s) => s.name === 'Bake 50% for 15s')!;
        expect(Date.parse(bake.endedAt!) - Date.parse(bake.startedAt)).toBeGreaterThanOrEqual(16_500);
        expect(bake.details).toMatchObject({ promoted: false });
        expect(bake.details?.checks).toBeGreaterThanOrEqual(4);
        const pausedAt = names(report).indexOf('paused by frank');
        expect(pausedAt).toBeGreaterThan(names(report).indexOf('Bake 50% for 15s'));
        expect(names(report).indexOf('resumed by frank')).toBeGreaterThan(pausedAt);
        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
      }),
    );
  }, 120_000);

  it('promote skips the rest of a 1h bake at each step', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        const input = env.input({ bakeTime: '1h', checkInterval: '10s' });
        const { workflowId, handle } = await start(client, taskQueue, input);
        for (const step of [30, 50, 100]) {
          await waitForStatus(client, workflowId, baking(step), 30_000);
          expect((await env.weights()).green).toBe(step);
          await handle.signal(promoteSignal, { by: 'gina' });
        }
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('succeeded');
        for (const step of [30, 50, 100]) {
          expect(report.timeline.find((s) => s.name === `Bake ${step}% for 1h`)?.details).toMatchObject({
            promoted: true,
          });
        }
        expect(count(names(report), 'promote by gina')).toBe(3); // who promoted, in the timeline
        expect(report.durationMs).toBeLessThan(60_000);
        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
        expect((await env.snapshot()).blue.desiredCount).toBe(0);
      }),
    );
  });

  it('a pause longer than maxPause rolls back', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        const before = await env.snapshot();
        const { workflowId, handle } = await start(client, taskQueue, env.input({ bakeTime: '1m', maxPause: '2s' }));
        await waitForStatus(client, workflowId, baking(30), 30_000);
        // Signals get no answer: a malformed one and one that cannot be taken now are recorded as refused, with why.
        await handle.signal(resumeSignal, { by: 'frank' });
        await handle.signal(pauseSignal, {} as { by: string });
        await handle.signal(pauseSignal, { by: 'frank' });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.RolledBack);
        expect(failure.message).toContain('rolled back: paused by frank for longer than maxPause (2s)');
        expect((failure.report as Report).signals?.map((g) => [g.signal, g.by, g.accepted, g.refusal])).toEqual([
          ['resume', 'frank', false, 'not paused'],
          ['pause', '(unknown)', false, expect.stringContaining('malformed pause: pause.by: ')],
          ['pause', 'frank', true, undefined],
        ]);
        await expectRolledBack(env, before, failure.report as Report);
        // Rolled back, no longer paused: the traffic line says so (the status query and the CLI's `status`).
        const status = await handle.query(statusQuery);
        expect(status.traffic).toEqual({ blue: 100, green: 0, phase: 'rolled back' });
        const shown = await cli('status', workflowId);
        expect(shown.out).toContain('TRAFFIC: blue 100% / green 0%   rolled back');
        expect(shown.out).not.toContain('PAUSED');
        // The refused signal is shown with the decisions, with why.
        expect(shown.out).toMatch(/resume by frank via signal: refused \(not paused\)/);
        expect(shown.out).toMatch(/pause by frank via signal: accepted/);
      }),
    );
  });
});

describe.concurrent('blueGreenDeploy: refusals change nothing', () => {
  it('steps that do not increase, go above 100 or do not end at 100: InvalidInput naming input.steps', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        const cases: [number[], string][] = [
          [[50, 30], 'input.steps: expected increasing weights'],
          [[30, 120], 'input.steps.1: '],
          [[30, 50], 'input.steps: expected the last step to be 100'],
        ];
        await Promise.all(
          cases.map(async ([steps, text]) => {
            const { workflowId } = await start(client, taskQueue, env.input({ steps }), uid('bg-invalid'));
            const failure = await expectFailure(client, workflowId);
            expect(failure.type, JSON.stringify(steps)).toBe(FailureType.InvalidInput);
            expect(failure.message).toContain(text);
            expect(failure.message).toContain('Nothing was changed');
          }),
        );
        expect(await env.snapshot()).toEqual(before);
      }),
    );
  });

  it('dry run: plans register, deploy, each shift, standby and decommission; changes nothing', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const before = await env.snapshot();
        const input = env.input({ dryRun: true, initiatedBy: 'alice', approval: { required: true, timeout: '1m' } });
        const { handle } = await start(client, taskQueue, input);
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('dry-run');
        expect(report.result).toBeUndefined();
        expect(report.plan?.map((p) => [p.step, p.action])).toEqual([
          ['Register the green revision', 'ecs:RegisterTaskDefinition'],
          ['Deploy green', 'ecs:UpdateService'],
          ['Shift 30% to green', 'route53:ChangeResourceRecordSets'],
          ['Shift 50% to green', 'route53:ChangeResourceRecordSets'],
          ['Shift 100% to green (after approval)', 'route53:ChangeResourceRecordSets'],
          ['Blue standby', 'wait'],
          ['Decommission blue', 'ecs:UpdateService'],
        ]);
        expect(report.plan?.[0]?.params).toMatchObject({ from: `${env.family}:1`, image: env.image });
        expect(report.plan?.[1]?.params).toMatchObject({ ...env.green, desiredCount: 2 });
        expect(report.plan?.[3]?.params).toMatchObject({ blue: 50, green: 50, bake: '2s' });
        expect(report.plan?.[6]?.params).toMatchObject({ ...env.blue, desiredCount: 0, from: 2 });
        expect(report.timeline.some((s) => s.mutating)).toBe(false);
        expect(names(report)).not.toContain('Acquire resource');
        expect(await env.snapshot()).toEqual(before);
      }),
    );
  });

  it('blue not serving 100 % (router at 70/30): PreconditionFailed; a missing alarm: refused naming it', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      Promise.all([
        withBlueGreenEnv(aws, { router: 'route53', weights: { blue: 70, green: 30 } }, async (env) => {
          const before = await env.snapshot();
          const { workflowId } = await start(client, taskQueue, env.input());
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.PreconditionFailed);
          expect(failure.message).toContain('blue is not serving 100 %');
          expect(failure.message).toContain('holds blue 70% / green 30%');
          expect(failure.message).toContain('Nothing was changed');
          expect(await env.snapshot()).toEqual(before);
        }),
        withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
          const before = await env.snapshot();
          const missing = `${env.id}-no-such-alarm`;
          const input = env.input({ gates: { alarms: [env.alarm, missing] } });
          const { workflowId } = await start(client, taskQueue, input);
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.ResourceNotFound);
          expect(failure.message).toContain(`CloudWatch alarm(s) not found in us-east-1: ${missing}`);
          expect(failure.message).not.toContain(`${env.alarm},`);
          expect(failure.message).toContain('Nothing was changed');
          expect(await env.snapshot()).toEqual(before);
        }),
      ]),
    );
  });

  it("ALB: services behind each other's target groups are refused naming both, changing nothing; a service with no load balancer is a warning", async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      Promise.all([
        withBlueGreenEnv(aws, { router: 'alb', services: 'swapped' }, async (env) => {
          const before = await env.snapshot();
          const { workflowId } = await start(client, taskQueue, env.input());
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.PreconditionFailed);
          const r = env.router as { blueTargetGroup: string; greenTargetGroup: string };
          expect(failure.message).toContain(
            `the router would send traffic to the wrong service: blue service ${env.blue.service} is behind ` +
              `${r.greenTargetGroup}, not ${r.blueTargetGroup} (that is green's); green service ${env.green.service} ` +
              `is behind ${r.blueTargetGroup}, not ${r.greenTargetGroup} (that is blue's)`,
          );
          expect(failure.message).toContain('Nothing was changed');
          expect(await env.snapshot()).toEqual(before);
        }),
        withBlueGreenEnv(aws, { router: 'alb', services: 'no-load-balancer' }, async (env) => {
          const { report } = await runWatched(
            client,
            taskQueue,
            env,
            env.input({ steps: [100], approval: { required: false } }),
          );
          expect(report.outcome).toBe('succeeded-with-warnings');
          expect(report.warnings).toContain(
            `${env.blue.service} declares no load balancer: could not check that it serves ` +
              `${(env.router as { blueTargetGroup: string }).blueTargetGroup} (blue)`,
          );
        }),
      ]),
    );
  });

  it('version.taskDefinition of another family (another application) is refused naming both, dry run or not; allowOtherFamily lets it through', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        const apiFamily = `${env.id}-api`;
        await ensureTaskDefinitions(aws.ecs(env.region), apiFamily, ['example/api:1.0']);
        const before = await env.snapshot();
        const version = { taskDefinition: `${apiFamily}:1` };
        const refusal =
          `version.taskDefinition ${apiFamily}:1 is a revision of ${apiFamily}, not of ${env.family} ` +
          `(${env.blue.service} runs ${env.family}:1)`;
        for (const dryRun of [true, false]) {
          const { workflowId } = await start(client, taskQueue, env.input({ version, dryRun }), uid('bg-family'));
          const failure = await expectFailure(client, workflowId);
          expect(failure.type, `dryRun ${dryRun}`).toBe(FailureType.PreconditionFailed);
          expect(failure.message).toContain(refusal);
          expect(failure.message).toContain('"allowOtherFamily": {"reason": "<why>"}');
          expect(failure.message).toContain('Nothing was changed');
        }
        expect(await env.snapshot()).toEqual(before);

        // Said explicitly, with a reason: the plan deploys it to green, and says it is allowed.
        const allowed = env.input({ version, dryRun: true, allowOtherFamily: { reason: 'web and api were merged' } });
        const report = (await (await start(client, taskQueue, allowed, uid('bg-family'))).handle.result()) as Report;
        expect(report.outcome).toBe('dry-run');
        expect(report.plan?.find((a) => a.step === 'Deploy green')?.params).toMatchObject({
          taskDefinition: `${apiFamily}:1`,
          allowOtherFamily: 'web and api were merged',
        });
        expect(await env.snapshot()).toEqual(before);
      }),
    );
  });

  it('ALB: blue and green the same target group (by name and by ARN) is refused as such, not as a 50/50 split', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'alb' }, async (env) => {
        const r = env.router as { listenerArn: string; blueTargetGroup: string; blueArn: string };
        const before = await env.snapshot();
        // The same name twice: the input is refused before the run does anything.
        const sameName = env.input({
          router: {
            kind: 'alb-weighted',
            listener: r.listenerArn,
            blueTargetGroup: r.blueTargetGroup,
            greenTargetGroup: r.blueTargetGroup,
          },
        });
        const byName = await start(client, taskQueue, sameName, uid('bg-same'));
        const invalid = await expectFailure(client, byName.workflowId);
        expect(invalid.type).toBe(FailureType.InvalidInput);
        expect(invalid.message).toContain(
          `input.router.greenTargetGroup: blue and green are the same target group ${r.blueTargetGroup}`,
        );
        // Its name for blue, its ARN for green: found when the names are resolved, before any change.
        const nameAndArn = env.input({
          router: {
            kind: 'alb-weighted',
            listener: r.listenerArn,
            blueTargetGroup: r.blueTargetGroup,
            greenTargetGroup: r.blueArn,
          },
        });
        const byArn = await start(client, taskQueue, nameAndArn, uid('bg-same'));
        const failure = await expectFailure(client, byArn.workflowId);
        expect(failure.type).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toContain(
          `blue and green are the same target group ${r.blueTargetGroup} (${r.blueArn})`,
        );
        expect(failure.message).not.toContain('blue is not serving 100 %');
        expect(failure.message).toContain('Nothing was changed');
        expect(await env.snapshot()).toEqual(before);
      }),
    );
  });

  // Route 53 sends traffic to every record of a group whose weights are all 0: that is a 50/50 split, not blue 100 %.
  it('a Route 53 pair at weights 0/0 (Route 53 splits it evenly) is refused like any split', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53', weights: { blue: 0, green: 0 } }, async (env) => {
        const before = await env.snapshot();
        // A dry run passes the same safety checks and changes nothing either way.
        const { workflowId } = await start(client, taskQueue, env.input({ dryRun: true }));
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toContain('blue is not serving 100 %');
        expect(await env.snapshot()).toEqual(before);
      }),
    );
  });
});

describe('blueGreenDeploy: durability', () => {
  it('the worker is killed during the 50 % bake and another takes over: the bake goes on, no step repeated or skipped', async () => {
    const { client, aws } = await testClients();
    await withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
      const taskQueue = uid('tq');
      const workers: WorkerProcess[] = [];
      try {
        workers.push(await startWorkerProcess(taskQueue));
        // Alarms only, checked every 2s: the kill lands while the run sleeps between checks, not inside an activity
        // (an activity on a SIGKILLed worker is retried only after its timeout).
        const input = env.input({ bakeTime: '5s', checkInterval: '2s', gates: { alarms: [env.alarm] } });
        let killedAt = 0;
        let restartedAt = 0;
        const { report, watch, handle } = await runWatched(client, taskQueue, env, input, async (_h, workflowId) => {
          // Just after a check at 50 %: the run sleeps until the next one.
          await waitForStatus(client, workflowId, (s) => baking(50)(s) && !!s.readings?.some((r) => r.step === 50));
          await workers[0]!.kill();
          killedAt = Date.now();
          expect(await env.weights()).toEqual({ blue: 50, green: 50 });
          workers.push(await startWorkerProcess(taskQueue));
          restartedAt = Date.now();
        });

        expect(report.outcome).toBe('succeeded');
        const steps = names(report);
        for (const step of ['Shift 30% to green', 'Shift 50% to green', 'Shift 100% to green', 'Bake 50% for 5s']) {
          expect(count(steps, step), step).toBe(1);
        }
        expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual(TIMELINE('5s', 'skipped'));
        expect(report.result?.weightsPerStep.map((w) => w.step)).toEqual([30, 50, 100]);
        expect(watch.greenSeen).toEqual([0, 30, 50, 100]);
        expect(watch.bakes(report).map((b) => b.step)).toEqual([30, 50, 100]);

        // The 50 % bake started before the kill and finished after the restart, having lasted its full 5s.
        const bake = report.timeline.find((s) => s.name === 'Bake 50% for 5s')!;
        expect(Date.parse(bake.startedAt)).toBeLessThan(killedAt);
        expect(Date.parse(bake.endedAt!)).toBeGreaterThan(restartedAt);
        expect(Date.parse(bake.endedAt!) - Date.parse(bake.startedAt)).toBeGreaterThanOrEqual(5_000);

        // Both workers ran this run's workflow tasks; each traffic shift was made exactly once.
        expect(await workerIdentities(handle)).toEqual(new Set(workers.map((w) => `worker-process-${w.pid}`)));
        const scheduled = await activityTypes(handle);
        expect(count(scheduled, 'changeRecordSets')).toBe(3);
        expect(count(scheduled, 'restoreRecordSets')).toBe(0);
        expect(count(scheduled, 'registerRevisionWithImage')).toBe(1);

        expect(await env.weights()).toEqual({ blue: 0, green: 100 });
        const after = await env.snapshot();
        expect(after.blue.desiredCount).toBe(0);
        expect(after.green).toMatchObject({ desiredCount: 2, runningCount: 2 });
        expect(after.revisions).toHaveLength(2);
      } finally {
        for (const w of workers) await w.kill();
      }
    });
  }, 120_000);
});

describe('blueGreenDeploy: what AWS says', () => {
  it('a green (or blue) service deployed by CodeDeploy is refused before any change, naming the service', async () => {
    await withWorker(({ client, taskQueue, aws }) =>
      withBlueGreenEnv(aws, { router: 'route53' }, async (env) => {
        const [td] = env.revisions as [string];
        for (const [colour, count, action] of [
          ['green', 0, 'deploy the new revision to it'],
          ['blue', 2, 'deploy the next release to it (the colours swap every release)'],
        ] as const) {
          const cd = await makeControlledService(aws, {
            region: env.region,
            cluster: env.cluster,
            taskDefinition: td,
            desiredCount: count,
            controller: 'CODE_DEPLOY',
          });
          const before = await env.snapshot();
          const cdBefore = await serviceState(aws, cd);
          const input = env.input(colour === 'green' ? { greenService: cd.service } : { blueService: cd.service });
          const { workflowId } = await start(client, taskQueue, input, uid('bg-cd'));
          const failure = await expectFailure(client, workflowId);
          expect(failure.type, colour).toBe(FailureType.PreconditionFailed);
          expect(failure.message).toBe(
            `${colour} service ${cd.service} (${env.region}/${env.cluster}/${cd.service}) uses the CODE_DEPLOY ` +
              `deployment controller, and AWS refuses a task-definition change or a forced deployment through ` +
              `UpdateService for such a service: this runbook would ${action}. To change it, deploy it through ` +
              `CodeDeploy (aws deploy create-deployment --application-name … --deployment-group-name …), or run this ` +
              `runbook on an ECS-controlled service. Nothing was changed.`,
          );
          expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
          expect(await env.snapshot()).toEqual(before); // router, blue, green, revisions
          expect(await serviceState(aws, cd)).toEqual(cdBefore);
        }
      }),
    );
  });
});
