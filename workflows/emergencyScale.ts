// emergencyScale — seeds 000 "Emergency Scale-Up", 001 Runbook 3 "Scale ECS Tasks Manually", 003 "emergency-scale
// with a reason": set the desired count (bounded by maxCount), wait stable, verify health; optionally scale back
// to the recorded previous count after `scaleBackAfter` (a durable timer) unless `keepScaled` arrives.
import { condition, patched } from '@temporalio/workflow';
import { byOptionalReasonPayload } from '../api/common';
import { keepScaledSignal, type KeepScaledPayload } from '../api/definitions';
import { formatDuration, parseDuration } from '../api/duration';
import { ecsServiceKey } from '../api/runbooks/ecs';
import { autoScalingHold, type EmergencyScaleInput, type EmergencyScaleResult } from '../api/runbooks/emergency-scale';
import type { RunbookReport } from '../api/status';
import { aws, waits } from './lib/proxies';
import { lockable } from './lib/lock';
import { describeHealth, healthStep, verifyHealth } from './lib/health';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { emergencyScaleEntry } from '../api/runbooks/emergency-scale';
import { onSignal } from './lib/signals';
import type { Tracker } from './lib/tracker';

/** Runs recorded before the runbook knew Application Auto Scaling replay without its calls. */
const AUTOSCALING_PATCH = 'emergency-scale-autoscaling-v1';

export async function emergencyScale(input: EmergencyScaleInput): Promise<RunbookReport<EmergencyScaleResult>> {
  return runRunbook(emergencyScaleEntry, input, {
    target: (p) => ecsServiceKey(p),
    controls: (tracker) => new KeepScaledControl(tracker),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster, service: p.service };
      const stableTimeoutMs = parseDuration(p.stableTimeout);

      // 1. Preflight (read only): current capacity, recorded for the scale-back and the compensation, and the
      // Application Auto Scaling range when it manages the service (its next scale-in would undo a scale-up).
      const pre = await ctx.step(
        'Preflight: read current capacity',
        async () => ({
          service: await aws.describeService(ref),
          scalable: patched(AUTOSCALING_PATCH) ? await aws.describeScalableTarget(ref) : null,
        }),
        {
          details: ({ service: s, scalable }) => ({
            desiredCount: s.desiredCount,
            runningCount: s.runningCount,
            pendingCount: s.pendingCount,
            taskDefinition: s.taskDefinition.split('/').pop(),
            ...(scalable ? { autoScaling: `min ${scalable.min} / max ${scalable.max} (${scalable.resourceId})` } : {}),
          }),
        },
      );
      const before = pre.service;
      const previousCount = before.desiredCount;
      const range = pre.scalable;
      const hold =
        range && p.autoScaling === 'hold' ? autoScalingHold(range, previousCount, p.desiredCount) : undefined;
      const holdNeeded = !!range && !!hold && (hold.min !== range.min || hold.max !== range.max);
      if (range && p.autoScaling === 'leave' && (p.desiredCount < range.min || p.desiredCount > range.max)) {
        ctx.warn(
          `${p.desiredCount} is outside the auto scaling range of ${range.resourceId} (min ${range.min} / max ` +
            `${range.max}), left as it is (autoScaling: "leave"): its next scaling activity may undo this count.`,
        );
      }
      const rangeText = (r: { min: number; max: number }) => `min ${r.min} / max ${r.max}`;
      if (
        ctx.planned([
          ...(range && hold && holdNeeded
            ? [
                {
                  step: 'Hold the auto scaling range',
                  action: 'application-autoscaling:RegisterScalableTarget',
                  params: { resourceId: range.resourceId, ...hold, from: { min: range.min, max: range.max } },
                },
              ]
            : []),
          {
            step: 'Scale the service',
            action: 'ecs:UpdateService',
            params: { ...ref, desiredCount: p.desiredCount, from: previousCount, reason: p.reason },
          },
          ...(p.scaleBackAfter
            ? [
                {
                  step: 'Scale back',
                  action: 'ecs:UpdateService',
                  params: { ...ref, desiredCount: previousCount, after: p.scaleBackAfter, unless: 'keepScaled signal' },
                },
                ...(range && holdNeeded
                  ? [
                      {
                        step: 'Restore the auto scaling range',
                        action: 'application-autoscaling:RegisterScalableTarget',
                        params: { resourceId: range.resourceId, min: range.min, max: range.max },
                      },
                    ]
                  : []),
              ]
            : []),
        ]) === 'dry-run'
      )
        return DRY_RUN;

      // 2. Take the service (no other run, of any runbook, changes it meanwhile), then approval (when the policy
      // asks for it). Its auto scaling range is the service's own.
      await ctx.lockResources([lockable.ecsService(ref)]);
      await ctx.approval(
        `scale ${p.service} (${p.region}/${p.cluster}) from ${previousCount} to ${p.desiredCount} tasks — reason: ${p.reason}` +
          (p.scaleBackAfter ? `; back to ${previousCount} after ${p.scaleBackAfter}` : '') +
          (range && hold && holdNeeded
            ? `; auto scaling range ${rangeText(range)} → ${rangeText(hold)} while scaled`
            : ''),
      );

      // 3a. Hold the auto scaling range around the new count first, so no scaling activity undoes it meanwhile.
      if (range && hold && holdNeeded) {
        await ctx.change(
          `Hold the auto scaling range at ${rangeText(hold)} (was ${rangeText(range)})`,
          () => aws.setScalableRange({ ...ref, ...hold }),
          {
            params: { resourceId: range.resourceId, ...hold },
            undo: () => ({
              name: `restore the auto scaling range of ${range.resourceId} to ${rangeText(range)}`,
              run: async () => {
                await aws.setScalableRange({ ...ref, min: range.min, max: range.max });
              },
            }),
          },
        );
      }

      // 3. Scale. Compensation restores the recorded count if anything after this fails or the run is cancelled.
      await ctx.change('Set desired count', () => aws.updateService({ ...ref, desiredCount: p.desiredCount }), {
        params: { desiredCount: p.desiredCount, from: previousCount },
        undo: () => ({
          name: `restore desired count of ${p.service} to ${previousCount}`,
          run: async () => {
            // The range first, so that no scaling activity holds the count up while it goes back (idempotent: the
            // hold's own compensation sets the same range again afterwards).
            if (range && holdNeeded) await aws.setScalableRange({ ...ref, min: range.min, max: range.max });
            await aws.updateService({ ...ref, desiredCount: previousCount });
            await waits.waitForServiceStable({
              ...ref,
              timeoutMs: stableTimeoutMs,
              expect: { desiredCount: previousCount },
            });
          },
        }),
      });

      // 4. Wait until stable.
      const stable = await ctx.step(
        'Wait until the service is stable',
        () =>
          waits.waitForServiceStable({ ...ref, timeoutMs: stableTimeoutMs, expect: { desiredCount: p.desiredCount } }),
        { details: (s) => ({ runningCount: s.runningCount, desiredCount: s.desiredCount, waitedMs: s.waitedMs }) },
      );
      // The new capacity is in place: from here a failure or cancel leaves it as it is (scaling down an unhealthy
      // service in an emergency would make things worse).
      ctx.compensations.clear();

      // 5. Verify health; an unhealthy answer is reported, the capacity is kept.
      let health;
      if (p.health) {
        const check = p.health;
        health = await ctx.step('Verify health', () => verifyHealth(check), healthStep);
        if (!health.healthy) {
          ctx.warn(`health check failed after scaling: ${describeHealth(health)}. The new count was kept.`);
        }
      } else {
        ctx.tracker.skipped('Verify health', 'no health check in the input');
      }

      const result: EmergencyScaleResult = {
        cluster: p.cluster,
        service: p.service,
        previousCount,
        desiredCount: stable.desiredCount,
        runningCount: stable.runningCount,
        ...(health ? { health } : {}),
        ...(range
          ? {
              autoScaling: {
                resourceId: range.resourceId,
                before: { min: range.min, max: range.max },
                ...(hold && holdNeeded ? { held: hold } : {}),
                restored: false,
              },
            }
          : {}),
      };
      // The held range outlives the run unless the scale-back puts it back: say so, with the command to undo it.
      const rangeLeftHeld = () => {
        if (!range || !hold || !holdNeeded) return;
        ctx.warn(
          `the auto scaling range of ${range.resourceId} stays at ${rangeText(hold)} (was ${rangeText(range)}) so ` +
            `that a scale-in does not undo this count. Put it back when the emergency is over: aws ` +
            `application-autoscaling register-scalable-target --region ${p.region} --service-namespace ecs ` +
            `--scalable-dimension ecs:service:DesiredCount --resource-id ${range.resourceId} ` +
            `--min-capacity ${range.min} --max-capacity ${range.max}`,
        );
      };

      // 6. Optional scale-back after a durable timer, unless keepScaled arrives first.
      if (p.scaleBackAfter) {
        const waitMs = parseDuration(p.scaleBackAfter);
        const dueAt = new Date(Date.now() + waitMs).toISOString();
        ctx.tracker.setState('waiting');
        const control = ctx.controls;
        const keptInTime = await ctx.step(
          `Hold ${p.desiredCount} tasks for ${formatDuration(waitMs)} (until ${dueAt}) unless keepScaled`,
          () => condition(() => control.kept !== undefined, waitMs),
          {
            details: (k) => ({
              keepScaled: k,
              ...(control.kept ? { by: control.kept.by, reason: control.kept.reason } : {}),
            }),
          },
        );
        ctx.tracker.setState('running');
        const kept = control.kept;
        if (keptInTime && kept) {
          result.scaleBack = {
            outcome: 'kept',
            at: kept.at,
            by: kept.by,
            ...(kept.reason ? { reason: kept.reason } : {}),
            count: p.desiredCount,
          };
        } else {
          const now = await ctx.step('Check capacity before scaling back', () => aws.describeService(ref), {
            details: (s) => ({ desiredCount: s.desiredCount }),
          });
          if (now.desiredCount !== p.desiredCount) {
            ctx.warn(
              `not scaling back: the desired count is ${now.desiredCount}, not the ${p.desiredCount} this run set, so ` +
                `someone else changed it since; left as it is.`,
            );
            result.scaleBack = {
              outcome: 'skipped-changed-elsewhere',
              at: new Date().toISOString(),
              count: now.desiredCount,
            };
          } else {
            if (range && holdNeeded) {
              await ctx.change(`Restore the auto scaling range to ${rangeText(range)}`, () =>
                aws.setScalableRange({ ...ref, min: range.min, max: range.max }),
              );
              if (result.autoScaling) result.autoScaling.restored = true;
            }
            await ctx.change(
              'Scale back to the previous count',
              () => aws.updateService({ ...ref, desiredCount: previousCount }),
              {
                params: { desiredCount: previousCount, from: p.desiredCount },
              },
            );
            const back = await ctx.step(
              'Wait until the service is stable after scaling back',
              () =>
                waits.waitForServiceStable({
                  ...ref,
                  timeoutMs: stableTimeoutMs,
                  expect: { desiredCount: previousCount },
                }),
              { details: (s) => ({ runningCount: s.runningCount, desiredCount: s.desiredCount }) },
            );
            result.scaleBack = { outcome: 'scaled-back', at: new Date().toISOString(), count: back.desiredCount };
            result.desiredCount = back.desiredCount;
            result.runningCount = back.runningCount;
          }
        }
      }
      if (!result.autoScaling?.restored) rangeLeftHeld();
      return result;
    },
  });
}

/** `keepScaled`: keep the new count, cancel the scheduled scale-back (the first one counts). */
class KeepScaledControl {
  kept?: KeepScaledPayload & { at: string };

  constructor(tracker: Tracker) {
    onSignal(
      tracker,
      keepScaledSignal,
      byOptionalReasonPayload,
      (payload) => {
        if (this.kept) return `already kept by ${this.kept.by}`;
        this.kept = { ...payload, at: new Date().toISOString() };
        return undefined;
      },
      'Keep the new count: cancel the scheduled scale-back. {"by": "<your name>", "reason": "optional"}',
    );
  }
}
