// ecsRollback — seeds 000 "Rollback Procedure", 001 Runbook 2 "Quick Rollback (ECS)", 004 P0 "rollback if a recent
// deployment": find the previous ACTIVE task-definition revision (or use the given one), approve (optional),
// update the service, wait until stable, verify health, report.
import { patched } from '@temporalio/workflow';
import { parseDuration } from '../api/duration';
import { deploymentControllerRefusal, ecsServiceKey, shortName } from '../api/runbooks/ecs';
import {
  deployedTooLongAgoRefusal,
  deploymentInProgress,
  describeDeployment,
  familyOf,
  inProgressRefusal,
  otherFamilyRefusal,
  primaryDeployment,
  type EcsRollbackInput,
  type EcsRollbackResult,
} from '../api/runbooks/ecs-rollback';
import type { RunbookReport } from '../api/status';
import { aws, waits } from './lib/proxies';
import { lockable } from './lib/lock';
import { fail } from './lib/errors';
import { describeHealth, healthStep, verifyHealth } from './lib/health';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { ecsRollbackEntry } from '../api/runbooks/ecs-rollback';

const revisionOf = (arn: string) => arn.split('/').pop() ?? arn;
const otherFamily = (r: { current: { family: string }; target: { arn: string } }) =>
  familyOf(r.target.arn) !== r.current.family;

/** Runs recorded before toRevision had to be of the service's own family replay without the check. */
const SAME_FAMILY_PATCH = 'ecs-rollback-same-family-v1';
/**
 * Runs that passed the preflight before a deployment in progress was refused replay without the refusal (no marker in
 * their history). onlyIfDeployedWithin and stopInProgress need no patch: no earlier run's input can carry them.
 */
const IN_PROGRESS_PATCH = 'ecs-rollback-in-progress-v1';

export async function ecsRollback(input: EcsRollbackInput): Promise<RunbookReport<EcsRollbackResult>> {
  return runRunbook(ecsRollbackEntry, input, {
    target: (p) => ecsServiceKey(p),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster, service: p.service };

      // 1. Preflight (read only): the service, its current revision and the revision to go back to.
      const { service, current, target } = await ctx.step(
        'Preflight: find the revision to roll back to',
        async () => {
          const service = await aws.describeService(ref);
          // A CODE_DEPLOY or EXTERNAL service takes no task-definition change through UpdateService: refuse now.
          const controlled = deploymentControllerRefusal({
            label: 'service',
            ref,
            deploymentController: service.deploymentController,
            action: `roll it back from ${revisionOf(service.taskDefinition)} to an earlier task definition`,
          });
          if (controlled) throw fail('PreconditionFailed', controlled);
          // Seed 004's rule, when the input asks for it: roll back only a recent deployment. The PRIMARY deployment's
          // createdAt is when the current revision was deployed: ECS records no other "deployed at" for a service.
          // Date.now() is the workflow's clock (deterministic on replay), taken once the service was described.
          if (p.onlyIfDeployedWithin) {
            const tooOld = deployedTooLongAgoRefusal({
              ref,
              s: service,
              within: { text: p.onlyIfDeployedWithin, ms: parseDuration(p.onlyIfDeployedWithin) },
              now: Date.now(),
            });
            if (tooOld) throw fail('PreconditionFailed', tooOld);
          }
          // A deployment ECS is still carrying out (a rollout half done, or the circuit breaker already rolling back)
          // is not replaced behind anyone's back: refused unless the input says stopInProgress, with a reason.
          const rolling = deploymentInProgress(service);
          if (rolling && !p.stopInProgress && patched(IN_PROGRESS_PATCH)) {
            throw fail(
              'PreconditionFailed',
              inProgressRefusal({ ref, s: service, deployment: rolling, now: Date.now() }),
            );
          }
          const current = await aws.describeTaskDefinition({
            region: p.region,
            taskDefinition: service.taskDefinition,
          });
          let target: { arn: string; revision: number };
          if (p.toRevision) {
            const given = await aws.describeTaskDefinition({ region: p.region, taskDefinition: p.toRevision });
            if (given.status !== 'ACTIVE') {
              throw fail(
                'PreconditionFailed',
                `${revisionOf(given.arn)} is ${given.status}, not ACTIVE; pick an ACTIVE revision`,
              );
            }
            if (given.arn === current.arn) {
              throw fail(
                'PreconditionFailed',
                `the service already runs ${revisionOf(given.arn)}; nothing to roll back`,
              );
            }
            // Another family is another application: refused unless the input allows it with a reason. Runs that
            // passed this preflight before the check existed replay without it (no marker in their history).
            const refusal = otherFamilyRefusal({
              field: 'toRevision',
              given,
              service: shortName(p.service),
              runs: current.arn,
            });
            if (refusal && !p.allowOtherFamily && patched(SAME_FAMILY_PATCH)) {
              throw fail('PreconditionFailed', refusal);
            }
            target = given;
          } else {
            const revisions = await aws.listActiveRevisions({ region: p.region, family: current.family });
            const older = revisions.filter((r) => r.revision < current.revision);
            const previous = older[older.length - 1];
            if (!previous) {
              throw fail(
                'PreconditionFailed',
                `no ACTIVE revision of ${current.family} older than ${current.revision} to roll back to; give toRevision explicitly`,
              );
            }
            target = previous;
          }
          return { service, current, target };
        },
        {
          details: (r) => ({
            currentTaskDefinition: revisionOf(r.current.arn),
            currentImages: r.current.images,
            rollbackTo: revisionOf(r.target.arn),
            desiredCount: r.service.desiredCount,
            runningCount: r.service.runningCount,
            // Only where the input asked for the check or the override, so earlier runs' details stay as they were.
            ...(p.onlyIfDeployedWithin
              ? {
                  deployedAt: primaryDeployment(r.service)?.createdAt,
                  onlyIfDeployedWithin: p.onlyIfDeployedWithin,
                }
              : {}),
            ...(p.stopInProgress && deploymentInProgress(r.service)
              ? { replacesInProgress: { ...deploymentInProgress(r.service), reason: p.stopInProgress.reason } }
              : {}),
            ...(otherFamily(r)
              ? {
                  otherFamily: {
                    runs: r.current.family,
                    rollbackTo: familyOf(r.target.arn),
                    reason: p.allowOtherFamily?.reason,
                  },
                }
              : {}),
          }),
        },
      );
      // Set only when the revision is of another family and the input allowed it: shown in the plan and to approvers.
      const allowed = otherFamily({ current, target }) ? p.allowOtherFamily?.reason : undefined;
      // Set only when ECS is carrying out a deployment and the input said to replace it: the plan, approvers, warning.
      const inProgress = deploymentInProgress(service);
      const replaces =
        p.stopInProgress && inProgress
          ? {
              deployment: inProgress,
              described: describeDeployment(inProgress, Date.now()),
              reason: p.stopInProgress.reason,
            }
          : undefined;

      const from = service.taskDefinition;
      if (
        ctx.planned([
          {
            step: 'Roll back the service',
            action: 'ecs:UpdateService',
            params: {
              region: p.region,
              cluster: p.cluster,
              service: p.service,
              taskDefinition: target.arn,
              from,
              ...(allowed ? { allowOtherFamily: allowed } : {}),
              ...(replaces
                ? {
                    replacesInProgress: revisionOf(replaces.deployment.taskDefinition),
                    stopInProgress: replaces.reason,
                  }
                : {}),
            },
          },
        ]) === 'dry-run'
      )
        return DRY_RUN;

      // 2. Take the service (no other run, of any runbook, changes it meanwhile), then approval (when the policy
      // asks for it).
      await ctx.lockResources([lockable.ecsService(ref)]);
      await ctx.approval(
        `roll ${p.service} (${p.region}/${p.cluster}) back from ${revisionOf(from)} to ${revisionOf(target.arn)}` +
          (allowed ? ` — another family (${familyOf(target.arn)}, not ${familyOf(from)}), allowed: ${allowed}` : '') +
          (replaces
            ? ` — replaces the deployment in progress of ${revisionOf(replaces.deployment.taskDefinition)} ` +
              `(stopInProgress: ${replaces.reason})`
            : '') +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 3. Update the service. Nothing is pushed on the compensation stack: undoing a rollback would redeploy the
      //    revision being removed. If the service does not settle, the run fails and says where it was left.
      await ctx.change(
        'Update service to the previous revision',
        () => aws.updateService({ ...ref, taskDefinition: target.arn }),
        { params: { taskDefinition: revisionOf(target.arn), from: revisionOf(from) } },
      );
      // The UpdateService above is what stopped it: ECS made the rollback's deployment the PRIMARY and drains the tasks
      // of the one that was in progress. (ECS's StopServiceDeployment is not used: its ROLLBACK goes to the service
      // revision before that deployment, not necessarily to the one this run picked, it needs another permission, and
      // the emulator does not have it.)
      if (replaces) {
        ctx.warn(
          `in-progress deployment of ${revisionOf(replaces.deployment.taskDefinition)} replaced by the rollback ` +
            `(${replaces.reason}); it was ${replaces.described}`,
        );
      }

      // 4. Wait until stable (poll with backoff in the activity; no fixed sleeps).
      const stable = await ctx.step(
        'Wait until the service is stable',
        () =>
          waits.waitForServiceStable({
            ...ref,
            timeoutMs: parseDuration(p.stableTimeout),
            expect: { taskDefinition: target.arn },
          }),
        { details: (s) => ({ runningCount: s.runningCount, desiredCount: s.desiredCount, waitedMs: s.waitedMs }) },
      );

      // 5. Verify health. An unhealthy service is reported plainly and left on the rollback revision.
      let health;
      if (p.health) {
        const check = p.health;
        health = await ctx.step('Verify health', () => verifyHealth(check), healthStep);
        if (!health.healthy) {
          ctx.warn(
            `health check failed after the rollback: ${describeHealth(health)}. The service was left on ` +
              `${revisionOf(target.arn)} as it is (not rolled forward); investigate before changing it again.`,
          );
        }
      } else {
        ctx.tracker.skipped('Verify health', 'no health check in the input');
      }

      return {
        cluster: p.cluster,
        service: p.service,
        fromTaskDefinition: from,
        toTaskDefinition: target.arn,
        desiredCount: stable.desiredCount,
        runningCount: stable.runningCount,
        ...(health ? { healthy: health.healthy, health } : {}),
      };
    },
  });
}
