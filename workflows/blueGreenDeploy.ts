// blueGreenDeploy — seed 000 "Blue-Green Deployment" (register the revision, deploy green, wait healthy, shift
// 30 → 50 → 100), seed 002 "Standard Deployment (Blue-Green)" (soaks watching error rate and p95, explicit rollback
// criteria, blue on standby for an hour, then decommissioned), seed 001 "Rollback Blue/Green" and "Emergency
// Rollback (ALB Listener)". Every wait is bounded and every gate reading is recorded and shown.
import { condition, patched } from '@temporalio/workflow';
import { formatDuration, parseDuration } from '../api/duration';
import {
  type BlueGreenInput,
  type BlueGreenParams,
  type BlueGreenResult,
  type RouterWeights,
} from '../api/runbooks/blue-green';
import { deploymentControllerRefusal, ecsServiceKey, shortName } from '../api/runbooks/ecs';
import { familyOf, otherFamilyRefusal } from '../api/runbooks/ecs-rollback';
import type { GateReading, PlannedAction, RunbookReport } from '../api/status';
import { DeployControls } from './lib/deploy-controls';
import { fail } from './lib/errors';
import { approveWhileWatching, checkGates, describeReading, hasGates, type Gates } from './lib/gates';
import { aws, waits } from './lib/proxies';
import { lockable, lockingResources, type ResourceRef } from './lib/lock';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { blueGreenDeployEntry } from '../api/runbooks/blue-green';
import { albQuery, checkServicesBehindTargetGroups, openRouter } from './lib/traffic-router';
import { must } from './lib/must';

/** Runs recorded before version.taskDefinition had to be of blue's family replay without the check. */
const SAME_FAMILY_PATCH = 'blue-green-same-family-v1';
/** Runs recorded before the gates were watched during the blue standby replay the plain wait. */
const STANDBY_WATCH_PATCH = 'blue-green-standby-watch-v1';
/** Most gate checks during the blue standby (each is a few activities in the history). */
const MAX_STANDBY_CHECKS = 360;

export async function blueGreenDeploy(input: BlueGreenInput): Promise<RunbookReport<BlueGreenResult>> {
  return runRunbook(blueGreenDeployEntry, input, {
    target: (p) => ecsServiceKey({ region: p.region, cluster: p.cluster, service: p.blueService }),
    controls: (tracker) => new DeployControls(tracker),
    async execute(ctx) {
      const controls = ctx.controls;
      // Set when the runbook's steps end (promoted, or failed and about to roll back): from then on a pause is not
      // shown.
      let progressionOver = false;
      try {
        const p = ctx.params;
        const blueRef = { region: p.region, cluster: p.cluster, service: p.blueService };
        const greenRef = { region: p.region, cluster: p.cluster, service: p.greenService };
        const stableTimeoutMs = parseDuration(p.stableTimeout);
        const bakeMs = parseDuration(p.bakeTime);
        const intervalMs = parseDuration(p.checkInterval);
        const maxPauseMs = parseDuration(p.maxPause);

        // Readings: every one is in the history (activity results); status keeps the newest MAX_READINGS of them
        // plus every failing one, so a long bake cannot outgrow the run's limits.
        const readings: GateReading[] = [];
        let readingsTaken = 0;
        ctx.tracker.status.readings = readings;
        const addReadings = (now: GateReading[]) => {
          readingsTaken += now.length;
          readings.push(...now);
          while (readings.length > MAX_READINGS) {
            const i = readings.findIndex((r) => r.verdict === 'pass');
            if (i < 0) break;
            readings.splice(i, 1);
          }
        };
        let traffic: RouterWeights = { blue: 100, green: 0 };
        const showTraffic = (w: RouterWeights, extra: { step?: number; phase?: string } = {}) => {
          traffic = w;
          ctx.tracker.status.traffic = {
            ...w,
            ...extra,
            ...(controls.paused && !progressionOver ? { paused: true } : {}),
          };
          ctx.tracker.refresh();
        };
        const stop = (why: string) => controls.rolledBack(why);

        // 1. Preflight (read only): blue serving 100 %, green exists, alarms exist; record the exact router state.
        const pre = await ctx.step(
          'Preflight: services, router, alarms',
          async () => {
            const blue = await aws.describeService(blueRef);
            const green = await aws.describeService(greenRef);
            // Green gets the new revision; blue is green in the next release. Neither takes a task-definition change
            // through UpdateService when CodeDeploy (or an external controller) deploys it: refuse before any change.
            for (const [s, ref, label, action] of [
              [green, greenRef, 'green service', 'deploy the new revision to it'],
              [blue, blueRef, 'blue service', 'deploy the next release to it (the colours swap every release)'],
            ] as const) {
              const refusal = deploymentControllerRefusal({
                label,
                ref,
                deploymentController: s.deploymentController,
                action,
              });
              if (refusal) throw fail('PreconditionFailed', refusal);
            }
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
              blue: `${r.blue.desiredCount} tasks on ${shortName(r.blue.taskDefinition)}`,
              green: `${r.green.desiredCount} tasks on ${shortName(r.green.taskDefinition)}`,
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
                (pre.weights.green === 100
                  ? `after a completed release green is the live side — swap blueService/greenService and the router's blue/green in the input`
                  : `finish or roll back the deployment in progress first`),
            );
          }
          if (pre.blue.desiredCount === 0) {
            throw fail(
              'PreconditionFailed',
              `blue (${p.blueService}) runs 0 tasks: there is no traffic to shift away from it`,
            );
          }
          if (pre.alarms.missing.length) {
            throw fail(
              'ResourceNotFound',
              `CloudWatch alarm(s) not found in ${p.region}: ${pre.alarms.missing.join(', ')}`,
            );
          }
          if (pre.given && pre.given.status !== 'ACTIVE') {
            throw fail('PreconditionFailed', `${shortName(pre.given.arn)} is ${pre.given.status}, not ACTIVE`);
          }
          // Green is to run a new version of what blue runs: a revision of another family is another application,
          // refused unless the input allows it with a reason (runs recorded before this check replay without it).
          const refusal =
            pre.given &&
            otherFamilyRefusal({
              field: 'version.taskDefinition',
              given: pre.given,
              service: shortName(p.blueService),
              runs: pre.blue.taskDefinition,
            });
          if (refusal && !p.allowOtherFamily && patched(SAME_FAMILY_PATCH)) throw fail('PreconditionFailed', refusal);
          checkServicesBehindTargetGroups(pre, p, ctx.warn);
        });
        showTraffic(pre.weights, { phase: 'preflight' });
        const desiredCount = pre.blue.desiredCount;

        const plan: PlannedAction[] = [
          ...('image' in p.version
            ? [
                {
                  step: 'Register the green revision',
                  action: 'ecs:RegisterTaskDefinition',
                  params: {
                    from: shortName(pre.blue.taskDefinition),
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
              taskDefinition: 'image' in p.version ? '(the new revision)' : shortName(must(pre.given, 'given').arn),
              from: `${pre.green.desiredCount} on ${shortName(pre.green.taskDefinition)}`,
              ...(pre.given && p.allowOtherFamily && pre.given.family !== familyOf(pre.blue.taskDefinition)
                ? { allowOtherFamily: p.allowOtherFamily.reason }
                : {}),
            },
          },
          ...p.steps.map((w) => ({
            step: `Shift ${w}% to green${w === 100 && p.approval.required ? ' (after approval)' : ''}`,
            action:
              p.router.kind === 'route53-weighted'
                ? 'route53:ChangeResourceRecordSets'
                : `elasticloadbalancing:Modify${p.router.rule ? 'Rule' : 'Listener'}`,
            params: { router: pre.router.describe, blue: 100 - w, green: w, bake: p.bakeTime },
          })),
          { step: 'Blue standby', action: 'wait', params: { for: p.blueStandby, rollbackSignal: 'rollback' } },
          {
            step: 'Decommission blue',
            action: 'ecs:UpdateService',
            params: { ...blueRef, desiredCount: 0, from: pre.blue.desiredCount },
          },
        ];
        if (ctx.planned(plan) === 'dry-run') return DRY_RUN;

        // Take both services (blue is decommissioned at the end) and the router, whichever runbook would change them
        // too.
        await ctx.lockResources([
          lockable.ecsService(blueRef),
          lockable.ecsService(greenRef),
          ...(lockingResources() ? [await routerResource(p)] : []),
        ]);

        // 2. Deploy green: the revision, blue's count on it, stable, healthy. Compensation: green back as recorded.
        if (controls.aborted) throw stop('before any change');
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
            { details: (r) => ({ taskDefinition: shortName(r.arn), created: r.created, image: v.image }) },
          );
          greenTd = rev.arn;
        } else {
          greenTd = must(pre.given, 'the given task definition').arn;
        }
        if (controls.aborted) throw stop('before any change to green');
        const recordedGreen = { desiredCount: pre.green.desiredCount, taskDefinition: pre.green.taskDefinition };
        await ctx.change(
          'Deploy green',
          () => aws.updateService({ ...greenRef, desiredCount, taskDefinition: greenTd }),
          {
            params: { desiredCount, taskDefinition: shortName(greenTd) },
            undo: () => ({
              name: `scale green back to ${recordedGreen.desiredCount} tasks on ${shortName(recordedGreen.taskDefinition)}`,
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

        // Before any traffic moves, every gate must pass once (green health, its targets, the alarms, the metrics).
        const gates: Gates = {
          region: p.region,
          alarms: p.gates.alarms,
          metrics: p.gates.metrics,
          burnRates: p.gates.burnRates,
          httpChecks: p.gates.httpChecks,
          greenHealth: p.gates.greenHealth,
          greenTargetGroupArn: pre.router.greenTargetGroupArn,
        };
        const checkOnce = async (step: number, during?: string) => {
          const now = await checkGates(gates, step, Math.max(intervalMs, 60_000));
          addReadings(now);
          ctx.tracker.refresh();
          const failed = now.find((r) => r.verdict === 'fail');
          if (failed) {
            controls.flush();
            throw fail(
              'GateFailed',
              step === 0
                ? `gate failed before any traffic moved: ${describeReading(failed)}`
                : `rolled back${during ? ` ${during}` : ''}: gate ${describeReading(failed)}`,
            );
          }
          return now;
        };
        await ctx.step('Check every gate before any traffic moves', () => checkOnce(0), {
          details: (r) => ({ readings: r.length }),
        });

        // 3. Shift traffic step by step; bake each step, checking every gate each interval.
        const weightsPerStep: BlueGreenResult['weightsPerStep'] = [];
        let routerUndo = false;

        for (const weight of p.steps) {
          if (weight === 100) {
            // The approval gate before the last step. Gates are still watched while it waits; a failing gate or an
            // abort ends the wait and rolls back.
            const current = weightsPerStep.at(-1);
            showTraffic(traffic, { step: current?.step ?? 0, phase: 'awaiting approval' });
            await approveWhileWatching({
              intervalMs,
              check: () => checkOnce(current?.step ?? 0),
              interrupted: () => (controls.aborted ? stop('while waiting for approval') : undefined),
              approve: (interrupt) =>
                ctx.approval(
                  `shift the last ${100 - (current?.weights.green ?? 0)}% to green (100 % green, blue on standby ` +
                    `${p.blueStandby}). Readings so far: ${readingsTaken} ` +
                    `(${readings.filter((r) => r.verdict === 'fail').length} failing); latest: ` +
                    (latestPerGate(readings).map(describeReading).join('; ') || 'none'),
                  'Approval before 100 %',
                  interrupt,
                ),
            });
          }
          controls.flush();
          if (controls.aborted) throw stop(`before the ${weight}% step`);
          await ctx.change(`Shift ${weight}% to green`, () => pre.router.set(weight), {
            params: { blue: 100 - weight, green: weight },
          });
          if (!routerUndo) {
            // Pushed after green's compensation, so a rollback moves traffic back to blue first, then scales green back.
            routerUndo = true;
            ctx.compensations.push(`traffic back to blue 100% (${pre.router.describe} as it was)`, async () => {
              await pre.router.restore();
              // Showing the split is a courtesy: a failed read must not make the rollback look failed.
              const back = await pre.router.weights().catch(() => pre.weights);
              showTraffic(back, { phase: 'rolled back' });
            });
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
              const promotionsAtStart = controls.promotions;
              for (let check = 1; ; check++) {
                if (controls.aborted) throw stop(`during the ${weight}% bake`);
                await checkOnce(weight);
                controls.flush();
                showTraffic(held, { step: weight, phase: 'bake' });
                if (controls.aborted) throw stop(`during the ${weight}% bake`);
                // A pause counts from when it started or from the start of this bake, whichever is later.
                const paused = controls.paused;
                if (paused && Date.now() - Math.max(paused.since, started) > maxPauseMs) {
                  throw fail(
                    'RolledBack',
                    `rolled back: paused by ${paused.by} for longer than maxPause (${p.maxPause})`,
                  );
                }
                const promoted = controls.promotions > promotionsAtStart;
                if ((promoted || Date.now() - started >= bakeMs) && !paused) return { checks: check, promoted };
                const seen = controls.promotions;
                const wasPaused = !!paused;
                const wait = paused ? intervalMs : Math.min(intervalMs, Math.max(0, bakeMs - (Date.now() - started)));
                await condition(
                  () =>
                    controls.aborted !== undefined || controls.promotions !== seen || !!controls.paused !== wasPaused,
                  Math.max(wait, 1),
                );
              }
            },
            { details: (r) => ({ checks: r.checks, promoted: r.promoted }) },
          );
        }

        // 4. 100 % green: blue stays up for blueStandby; a rollback (or abort) in that time sends all traffic back.
        ctx.tracker.setState('waiting');
        showTraffic(weightsPerStep.at(-1)?.weights ?? traffic, { step: 100, phase: 'blue standby' });
        if (hasGates(gates) && patched(STANDBY_WATCH_PATCH)) {
          // Seed 002: "if issues occur, immediate rollback". The gates are still checked every checkInterval while
          // blue stands by; a failing one sends the traffic back at once, as a rollback signal does.
          // Same step name as before the watch: the timeline reads the same; its details count the checks.
          await ctx.step(
            `Blue standby for ${p.blueStandby} (signal "rollback" sends traffic back)`,
            async () => {
              const standbyMs = parseDuration(p.blueStandby);
              // Bounded history: at most MAX_STANDBY_CHECKS checks, however long the standby (7d at 30s would be
              // 20 000); a long standby is checked less often than checkInterval.
              const everyMs = Math.max(intervalMs, Math.ceil(standbyMs / MAX_STANDBY_CHECKS));
              const started = Date.now();
              for (let check = 1; ; check++) {
                if (controls.aborted) throw stop('during the blue standby');
                const left = standbyMs - (Date.now() - started);
                if (left <= 0) return { checks: check - 1 };
                if (await condition(() => controls.aborted !== undefined, Math.max(1, Math.min(everyMs, left)))) {
                  throw stop('during the blue standby');
                }
                if (Date.now() - started >= standbyMs) return { checks: check - 1 };
                await checkOnce(100, 'during the blue standby');
              }
            },
            { details: (r) => ({ checks: r.checks }) },
          );
        } else {
          await ctx.step(`Blue standby for ${p.blueStandby} (signal "rollback" sends traffic back)`, async () => {
            if (await condition(() => controls.aborted !== undefined, parseDuration(p.blueStandby))) {
              throw stop('during the blue standby');
            }
          });
        }
        ctx.tracker.setState('running');
        controls.flush();
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
          readingsTaken,
          blueDecommissionedAt: new Date().toISOString(),
        };
      } finally {
        // Promoted or rolled back, the progression is over: a pause no longer holds anything, so the traffic line
        // stops saying paused (also when a compensation shows the split afterwards). Status only: no commands.
        progressionOver = true;
        if (ctx.tracker.status.traffic?.paused) {
          delete ctx.tracker.status.traffic.paused;
          ctx.tracker.refresh();
        }
      }
    },
  });
}

/**
 * The router as its lock names it, as AWS does: the weighted record's zone by id, the ALB listener or rule by ARN.
 * Resolved once more (read only) from the input, which may name them either way.
 */
async function routerResource(p: BlueGreenParams): Promise<ResourceRef> {
  const r = p.router;
  if (r.kind === 'route53-weighted') {
    const zone = await aws.resolveHostedZone({ zone: r.hostedZone });
    return lockable.record({ hostedZoneId: zone.id, name: r.record.name, type: r.record.type });
  }
  const alb = await aws.resolveAlbRouter(albQuery(p.region, r));
  return lockable.router({ arn: alb.arn });
}

/** Status keeps at most this many readings (failing ones are always kept); all are in the history. */
const MAX_READINGS = 300;

/** The newest reading of each gate. */
function latestPerGate(readings: GateReading[]): GateReading[] {
  const byGate = new Map<string, GateReading>();
  for (const r of readings) byGate.set(r.gate, r);
  return [...byGate.values()];
}
