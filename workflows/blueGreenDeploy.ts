// blueGreenDeploy — seed 000 "Blue-Green Deployment" (register the revision, deploy green, wait healthy, shift
// 30 → 50 → 100), seed 002 "Standard Deployment (Blue-Green)" (soaks watching error rate and p95, explicit rollback
// criteria, blue on standby for an hour, then decommissioned), seed 001 "Rollback Blue/Green" and "Emergency
// Rollback (ALB Listener)". Every wait is bounded and every gate reading is recorded and shown.
import { CancellationScope, condition, isCancellation, patched, setHandler, sleep } from '@temporalio/workflow';
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
import { deploymentControllerRefusal, ecsServiceKey, shortName } from '../api/runbooks/ecs';
import { familyOf, otherFamilyRefusal } from '../api/runbooks/ecs-rollback';
import type { RecordSet } from '../api/runbooks/dns-failover';
import type { GateReading, PlannedAction, RunbookReport } from '../api/status';
import { fail } from './lib/errors';
import { checkGates, describeReading, type Gates } from './lib/gates';
import { aws, waits } from './lib/proxies';
import { runRunbook } from './lib/runbook';

const short = (arn: string) => arn.split('/').pop() ?? arn;

/** Runs recorded before version.taskDefinition had to be of blue's family replay without the check. */
const SAME_FAMILY_PATCH = 'blue-green-same-family-v1';

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
): Promise<{
  router: Router;
  saved: unknown;
  weights: RouterWeights;
  /** ALB: the target group each colour's traffic goes to (what each service must be behind). */
  targetGroups?: { blue: { arn: string; name: string }; green: { arn: string; name: string } };
}> {
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
    targetGroups: {
      blue: { arn: alb.blueArn, name: alb.blueTargetGroupName },
      green: { arn: alb.greenArn, name: alb.greenTargetGroupName },
    },
    router: {
      describe: `ALB ${alb.kind} ${short(alb.arn)} [${alb.blueTargetGroupName} / ${alb.greenTargetGroupName}]`,
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

/**
 * With an ALB router, each service must be behind its colour's target group, or the shift moves users to the wrong
 * side (a mixed-up input, or services swapped after an earlier release). A service that declares no load balancer
 * cannot be checked: a warning says so. Results recorded before ServiceState had target groups are not checked.
 */
function checkServicesBehindTargetGroups(
  pre: {
    blue: { targetGroupArns?: string[] };
    green: { targetGroupArns?: string[] };
    targetGroups?: { blue: { arn: string; name: string }; green: { arn: string; name: string } };
  },
  p: BlueGreenParams,
  warn: (message: string) => void,
): void {
  const tgs = pre.targetGroups;
  if (!tgs) return;
  const tgName = (arn: string) => arn.split('/').at(-2) ?? arn;
  const sides = [
    { colour: 'blue', service: p.blueService, declared: pre.blue.targetGroupArns, mine: tgs.blue, other: tgs.green },
    { colour: 'green', service: p.greenService, declared: pre.green.targetGroupArns, mine: tgs.green, other: tgs.blue },
  ] as const;
  const wrong: string[] = [];
  for (const s of sides) {
    if (s.declared === undefined) return; // recorded before the field existed
    if (s.declared.length === 0) {
      warn(`${s.service} declares no load balancer: could not check that it serves ${s.mine.name} (${s.colour})`);
    } else if (!s.declared.includes(s.mine.arn)) {
      const behind = s.declared.map(tgName).join(', ');
      wrong.push(
        `${s.colour} service ${s.service} is behind ${behind}, not ${s.mine.name}` +
          (s.declared.includes(s.other.arn) ? ` (that is ${s.colour === 'blue' ? 'green' : 'blue'}'s)` : ''),
      );
    }
  }
  if (wrong.length) {
    throw fail(
      'PreconditionFailed',
      `the router would send traffic to the wrong service: ${wrong.join('; ')}. ` +
        `Check blueService/greenService and router.blueTargetGroup/greenTargetGroup`,
    );
  }
}

export async function blueGreenDeploy(input: BlueGreenInput): Promise<RunbookReport<BlueGreenResult>> {
  // Operator signals, registered before anything else so none is lost.
  let aborted: { by: string; reason: string; kind: 'abort' | 'rollback' } | undefined;
  let paused: { by: string; since: number } | undefined;
  let promotions = 0;
  // Who paused, resumed or promoted, and when: written into the timeline as the run goes.
  const events: { at: string; what: string }[] = [];
  // Set when the runbook's steps end (promoted, or failed and about to roll back): from then on a pause is not shown.
  let progressionOver = false;
  setHandler(
    abortDeploySignal,
    (raw) => {
      const v = abortPayload.safeParse(raw);
      if (v.success && !aborted) aborted = { ...v.data, kind: 'abort' };
    },
    {
      description:
        'Roll back now: traffic to blue first, then green scaled back. {"by": "<your name>", "reason": "<why>"}',
    },
  );
  // `rollback` is meant for the blue standby; earlier it does what `abort` does.
  setHandler(
    rollbackSignal,
    (raw) => {
      const v = abortPayload.safeParse(raw);
      if (v.success && !aborted) aborted = { ...v.data, kind: 'rollback' };
    },
    {
      description:
        'During the blue standby: all traffic back to blue at once (earlier: same as abort). {"by", "reason"}',
    },
  );
  setHandler(
    pauseSignal,
    (raw) => {
      const v = promotePayload.safeParse(raw);
      if (v.success && !paused) {
        paused = { by: v.data.by, since: Date.now() };
        events.push({ at: new Date().toISOString(), what: `paused by ${v.data.by}` });
      }
    },
    { description: 'Hold the progression; gates are still checked (a pause longer than maxPause rolls back). {"by"}' },
  );
  setHandler(
    resumeSignal,
    (raw) => {
      const v = promotePayload.safeParse(raw);
      if (v.success && paused) {
        paused = undefined;
        events.push({ at: new Date().toISOString(), what: `resumed by ${v.data.by}` });
      }
    },
    { description: 'Let a paused deployment go on. {"by"}' },
  );
  setHandler(
    promoteSignal,
    (raw) => {
      const v = promotePayload.safeParse(raw);
      if (v.success) {
        promotions++;
        events.push({ at: new Date().toISOString(), what: `promote by ${v.data.by}` });
      }
    },
    { description: 'Skip the rest of the current bake (gates are checked once more). {"by"}' },
  );

  return runRunbook({
    runbook: 'blueGreenDeploy',
    schema: blueGreenInput,
    rawInput: input,
    target: (p) => ecsServiceKey({ region: p.region, cluster: p.cluster, service: p.blueService }),
    lockId: (p) => blueGreenWorkflowId(p),
    async execute(ctx) {
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
          ctx.tracker.status.traffic = { ...w, ...extra, ...(paused && !progressionOver ? { paused: true } : {}) };
          ctx.tracker.refresh();
        };
        const flushEvents = () => {
          for (const e of events.splice(0)) ctx.tracker.mark(e.what, 'succeeded', { at: e.at });
        };
        const stop = (why: string) => {
          flushEvents();
          const a = aborted!;
          return fail('RolledBack', `rolled back ${why}: ${a.kind} by ${a.by} (${a.reason})`);
        };

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
            throw fail('PreconditionFailed', `${short(pre.given.arn)} is ${pre.given.status}, not ACTIVE`);
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
        ctx.planned(plan);

        // 2. Deploy green: the revision, blue's count on it, stable, healthy. Compensation: green back as recorded.
        if (aborted) throw stop('before any change');
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

        // Before any traffic moves, every gate must pass once (green health, its targets, the alarms, the metrics).
        const gates: Gates = {
          region: p.region,
          alarms: p.gates.alarms,
          metrics: p.gates.metrics,
          greenHealth: p.gates.greenHealth,
          greenTargetGroupArn: pre.router.greenTargetGroupArn,
        };
        const checkOnce = async (step: number) => {
          const now = await checkGates(gates, step, Math.max(intervalMs, 60_000));
          addReadings(now);
          ctx.tracker.refresh();
          const failed = now.find((r) => r.verdict === 'fail');
          if (failed) {
            flushEvents();
            throw fail(
              'GateFailed',
              step === 0
                ? `gate failed before any traffic moved: ${describeReading(failed)}`
                : `rolled back: gate ${describeReading(failed)}`,
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
            showTraffic(traffic, { step: weightsPerStep.at(-1)?.step ?? 0, phase: 'awaiting approval' });
            const watcher = new CancellationScope();
            let gateFailure: Error | undefined;
            const watching = watcher
              .run(async () => {
                for (;;) {
                  await sleep(intervalMs);
                  await checkOnce(weightsPerStep.at(-1)?.step ?? 0);
                }
              })
              .catch((err: unknown) => {
                if (!isCancellation(err)) gateFailure = err as Error;
              });
            const failing = readings.filter((r) => r.verdict === 'fail').length;
            try {
              await ctx.approval(
                `shift the last ${100 - (weightsPerStep.at(-1)?.weights.green ?? 0)}% to green (100 % green, blue on ` +
                  `standby ${p.blueStandby}). Readings so far: ${readingsTaken} (${failing} failing); latest: ` +
                  (latestPerGate(readings).map(describeReading).join('; ') || 'none'),
                'Approval before 100 %',
                () => gateFailure ?? (aborted ? stop('while waiting for approval') : undefined),
              );
            } finally {
              watcher.cancel();
              await watching;
            }
            // A gate that failed while the approval arrived still wins: no shift to 100 % on a failing reading.
            if (gateFailure) throw gateFailure;
          }
          flushEvents();
          if (aborted) throw stop(`before the ${weight}% step`);
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
              const promotionsAtStart = promotions;
              for (let check = 1; ; check++) {
                if (aborted) throw stop(`during the ${weight}% bake`);
                await checkOnce(weight);
                flushEvents();
                showTraffic(held, { step: weight, phase: 'bake' });
                if (aborted) throw stop(`during the ${weight}% bake`);
                // A pause counts from when it started or from the start of this bake, whichever is later.
                if (paused && Date.now() - Math.max(paused.since, started) > maxPauseMs) {
                  throw fail(
                    'RolledBack',
                    `rolled back: paused by ${paused.by} for longer than maxPause (${p.maxPause})`,
                  );
                }
                const promoted = promotions > promotionsAtStart;
                if ((promoted || Date.now() - started >= bakeMs) && !paused) return { checks: check, promoted };
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

        // 4. 100 % green: blue stays up for blueStandby; a rollback (or abort) in that time sends all traffic back.
        ctx.tracker.setState('waiting');
        showTraffic(weightsPerStep.at(-1)?.weights ?? traffic, { step: 100, phase: 'blue standby' });
        await ctx.step(`Blue standby for ${p.blueStandby} (signal "rollback" sends traffic back)`, async () => {
          if (await condition(() => aborted !== undefined, parseDuration(p.blueStandby))) {
            throw stop('during the blue standby');
          }
        });
        ctx.tracker.setState('running');
        flushEvents();
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

/** Status keeps at most this many readings (failing ones are always kept); all are in the history. */
const MAX_READINGS = 300;

/** The newest reading of each gate. */
function latestPerGate(readings: GateReading[]): GateReading[] {
  const byGate = new Map<string, GateReading>();
  for (const r of readings) byGate.set(r.gate, r);
  return [...byGate.values()];
}
