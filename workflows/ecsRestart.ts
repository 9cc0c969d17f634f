// ecsRestart — seed 003 § Scenario 5 "If single AZ affected, force redistribution" (update-service
// --force-new-deployment after checking how the tasks spread over Availability Zones), seed 001's "Memory Leak" (a
// revision with more memory, then a forced deployment) and seed 000's "Restart application" (to pick up a changed
// configuration): read the service and its AZ spread, approve
// (by policy), optionally register a revision with new CPU/memory/environment, force a new deployment, wait until
// stable, check health, read the AZ spread again. A plain restart cannot be undone (its tasks are replaced); a restart
// on a new revision is undone by putting the service back on the old one.
import { parseDuration } from '../api/duration';
import { deploymentControllerRefusal, ecsServiceKey, shortName } from '../api/runbooks/ecs';
import type { AzSpreadReading, EcsRestartInput, EcsRestartParams, EcsRestartResult } from '../api/runbooks/ecs-deploy';
import { deploymentInProgress, describeDeployment, primaryDeployment } from '../api/runbooks/ecs-rollback';
import type { RunbookReport } from '../api/status';
import type { ContainerEnvironment } from '../activities/ecs-tasks';
import { ecsRestartEntry } from '../api/runbooks/ecs-deploy';
import { errorMessage, fail } from './lib/errors';
import { requireHealthy } from './lib/health';
import { lockable } from './lib/lock';
import { aws, waits } from './lib/proxies';
import { DRY_RUN, runRunbook } from './lib/runbook';

const revisionOf = (arn: string) => arn.split('/').pop() ?? arn;
const sameRevision = (a: string, b: string) => a === b || revisionOf(a) === revisionOf(b);

/** The revision settings a restart may change, as the input gives them. */
type SettingsChange = Pick<EcsRestartParams, 'cpu' | 'memory' | 'environment'>;

/** A revision's current settings (activities/ecs-tasks.ts taskDefinitionSettings). */
interface Settings {
  cpu?: string;
  memory?: string;
  environment: ContainerEnvironment;
}

/** Does the input ask for a new revision at all? */
export function asksForRevision(c: SettingsChange): boolean {
  return c.cpu !== undefined || c.memory !== undefined || Object.keys(c.environment ?? {}).length > 0;
}

/**
 * The change in words, against the revision's current settings (pure: unit-tested), e.g.
 * `memory 512 → 1024 MiB, LOG_LEVEL=debug (was info), FEATURE_X=on (new)`.
 */
export function describeRevisionChange(c: SettingsChange, current?: Settings): string {
  const parts: string[] = [];
  const was = (now: string | undefined, next: number) =>
    current ? (now !== undefined ? `${now} → ${next}` : `${next} (was not set)`) : `${next}`;
  if (c.cpu !== undefined) parts.push(`cpu ${was(current?.cpu, c.cpu)}`);
  if (c.memory !== undefined) parts.push(`memory ${was(current?.memory, c.memory)} MiB`);
  for (const [name, value] of Object.entries(c.environment ?? {})) {
    if (!current) {
      parts.push(`${name}=${value}`);
      continue;
    }
    const before = Object.values(current.environment)
      .map((env) => env[name])
      .find((v) => v !== undefined);
    parts.push(`${name}=${value} (${before === undefined ? 'new' : before === value ? 'unchanged' : `was ${before}`})`);
  }
  return parts.join(', ');
}

/** A spread in words (pure: unit-tested): `us-east-1a: 2, us-east-1b: 1 (3 tasks)`. */
export function describeSpread(r: AzSpreadReading): string {
  if (r.unreadable) return `unreadable (${r.unreadable})`;
  if (!r.tasks) return 'no running task seen';
  const zones = Object.entries(r.zones).map(([az, n]) => `${az}: ${n}`);
  if (r.unknownZone) zones.push(`no zone shown: ${r.unknownZone}`);
  return `${zones.join(', ')} (${r.tasks} task${r.tasks === 1 ? '' : 's'})`;
}

/**
 * What is uneven about a spread, or undefined when it is even enough (pure: unit-tested). Seed 003 wants the tasks
 * over the AZs: uneven is every task (two or more) in one zone, or two zones more than one task apart. Only the zones
 * that have tasks are known here (not the service's subnets), so a zone with none is not seen.
 */
export function spreadUnevenness(r: AzSpreadReading): string | undefined {
  if (r.unreadable) return undefined;
  const zones = Object.entries(r.zones).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const placed = zones.reduce((sum, [, n]) => sum + n, 0);
  if (placed < 2) return undefined;
  const most = zones[0];
  const least = zones[zones.length - 1];
  if (!most || !least) return undefined;
  if (zones.length === 1) return `all ${placed} tasks run in ${most[0]}: an outage of that zone stops the service`;
  if (most[1] - least[1] > 1) {
    return `${most[0]} runs ${most[1]} tasks and ${least[0]} ${least[1]} (${describeSpread(r)})`;
  }
  return undefined;
}

export async function ecsRestart(input: EcsRestartInput): Promise<RunbookReport<EcsRestartResult>> {
  return runRunbook(ecsRestartEntry, input, {
    target: (p) => ecsServiceKey(p),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster, service: p.service };
      const name = shortName(p.service);
      const where = `${p.region}/${shortName(p.cluster)}`;
      const timeoutMs = parseDuration(p.stableTimeout);
      const change: SettingsChange = {
        ...(p.cpu !== undefined ? { cpu: p.cpu } : {}),
        ...(p.memory !== undefined ? { memory: p.memory } : {}),
        ...(p.environment && Object.keys(p.environment).length ? { environment: p.environment } : {}),
      };
      const withRevision = asksForRevision(change);

      // 1. Preflight (read only): the service, its controller and count, and, for new settings, its revision's.
      const pre = await ctx.step(
        'Preflight: the service and its revision',
        async () => {
          const service = await aws.describeService(ref);
          // AWS refuses a forced deployment through UpdateService for a CODE_DEPLOY or EXTERNAL service.
          const controlled = deploymentControllerRefusal({
            label: 'service',
            ref,
            deploymentController: service.deploymentController,
            action: `force a new deployment of it (restart its tasks)${withRevision ? ' on a new revision' : ''}`,
          });
          if (controlled) {
            throw fail(
              'PreconditionFailed',
              controlled +
                (service.deploymentController === 'CODE_DEPLOY'
                  ? '. A CODE_DEPLOY service is redeployed through CodeDeploy: a new CodeDeploy deployment replaces ' +
                    'its tasks, and the ecsDeploy runbook deploys a new image or revision to it that way'
                  : ''),
            );
          }
          if (service.desiredCount === 0) {
            throw fail(
              'PreconditionFailed',
              `${name} (${ecsServiceKey(ref)}) has a desired count of 0: no task runs, so there is nothing to ` +
                `restart. To run tasks again, set a count (the emergencyScale runbook, or aws ecs update-service ` +
                `--region ${p.region} --cluster ${shortName(p.cluster)} --service ${name} --desired-count <n>)`,
            );
          }
          const current = withRevision
            ? {
                ...(await aws.describeTaskDefinition({ region: p.region, taskDefinition: service.taskDefinition })),
                settings: await aws.taskDefinitionSettings({
                  region: p.region,
                  taskDefinition: service.taskDefinition,
                }),
              }
            : undefined;
          return { service, current };
        },
        {
          details: ({ service: s, current }) => ({
            taskDefinition: revisionOf(s.taskDefinition),
            desiredCount: s.desiredCount,
            runningCount: s.runningCount,
            deployment: primaryDeployment(s)?.id,
            ...(current
              ? {
                  images: current.images,
                  cpu: current.settings.cpu,
                  memory: current.settings.memory,
                  change: describeRevisionChange(change, current.settings),
                }
              : {}),
          }),
        },
      );
      const before = pre.service;
      const from = before.taskDefinition;
      const desiredBefore = before.desiredCount;
      const what = withRevision ? describeRevisionChange(change, pre.current?.settings) : '';

      // Seed 003: how the tasks spread over the zones before (a read that is refused is recorded, not a failure).
      const spreadBefore = await ctx.step('AZ spread before the restart', () => readSpread(), {
        details: (r) => ({ ...r, summary: describeSpread(r) }),
      });

      if (
        ctx.planned([
          ...(withRevision
            ? [
                {
                  step: 'Register the new revision',
                  action: 'ecs:RegisterTaskDefinition',
                  params: { from: revisionOf(from), ...change },
                },
              ]
            : []),
          {
            step: 'Restart: new deployment',
            action: 'ecs:UpdateService',
            params: {
              ...ref,
              forceNewDeployment: true,
              taskDefinition: withRevision ? '(the new revision)' : from,
              ...(withRevision ? { from } : {}),
              desiredCount: `${desiredBefore} (unchanged)`,
            },
          },
        ]) === 'dry-run'
      )
        return DRY_RUN;

      // 2. Take the service (no other run, of any runbook, changes it meanwhile), then approval by policy.
      const rolling = deploymentInProgress(before);
      await ctx.lockResources([lockable.ecsService(ref)]);
      await ctx.approval(
        `restart ${name} (${where}): a new deployment of ${withRevision ? `a new revision of ${revisionOf(from)} (${what})` : revisionOf(from)} ` +
          `replaces its ${desiredBefore} task${desiredBefore === 1 ? '' : 's'} (count unchanged)` +
          (spreadBefore.tasks ? ` — AZ spread now: ${describeSpread(spreadBefore)}` : '') +
          (rolling ? ` — replaces the deployment in progress ${describeDeployment(rolling, Date.now())}` : '') +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 3. The new revision (idempotent: a retry or a second run with the same settings reuses it). A registered
      //    revision is inert: nothing to undo.
      let target = from;
      if (withRevision) {
        const r = await ctx.change(
          'Register the new revision',
          () => aws.registerRevision({ region: p.region, taskDefinition: from, change }),
          { details: (x) => ({ taskDefinition: revisionOf(x.arn), created: x.created, change: what }) },
        );
        target = r.arn;
        if (sameRevision(target, from)) {
          ctx.warn(`${revisionOf(from)} already has ${what}: restarted on it, no new revision`);
        } else if (r.created) {
          ctx.noteOnFailure(`${revisionOf(target)} stays registered (a revision no service runs is inert).`);
        }
      }
      const revisionChanged = !sameRevision(target, from);

      // 4. Restart: a forced new deployment (UpdateService retries are effective once: see activities/ecs.ts). On a
      //    new revision, the compensation puts the service back on the old one; a plain restart cannot be undone.
      await ctx.change(
        `Restart: new deployment of ${revisionOf(target)}`,
        () =>
          aws.updateService({
            ...ref,
            ...(revisionChanged ? { taskDefinition: target } : {}),
            forceNewDeployment: true,
          }),
        {
          params: {
            taskDefinition: revisionOf(target),
            ...(revisionChanged ? { from: revisionOf(from) } : {}),
            forceNewDeployment: true,
          },
          details: (s) => ({ deployment: primaryDeployment(s)?.id }),
          undo: () =>
            revisionChanged
              ? { name: `Put ${name} back on ${revisionOf(from)}`, run: () => backToOldRevision() }
              : undefined,
        },
      );
      if (!revisionChanged) {
        ctx.noteOnFailure(
          `The restart replaced ${name}'s tasks (a new deployment of ${revisionOf(from)}) and changed nothing else; ` +
            `a restart cannot be undone, so the service was left as it is.`,
        );
      }
      if (rolling) {
        ctx.warn(
          `the deployment in progress was replaced by the restart; it was ${describeDeployment(rolling, Date.now())}`,
        );
      }

      // 5. Wait until stable on the revision with the count it had. ECS's circuit breaker or a crash loop ends the
      //    wait at once (ServiceDeploymentFailed, quoting AWS) — and the run, compensated.
      const stable = await ctx.step(
        'Wait until the service is stable',
        () =>
          waits.waitForServiceStable({
            ...ref,
            timeoutMs,
            expect: { taskDefinition: target, desiredCount: desiredBefore },
          }),
        {
          details: (s) => ({
            runningCount: s.runningCount,
            desiredCount: s.desiredCount,
            deployment: primaryDeployment(s)?.id,
            waitedMs: s.waitedMs,
            phases: s.phases,
          }),
        },
      );

      // 6. Health: unhealthy fails the run. On a new revision the compensation puts the old one back; after a plain
      //    restart the service is left as it is (the failure says so).
      const health = await requireHealthy(ctx, p.health, `after the restart on ${revisionOf(target)}`);

      // 7. How the new tasks spread (seed 003), and whether the restart did what a restart does.
      const spreadAfter = await ctx.step('AZ spread after the restart', () => readSpread(), {
        details: (r) => ({ ...r, summary: describeSpread(r) }),
      });
      const uneven = spreadUnevenness(spreadAfter);
      if (uneven) {
        ctx.warn(
          `tasks spread unevenly over Availability Zones after the restart: ${uneven}. Check that the service's ` +
            `subnets span several zones and its placement strategy spreads by zone (seed 003), or restart again ` +
            `once the zones are healthy`,
        );
      }
      const deploymentBefore = primaryDeployment(before)?.id;
      const deploymentAfter = primaryDeployment(stable)?.id;
      if (deploymentBefore && deploymentAfter === deploymentBefore) {
        ctx.warn(`ECS still shows deployment ${deploymentBefore} as the PRIMARY one: no new deployment is visible`);
      }
      if (stable.desiredCount !== desiredBefore) {
        ctx.warn(
          `the desired count is ${stable.desiredCount}, not ${desiredBefore} as before: changed by someone else`,
        );
      }

      ctx.incident({
        title: `Restart ${name}${revisionChanged ? ` on ${revisionOf(target)}` : ''}`,
        resolvedAs: `${name} running a new deployment of ${revisionOf(target)}`,
        impact: [
          ['Tasks', `${stable.runningCount} of ${stable.desiredCount} running (${desiredBefore} before)`],
          ['AZ spread before', describeSpread(spreadBefore)],
          ['AZ spread after', describeSpread(spreadAfter)],
        ],
        resolution:
          `${name} (${ecsServiceKey(ref)}) restarted: deployment ${deploymentAfter ?? '?'} of ${revisionOf(target)}` +
          (revisionChanged ? ` (from ${revisionOf(from)}: ${what})` : '') +
          ` replaced ${deploymentBefore ?? 'the previous deployment'}; ${stable.runningCount} of ` +
          `${stable.desiredCount} tasks running.`,
      });

      return {
        cluster: p.cluster,
        service: p.service,
        fromTaskDefinition: from,
        toTaskDefinition: target,
        revisionChanged,
        ...(deploymentBefore ? { deploymentBefore } : {}),
        ...(deploymentAfter ? { deploymentAfter } : {}),
        desiredCountBefore: desiredBefore,
        desiredCount: stable.desiredCount,
        runningCount: stable.runningCount,
        azSpread: { before: spreadBefore, after: spreadAfter },
        ...(uneven ? { unevenSpread: uneven } : {}),
        ...(health ? { health } : {}),
      };

      /** The AZ spread; any failure to read it is recorded in the reading, never a failure of the restart. */
      async function readSpread(): Promise<AzSpreadReading> {
        try {
          return await aws.taskSpread(ref);
        } catch (err) {
          return { zones: {}, tasks: 0, unknownZone: 0, unreadable: errorMessage(err) };
        }
      }

      /**
       * The compensation of a restart on a new revision: the service back on the old revision, stable there. When
       * ECS's circuit breaker has already rolled it back, nothing is sent: ECS carries out its own rollback.
       */
      async function backToOldRevision(): Promise<string> {
        const now = await aws.describeService(ref);
        if (sameRevision(now.taskDefinition, from)) {
          const failed = now.deployments.find((d) => d.rolloutState === 'FAILED');
          return (
            `${name} was already back on ${revisionOf(from)}` +
            (failed ? ` (ECS's circuit breaker rolled back deployment ${failed.id})` : '') +
            `, ${now.runningCount} of ${now.desiredCount} tasks running; nothing sent`
          );
        }
        await aws.updateService({ ...ref, taskDefinition: from });
        const settled = await waits.waitForServiceStable({ ...ref, timeoutMs, expect: { taskDefinition: from } });
        return `${name} on ${revisionOf(from)} again, ${settled.runningCount} of ${settled.desiredCount} tasks running`;
      }
    },
  });
}
