// blueGreenDeploy — seed 000 "Blue-Green Deployment" (register the revision, deploy green, wait healthy, shift
// 30 → 50 → 100), seed 002 "Standard Deployment (Blue-Green)" (soaks watching error rate and p95, explicit rollback
// criteria, blue on standby for an hour, then decommissioned), seed 001 "Rollback Blue/Green" and "Emergency
// Rollback (ALB Listener)". Every wait is bounded and every gate reading is recorded and shown.
import { condition, setHandler } from '@temporalio/workflow';
import { abortDeploySignal, pauseSignal, promoteSignal, resumeSignal, rollbackSignal } from '../api/definitions';
import { formatDuration, parseDuration } from '../api/duration';
import {
  abortPayload,
  blueGreenInput,
  blueGreenWorkflowId,
  promotePayload,
  toPercent,
  type BlueGreenInput,
  type BlueGreenParams,
  type BlueGreenResult,
  type RouterWeights,
} from '../api/runbooks/blue-green';
import { ecsServiceKey } from '../api/runbooks/ecs';
import type { RecordSet } from '../api/runbooks/dns-failover';
import type { GateReading, PlannedAction, RunbookReport } from '../api/status';
import { fail } from './lib/errors';
import { checkGates, describeReading, type Gates } from './lib/gates';
import { describeHealth, verifyHealth } from './lib/health';
import { aws, waits } from './lib/proxies';
import { runRunbook } from './lib/runbook';

const short = (arn: string) => arn.split('/').pop() ?? arn;

/** The router behind one interface: read the split, set it, put the saved state back. */
interface Router {
  describe: string;
  weights(): Promise<RouterWeights>;
  set(greenPercent: number): Promise<void>;
  restore(): Promise<void>;
  greenTargetGroupArn?: string;
}

async function openRouter(
  p: BlueGreenParams,
  label: string,
): Promise<{ router: Router; saved: unknown; weights: RouterWeights }> {
  const r = p.router;
  if (r.kind === 'route53-weighted') {
    const zone = await aws.resolveHostedZone({ zone: r.hostedZone });
    const saved = await aws.listRecordSets({ hostedZoneId: zone.id, name: r.record.name, type: r.record.type });
    const find = (id: string, colour: string): RecordSet => {
      const rec = saved.find((x) => x.SetIdentifier === id);
      if (!rec || rec.Weight === undefined) {
        throw fail(
          'ResourceNotFound',
          `no weighted ${r.record.name} ${r.record.type} record with set identifier "${id}" for ${colour} ` +
            `(found: ${saved.map((x) => x.SetIdentifier ?? '(simple)').join(', ') || 'none'})`,
        );
      }
      return rec;
    };
    const blue = find(r.blueSetIdentifier, 'blue');
    const green = find(r.greenSetIdentifier, 'green');
    const read = async () => {
      const now = await aws.listRecordSets({ hostedZoneId: zone.id, name: r.record.name, type: r.record.type });
      const w = (id: string) => now.find((x) => x.SetIdentifier === id)?.Weight ?? 0;
      return toPercent(w(r.blueSetIdentifier), w(r.greenSetIdentifier));
    };
    return {
      saved,
      weights: toPercent(blue.Weight ?? 0, green.Weight ?? 0),
      router: {
        describe: `Route 53 ${r.record.name} ${r.record.type} [${r.blueSetIdentifier} / ${r.greenSetIdentifier}]`,
        weights: read,
        async set(g) {
          const change = await aws.changeRecordSets({
            hostedZoneId: zone.id,
            comment: `blueGreenDeploy ${label}: ${g}% green`,
            changes: [
              { action: 'UPSERT', recordSet: { ...blue, Weight: 100 - g } },
              { action: 'UPSERT', recordSet: { ...green, Weight: g } },
            ],
          });
          await waits.waitForChangeInsync({ changeId: change.changeId, timeoutMs: 10 * 60_000 });
        },
        async restore() {
          const res = await aws.restoreRecordSets({
            hostedZoneId: zone.id,
            name: r.record.name,
            type: r.record.type,
            saved,
            comment: `blueGreenDeploy ${label}: back to blue`,
          });
          if (res.changeId) await waits.waitForChangeInsync({ changeId: res.changeId, timeoutMs: 10 * 60_000 });
        },
      },
    };
  }
  const alb = await aws.resolveAlbRouter({
    region: p.region,
    ...(r.listener ? { listener: r.listener } : {}),
    ...(r.rule ? { rule: r.rule } : {}),
    ...(r.loadBalancer ? { loadBalancer: r.loadBalancer } : {}),
    port: r.port,
    blueTargetGroup: r.blueTargetGroup,
    greenTargetGroup: r.greenTargetGroup,
  });
  const ref = { region: alb.region, kind: alb.kind, arn: alb.arn, blueArn: alb.blueArn, greenArn: alb.greenArn };
  return {
    saved: alb.actions,
    weights: alb.weights,
    router: {
      describe: `ALB ${alb.kind} ${short(alb.arn)} [${short(alb.blueArn)} / ${short(alb.greenArn)}]`,
      weights: () => aws.getAlbWeights(ref),
      async set(g) {
        await aws.setAlbWeights({ ...ref, greenPercent: g });
      },
      async restore() {
        await aws.restoreAlbActions({ region: ref.region, kind: ref.kind, arn: ref.arn, actions: alb.actions });
      },
      ...(p.gates.targetHealth ? { greenTargetGroupArn: alb.greenArn } : {}),
    },
  };
}

export async function blueGreenDeploy(input: BlueGreenInput): Promise<RunbookReport<BlueGreenResult>> {
  // Operator signals, registered before anything else so none is lost.
  let aborted: { by: string; reason: string; kind: 'abort' | 'rollback' } | undefined;
  let paused: { by: string; since: number } | undefined;
  let promotions = 0;
  let standby = false;
  setHandler(abortDeploySignal, (raw) => {
    const v = abortPayload.safeParse(raw);
    if (v.success && !aborted) aborted = { ...v.data, kind: 'abort' };
  });
  setHandler(rollbackSignal, (raw) => {
    const v = abortPayload.safeParse(raw);
    if (v.success && !aborted && standby) aborted = { ...v.data, kind: 'rollback' };
  });
  setHandler(pauseSignal, (raw) => {
    const v = promotePayload.safeParse(raw);
    if (v.success && !paused) paused = { by: v.data.by, since: Date.now() };
  });
  setHandler(resumeSignal, (raw) => {
    if (promotePayload.safeParse(raw).success) paused = undefined;
  });
  setHandler(promoteSignal, (raw) => {
    if (promotePayload.safeParse(raw).success) promotions++;
  });

  return runRunbook({
    runbook: 'blueGreenDeploy',
    schema: blueGreenInput,
    rawInput: input,
    target: (p) => ecsServiceKey({ region: p.region, cluster: p.cluster, service: p.blueService }),
    lockId: (p) => blueGreenWorkflowId(p),
    async execute(ctx) {
      const p = ctx.params;
      const blueRef = { region: p.region, cluster: p.cluster, service: p.blueService };
      const greenRef = { region: p.region, cluster: p.cluster, service: p.greenService };
      const stableTimeoutMs = parseDuration(p.stableTimeout);
      const readings: GateReading[] = [];
      ctx.tracker.status.readings = readings;
      const showTraffic = (w: RouterWeights, extra: { step?: number; phase?: string } = {}) => {
        ctx.tracker.status.traffic = { ...w, ...extra, ...(paused ? { paused: true } : {}) };
        ctx.tracker.refresh();
      };
      const stop = (why: string) => {
        const a = aborted!;
        return fail(
          'RolledBack',
          `rolled back ${why}: ${a.kind === 'abort' ? 'abort' : 'rollback'} by ${a.by} (${a.reason})`,
        );
      };

      // 1. Preflight (read only): blue serving 100 %, green exists, alarms exist; record the exact router state.
      const pre = await ctx.step(
        'Preflight: services, router, alarms',
        async () => {
          const blue = await aws.describeService(blueRef);
          const green = await aws.describeService(greenRef);
          const opened = await openRouter(p, ctx.workflowId);
          const alarms = p.gates.alarms.length
            ? await aws.describeAlarms({ region: p.region, names: p.gates.alarms })
            : { alarms: [], missing: [] };
          const given =
            'taskDefinition' in p.version
              ? await aws.describeTaskDefinition({ region: p.region, taskDefinition: p.version.taskDefinition })
              : undefined;
          return { blue, green, ...opened, alarms, given };
        },
        {
          details: (r) => ({
            blue: `${r.blue.desiredCount} tasks on ${short(r.blue.taskDefinition)}`,
            green: `${r.green.desiredCount} tasks on ${short(r.green.taskDefinition)}`,
            router: r.router.describe,
            traffic: `blue ${r.weights.blue}% / green ${r.weights.green}%`,
            savedRouterState: r.saved,
          }),
        },
      );
      await ctx.step('Safety checks: blue serves all traffic, alarms exist', async () => {
        if (pre.weights.green !== 0) {
          throw fail(
            'PreconditionFailed',
            `blue is not serving 100 % (${pre.router.describe} holds blue ${pre.weights.blue}% / green ${pre.weights.green}%): ` +
              `finish or roll back the previous deployment first`,
          );
        }
        if (pre.alarms.missing.length) {
          throw fail(
            'ResourceNotFound',
            `CloudWatch alarm(s) not found in ${p.region}: ${pre.alarms.missing.join(', ')}`,
          );
        }
        if (pre.given && pre.given.status !== 'ACTIVE') {
          throw fail('PreconditionFailed', `${short(pre.given.arn)} is ${pre.given.status}, not ACTIVE`);
        }
      });
      showTraffic(pre.weights, { phase: 'preflight' });
      const desiredCount = Math.max(1, pre.blue.desiredCount);

      const plan: PlannedAction[] = [
        ...('image' in p.version
          ? [
              {
                step: 'Register the green revision',
                action: 'ecs:RegisterTaskDefinition',
                params: {
                  from: short(pre.blue.taskDefinition),
                  image: p.version.image,
                  ...(p.version.container ? { container: p.version.container } : {}),
                },
              },
            ]
          : []),
        {
          step: 'Deploy green',
          action: 'ecs:UpdateService',
          params: {
            ...greenRef,
            desiredCount,
            taskDefinition: 'image' in p.version ? '(the new revision)' : short(pre.given!.arn),
            from: `${pre.green.desiredCount} on ${short(pre.green.taskDefinition)}`,
          },
        },
        ...p.steps.map((w) => ({
          step: `Shift ${w}% to green${w === 100 && p.approval.required ? ' (after approval)' : ''}`,
          action:
            p.router.kind === 'route53-weighted'
              ? 'route53:ChangeResourceRecordSets'
              : 'elasticloadbalancing:Modify' + (p.router.rule ? 'Rule' : 'Listener'),
          params: { blue: 100 - w, green: w, bake: p.bakeTime },
        })),
        { step: 'Blue standby', action: 'wait', params: { for: p.blueStandby, rollbackSignal: 'rollback' } },
        {
          step: 'Decommission blue',
          action: 'ecs:UpdateService',
          params: { ...blueRef, desiredCount: 0, from: pre.blue.desiredCount },
        },
      ];
      ctx.planned(plan);

      // 2. Deploy green: the revision, blue's count on it, stable, healthy. Compensation: green back as recorded.
      let greenTd: string;
      if ('image' in p.version) {
        const v = p.version;
        const rev = await ctx.change(
          'Register the green revision',
          () =>
            aws.registerRevisionWithImage({
              region: p.region,
              taskDefinition: pre.blue.taskDefinition,
              image: v.image,
              ...(v.container ? { container: v.container } : {}),
            }),
          { details: (r) => ({ taskDefinition: short(r.arn), created: r.created, image: v.image }) },
        );
        greenTd = rev.arn;
      } else {
        greenTd = pre.given!.arn;
      }
      if (aborted) throw stop('before any change to green');
      const recordedGreen = { desiredCount: pre.green.desiredCount, taskDefinition: pre.green.taskDefinition };
      await ctx.change(
        'Deploy green',
        () => aws.updateService({ ...greenRef, desiredCount, taskDefinition: greenTd }),
        {
          params: { desiredCount, taskDefinition: short(greenTd) },
          undo: () => ({
            name: `scale green back to ${recordedGreen.desiredCount} tasks on ${short(recordedGreen.taskDefinition)}`,
            run: () => aws.updateService({ ...greenRef, ...recordedGreen }),
          }),
        },
      );
      await ctx.step('Wait until green is stable', () =>
        waits.waitForServiceStable({
          ...greenRef,
          timeoutMs: stableTimeoutMs,
          expect: { desiredCount, taskDefinition: greenTd },
        }),
      );
      if (p.gates.greenHealth) {
        const check = p.gates.greenHealth;
        const h = await ctx.step('Verify green health', () => verifyHealth(check), {
          details: (r) => ({ summary: describeHealth(r) }),
        });
        readings.push({
          at: new Date().toISOString(),
          step: 0,
          gate: 'green health',
          kind: 'health',
          value: h.lastStatus ?? h.lastError ?? null,
          threshold: `${check.consecutive} consecutive ${check.expectStatus}`,
          verdict: h.healthy ? 'pass' : 'fail',
          detail: describeHealth(h),
        });
        if (!h.healthy) throw fail('GateFailed', `green is not healthy before any traffic moved: ${describeHealth(h)}`);
      }

      // 3. Shift traffic step by step; bake each step, checking every gate each interval.
      const gates: Gates = {
        region: p.region,
        alarms: p.gates.alarms,
        metrics: p.gates.metrics,
        greenHealth: p.gates.greenHealth,
        greenTargetGroupArn: pre.router.greenTargetGroupArn,
      };
      const bakeMs = parseDuration(p.bakeTime);
      const intervalMs = parseDuration(p.checkInterval);
      const maxPauseMs = parseDuration(p.maxPause);
      const weightsPerStep: BlueGreenResult['weightsPerStep'] = [];
      let routerUndo = false;

      for (const weight of p.steps) {
        if (weight === 100) {
          const failing = readings.filter((r) => r.verdict === 'fail').length;
          await ctx.approval(
            `shift the last ${100 - (weightsPerStep.at(-1)?.weights.green ?? 0)}% to green (100 % green, blue on standby ` +
              `${p.blueStandby}). Readings so far: ${readings.length} (${failing} failing); latest: ` +
              (latestPerGate(readings).map(describeReading).join('; ') || 'none'),
            'Approval before 100 %',
          );
        }
        if (aborted) throw stop(`before the ${weight}% step`);
        await ctx.change(`Shift ${weight}% to green`, () => pre.router.set(weight), {
          params: { blue: 100 - weight, green: weight },
        });
        if (!routerUndo) {
          // Pushed after green's compensation, so a rollback moves traffic back to blue first, then scales green back.
          routerUndo = true;
          ctx.compensations.push(`traffic back to blue 100% (${pre.router.describe} as it was)`, () =>
            pre.router.restore(),
          );
        }
        const held = await ctx.step(`Read the router at ${weight}%`, () => pre.router.weights(), {
          details: (w) => ({ blue: w.blue, green: w.green }),
        });
        weightsPerStep.push({ step: weight, weights: held });
        showTraffic(held, { step: weight, phase: 'bake' });

        // Bake: check the gates every interval for bakeTime. Pause holds the progression (checks go on), promote
        // skips the rest of the bake (gates are still checked once), abort rolls back at once.
        await ctx.step(
          `Bake ${weight}% for ${formatDuration(bakeMs)}`,
          async () => {
            const started = Date.now();
            const promotionsAtStart = promotions;
            for (let check = 1; ; check++) {
              const now = await checkGates(gates, weight, Math.max(intervalMs, 60_000));
              readings.push(...now);
              showTraffic(held, { step: weight, phase: 'bake' });
              const failed = now.find((r) => r.verdict === 'fail');
              if (failed) throw fail('GateFailed', `rolled back: gate ${describeReading(failed)}`);
              if (aborted) throw stop(`during the ${weight}% bake`);
              if (paused && Date.now() - paused.since > maxPauseMs) {
                throw fail(
                  'RolledBack',
                  `rolled back: paused by ${paused.by} for longer than maxPause (${p.maxPause})`,
                );
              }
              const done = promotions > promotionsAtStart || Date.now() - started >= bakeMs;
              if (done && !paused) return { checks: check, promoted: promotions > promotionsAtStart };
              const seen = promotions;
              const wasPaused = !!paused;
              const wait = paused ? intervalMs : Math.min(intervalMs, Math.max(0, bakeMs - (Date.now() - started)));
              await condition(
                () => aborted !== undefined || promotions !== seen || !!paused !== wasPaused,
                Math.max(wait, 1),
              );
            }
          },
          { details: (r) => ({ checks: r.checks, promoted: r.promoted }) },
        );
      }

      // 4. 100 % green: blue stays up for blueStandby; a rollback signal in that time sends all traffic back.
      standby = true;
      ctx.tracker.setState('waiting');
      showTraffic(weightsPerStep.at(-1)?.weights ?? { blue: 0, green: 100 }, { step: 100, phase: 'standby' });
      const rolledBack = await ctx.step(
        `Blue standby for ${p.blueStandby} (signal "rollback" sends traffic back)`,
        () => condition(() => aborted !== undefined, parseDuration(p.blueStandby)),
      );
      ctx.tracker.setState('running');
      if (rolledBack) throw stop('during the blue standby');
      // Accepted: from here nothing is rolled back.
      ctx.compensations.clear();
      await ctx.change('Decommission blue', () => aws.updateService({ ...blueRef, desiredCount: 0 }), {
        params: { from: pre.blue.desiredCount },
      });
      await ctx.step('Wait until blue has stopped', () =>
        waits.waitForServiceStable({ ...blueRef, timeoutMs: stableTimeoutMs, expect: { desiredCount: 0 } }),
      );
      const finalWeights = await pre.router.weights();
      showTraffic(finalWeights, { step: 100, phase: 'done' });

      return {
        outcome: 'promoted',
        greenTaskDefinition: greenTd,
        blueTaskDefinition: pre.blue.taskDefinition,
        desiredCount,
        finalWeights,
        weightsPerStep,
        readings,
        blueDecommissionedAt: new Date().toISOString(),
      };
    },
  });
}

/** The newest reading of each gate. */
function latestPerGate(readings: GateReading[]): GateReading[] {
  const byGate = new Map<string, GateReading>();
  for (const r of readings) byGate.set(r.gate, r);
  return [...byGate.values()];
}
