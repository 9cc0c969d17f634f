// emergencyScale — seeds 000 "Emergency Scale-Up", 001 Runbook 3 "Scale ECS Tasks Manually", 003 "emergency-scale
// with a reason": set the desired count (bounded by maxCount), wait stable, verify health; optionally scale back
// to the recorded previous count after `scaleBackAfter` (a durable timer) unless `keepScaled` arrives.
import { condition, setHandler } from '@temporalio/workflow';
import { keepScaledSignal, type KeepScaledPayload } from '../api/definitions';
import { formatDuration, parseDuration } from '../api/duration';
import { ecsServiceKey } from '../api/runbooks/ecs';
import {
  emergencyScaleInput,
  emergencyScaleWorkflowId,
  type EmergencyScaleInput,
  type EmergencyScaleResult,
} from '../api/runbooks/emergency-scale';
import type { RunbookReport } from '../api/status';
import { aws, waits } from './lib/proxies';
import { describeHealth, verifyHealth } from './lib/health';
import { runRunbook } from './lib/runbook';

export async function emergencyScale(input: EmergencyScaleInput): Promise<RunbookReport<EmergencyScaleResult>> {
  let keep: (KeepScaledPayload & { at: string }) | undefined;
  setHandler(
    keepScaledSignal,
    (payload) => {
      if (!keep && payload && typeof payload.by === 'string' && payload.by.trim()) {
        keep = { ...payload, at: new Date().toISOString() };
      }
    },
    { description: 'Keep the new count: cancel the scheduled scale-back. {"by": "<your name>", "reason": "optional"}' },
  );

  return runRunbook({
    runbook: 'emergencyScale',
    schema: emergencyScaleInput,
    rawInput: input,
    target: (p) => ecsServiceKey(p),
    lockId: (p) => emergencyScaleWorkflowId(p),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster, service: p.service };
      const stableTimeoutMs = parseDuration(p.stableTimeout);

      // 1. Preflight (read only): current capacity, recorded for the scale-back and the compensation.
      const before = await ctx.step('Preflight: read current capacity', () => aws.describeService(ref), {
        details: (s) => ({
          desiredCount: s.desiredCount,
          runningCount: s.runningCount,
          pendingCount: s.pendingCount,
          taskDefinition: s.taskDefinition.split('/').pop(),
        }),
      });
      const previousCount = before.desiredCount;
      ctx.planned([
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
            ]
          : []),
      ]);

      // 2. Approval (when the policy asks for it).
      await ctx.approval(
        `scale ${p.service} (${p.region}/${p.cluster}) from ${previousCount} to ${p.desiredCount} tasks — reason: ${p.reason}` +
          (p.scaleBackAfter ? `; back to ${previousCount} after ${p.scaleBackAfter}` : ''),
      );

      // 3. Scale. Compensation restores the recorded count if anything after this fails or the run is cancelled.
      await ctx.change('Set desired count', () => aws.updateService({ ...ref, desiredCount: p.desiredCount }), {
        params: { desiredCount: p.desiredCount, from: previousCount },
        undo: () => ({
          name: `restore desired count of ${p.service} to ${previousCount}`,
          run: async () => {
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
        health = await ctx.step('Verify health', () => verifyHealth(check), {
          details: (h) => ({ healthy: h.healthy, summary: describeHealth(h) }),
        });
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
      };

      // 6. Optional scale-back after a durable timer, unless keepScaled arrives first.
      if (p.scaleBackAfter) {
        const waitMs = parseDuration(p.scaleBackAfter);
        const dueAt = new Date(Date.now() + waitMs).toISOString();
        ctx.tracker.setState('waiting');
        const kept = await ctx.step(
          `Hold ${p.desiredCount} tasks for ${formatDuration(waitMs)} (until ${dueAt}) unless keepScaled`,
          () => condition(() => keep !== undefined, waitMs),
          { details: (k) => ({ keepScaled: k, ...(keep ? { by: keep.by, reason: keep.reason } : {}) }) },
        );
        ctx.tracker.setState('running');
        if (kept && keep) {
          result.scaleBack = {
            outcome: 'kept',
            at: keep.at,
            by: keep.by,
            ...(keep.reason ? { reason: keep.reason } : {}),
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
      return result;
    },
  });
}
