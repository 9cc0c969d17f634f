// ecsDeploy — seed 000 "Standard deployment" (a new image tag, --deployment-configuration maximumPercent=200,
// minimumHealthyPercent=50, wait, health check), seed 001's services deployed through CodeDeploy blue/green: register
// the revision (only the image changed), set the deployment configuration for the run, deploy, wait with rollout
// state and stopped-task reasons, check health and gates, put the configuration back. On failure the previous
// revision and configuration are restored — or the run says ECS's circuit breaker (or CodeDeploy) already rolled back.
import { sleep, workflowInfo } from '@temporalio/workflow';
import { parseDuration } from '../api/duration';
import { ecsServiceKey, shortName } from '../api/runbooks/ecs';
import type { DeployVersion, EcsDeployInput, EcsDeployResult } from '../api/runbooks/ecs-deploy';
import { deploymentInProgress, describeDeployment, otherFamilyRefusal } from '../api/runbooks/ecs-rollback';
import type { RunbookReport } from '../api/status';
import type { EcsDeploymentConfiguration } from '../activities/ecs';
import type { RevisionChange } from '../activities/ecs';
import { ecsDeployEntry } from '../api/runbooks/ecs-deploy';
import { fail } from './lib/errors';
import { checkGates, describeGateReading, hasGates } from './lib/gates';
import { requireHealthy } from './lib/health';
import { lockable } from './lib/lock';
import { aws, waits } from './lib/proxies';
import { DRY_RUN, runRunbook } from './lib/runbook';

const revisionOf = (arn: string) => arn.split('/').pop() ?? arn;

/** AWS's defaults, for a service that does not show its configuration (what it runs with then). */
const AWS_DEFAULT_CONFIGURATION: EcsDeploymentConfiguration = {
  maximumPercent: 200,
  minimumHealthyPercent: 100,
  deploymentCircuitBreaker: { enable: false, rollback: false },
};

const describeConfiguration = (c: EcsDeploymentConfiguration) =>
  `max ${c.maximumPercent ?? '?'} % / min ${c.minimumHealthyPercent ?? '?'} %, circuit breaker ` +
  (c.deploymentCircuitBreaker?.enable ? `on${c.deploymentCircuitBreaker.rollback ? ' with rollback' : ''}` : 'off');

/** The image change a version asks for ('' = the only container), or undefined for an existing revision. */
function imageChange(v: DeployVersion): RevisionChange['images'] | undefined {
  if ('image' in v) return { [v.container ?? '']: v.image };
  if ('images' in v) return v.images;
  return undefined;
}

/** `image repo:tag` for the only container, else `app=repo:tag, sidecar=…`. */
function describeImages(images: Record<string, string>): string {
  return Object.entries(images)
    .map(([name, image]) => (name === '' ? `image ${image}` : `${name}=${image}`))
    .join(', ');
}

/** Does the revision (its images as `name=image`) already carry every image asked for? */
function alreadyHas(images: string[], wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([name, image]) =>
    name === '' ? images.length === 1 && !!images[0]?.endsWith(`=${image}`) : images.includes(`${name}=${image}`),
  );
}

export async function ecsDeploy(input: EcsDeployInput): Promise<RunbookReport<EcsDeployResult>> {
  return runRunbook(ecsDeployEntry, input, {
    target: (p) => ecsServiceKey(p),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster, service: p.service };
      const name = shortName(p.service);
      const images = imageChange(p.version);

      // 1. Preflight (read only): the service, its controller and revision, what to deploy, nothing in the way.
      const pre = await ctx.step(
        'Preflight: the service, its revision and what to deploy',
        async () => {
          const service = await aws.describeService(ref);
          const controller = service.deploymentController ?? 'ECS';
          if (controller === 'EXTERNAL') {
            throw fail(
              'PreconditionFailed',
              `service ${name} (${ecsServiceKey(ref)}) uses the EXTERNAL deployment controller: it is deployed ` +
                `through its task sets (aws ecs create-task-set …), not by this runbook`,
            );
          }
          const current = await aws.describeTaskDefinition({
            region: p.region,
            taskDefinition: service.taskDefinition,
          });
          let given: Awaited<ReturnType<typeof aws.describeTaskDefinition>> | undefined;
          if ('taskDefinition' in p.version) {
            given = await aws.describeTaskDefinition({ region: p.region, taskDefinition: p.version.taskDefinition });
            if (given.status !== 'ACTIVE') {
              throw fail(
                'PreconditionFailed',
                `${revisionOf(given.arn)} is ${given.status}, not ACTIVE; pick an ACTIVE revision`,
              );
            }
            if (given.arn === current.arn) {
              throw fail('PreconditionFailed', `${name} already runs ${revisionOf(given.arn)}; nothing to deploy`);
            }
            const refusal = otherFamilyRefusal({
              field: 'version.taskDefinition',
              given,
              service: name,
              runs: current.arn,
            });
            if (refusal && !p.allowOtherFamily) throw fail('PreconditionFailed', refusal);
          } else if (images && alreadyHas(current.images, images)) {
            throw fail(
              'PreconditionFailed',
              `${name} already runs ${revisionOf(current.arn)} with ${current.images.join(', ')}; nothing to deploy`,
            );
          }
          // A deployment ECS is still carrying out is not replaced behind anyone's back.
          const rolling = deploymentInProgress(service);
          if (rolling) {
            throw fail(
              'PreconditionFailed',
              `refusing to deploy: ${name} has a deployment in progress: ${describeDeployment(rolling, Date.now())}. ` +
                `Wait until ECS completes or fails it (aws ecs describe-services --region ${p.region} --cluster ` +
                `${shortName(p.cluster)} --services ${name} --query 'services[0].deployments'), then deploy`,
            );
          }
          const codeDeploy =
            controller === 'CODE_DEPLOY'
              ? await aws.findDeploymentGroup({ ...ref, ...(p.codeDeploy ?? {}) })
              : undefined;
          if (codeDeploy?.active) {
            throw fail(
              'PreconditionFailed',
              `refusing to deploy: CodeDeploy ${codeDeploy.application}/${codeDeploy.deploymentGroup} is carrying ` +
                `out deployment ${codeDeploy.active.deploymentId} (${codeDeploy.active.status}). Wait until it ends ` +
                `(aws deploy get-deployment --region ${p.region} --deployment-id ${codeDeploy.active.deploymentId}), ` +
                `then deploy`,
            );
          }
          return { service, controller, current, given, codeDeploy };
        },
        {
          details: (r) => ({
            controller: r.controller,
            currentTaskDefinition: revisionOf(r.current.arn),
            currentImages: r.current.images,
            ...(r.given ? { deploy: revisionOf(r.given.arn), images: r.given.images } : { deployImages: images }),
            desiredCount: r.service.desiredCount,
            runningCount: r.service.runningCount,
            ...(r.service.deploymentConfiguration
              ? { deploymentConfiguration: describeConfiguration(r.service.deploymentConfiguration) }
              : {}),
            ...(r.codeDeploy ? { codeDeploy: `${r.codeDeploy.application}/${r.codeDeploy.deploymentGroup}` } : {}),
          }),
        },
      );
      const { service, controller, current, codeDeploy } = pre;
      const from = service.taskDefinition;
      const previousConfig = service.deploymentConfiguration ?? AWS_DEFAULT_CONFIGURATION;
      const runConfig: EcsDeploymentConfiguration | undefined =
        p.deploymentConfiguration && !codeDeploy
          ? {
              maximumPercent: p.deploymentConfiguration.maximumPercent,
              minimumHealthyPercent: p.deploymentConfiguration.minimumHealthyPercent,
              deploymentCircuitBreaker: {
                enable: p.deploymentConfiguration.circuitBreaker,
                rollback: p.deploymentConfiguration.circuitBreaker,
              },
            }
          : undefined;
      if (p.deploymentConfiguration && codeDeploy) {
        ctx.warn(
          `deploymentConfiguration not used: ${name} deploys through CodeDeploy, whose deployment group ` +
            `${codeDeploy.application}/${codeDeploy.deploymentGroup} decides how traffic moves`,
        );
      }

      const what = pre.given
        ? revisionOf(pre.given.arn)
        : `${revisionOf(current.arn)} with ${describeImages(images ?? {})}`;
      if (
        ctx.planned([
          ...(images
            ? [
                {
                  step: 'Register the new revision',
                  action: 'ecs:RegisterTaskDefinition',
                  params: { from: revisionOf(current.arn), images: describeImages(images) },
                },
              ]
            : []),
          codeDeploy
            ? {
                step: 'Deploy through CodeDeploy',
                action: 'codedeploy:CreateDeployment',
                params: {
                  application: codeDeploy.application,
                  deploymentGroup: codeDeploy.deploymentGroup,
                  taskDefinition: pre.given?.arn ?? '(the new revision)',
                  from,
                },
              }
            : {
                step: 'Deploy the new revision',
                action: 'ecs:UpdateService',
                params: {
                  ...ref,
                  taskDefinition: pre.given?.arn ?? '(the new revision)',
                  from,
                  ...(runConfig ? { deploymentConfiguration: runConfig } : {}),
                },
              },
          ...(runConfig
            ? [
                {
                  step: 'Put the deployment configuration back',
                  action: 'ecs:UpdateService',
                  params: { ...ref, deploymentConfiguration: previousConfig },
                },
              ]
            : []),
        ]) === 'dry-run'
      )
        return DRY_RUN;

      // 2. Take the service (no other run changes it meanwhile), then approval when the policy asks for it.
      await ctx.lockResources([lockable.ecsService(ref)]);
      await ctx.approval(
        `deploy ${what} to ${name} (${p.region}/${shortName(p.cluster)}), now on ${revisionOf(from)}` +
          (codeDeploy ? ` — through CodeDeploy ${codeDeploy.application}/${codeDeploy.deploymentGroup}` : '') +
          (runConfig ? ` — deployment configuration ${describeConfiguration(runConfig)} for the run` : '') +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 3. The revision: registered from the current one with only the images changed (idempotent: a retry or a
      //    second run with the same images reuses it). A registered revision is inert: nothing to undo.
      let target: { arn: string; images: string[]; registered: boolean };
      if (images) {
        const r = await ctx.change(
          'Register the new revision',
          () => aws.registerRevision({ region: p.region, taskDefinition: current.arn, change: { images } }),
          { details: (x) => ({ taskDefinition: revisionOf(x.arn), images: x.images, created: x.created }) },
        );
        target = { arn: r.arn, images: r.images, registered: r.created };
      } else {
        const given = pre.given;
        if (!given) throw fail('PreconditionFailed', 'no revision to deploy');
        target = { arn: given.arn, images: given.images, registered: false };
      }

      // 4. Deploy and wait.
      let codeDeployResult: EcsDeployResult['codeDeploy'];
      if (codeDeploy) {
        const d = await ctx.change(
          `Deploy ${revisionOf(target.arn)} through CodeDeploy`,
          () =>
            aws.createCodeDeployDeployment({
              region: p.region,
              application: codeDeploy.application,
              deploymentGroup: codeDeploy.deploymentGroup,
              taskDefinition: target.arn,
              ...(codeDeploy.containerName ? { containerName: codeDeploy.containerName } : {}),
              ...(codeDeploy.containerPort ? { containerPort: codeDeploy.containerPort } : {}),
              description: `ecsDeploy of ${revisionOf(target.arn)} to ${name}${p.reason ? `: ${p.reason}` : ''}`,
              marker: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
            }),
          {
            details: (x) => ({ deploymentId: x.deploymentId, created: x.created }),
            undo: (x) => ({
              name: `Stop CodeDeploy deployment ${x.deploymentId} and put ${name} back on ${revisionOf(from)}`,
              run: () => undoCodeDeploy(x.deploymentId),
            }),
          },
        );
        const done = await ctx.step(
          'Wait for the CodeDeploy deployment',
          () =>
            waits.waitForCodeDeployDeployment({
              region: p.region,
              deploymentId: d.deploymentId,
              timeoutMs: parseDuration(p.stableTimeout),
            }),
          { details: (x) => ({ status: x.status, waitedMs: x.waitedMs, phases: x.phases }) },
        );
        codeDeployResult = {
          application: codeDeploy.application,
          deploymentGroup: codeDeploy.deploymentGroup,
          deploymentId: d.deploymentId,
          status: done.status,
        };
      } else {
        await ctx.change(
          `Deploy ${revisionOf(target.arn)}`,
          () =>
            aws.updateService({
              ...ref,
              taskDefinition: target.arn,
              ...(runConfig ? { deploymentConfiguration: runConfig } : {}),
            }),
          {
            params: {
              taskDefinition: revisionOf(target.arn),
              from: revisionOf(from),
              ...(runConfig ? { deploymentConfiguration: describeConfiguration(runConfig) } : {}),
            },
            undo: () => ({
              name: `Put ${name} back on ${revisionOf(from)}${runConfig ? ' and its deployment configuration' : ''}`,
              run: () => undoEcs(),
            }),
          },
        );
      }
      const stable = await ctx.step(
        'Wait until the service is stable on the new revision',
        () =>
          waits.waitForServiceStable({
            ...ref,
            timeoutMs: parseDuration(p.stableTimeout),
            expect: { taskDefinition: target.arn },
          }),
        {
          details: (s) => ({
            runningCount: s.runningCount,
            desiredCount: s.desiredCount,
            waitedMs: s.waitedMs,
            phases: s.phases,
          }),
        },
      );

      // 5. Health and gates: a failure rolls back (the compensation above).
      const health = await requireHealthy(ctx, p.health, `on ${revisionOf(target.arn)}`);
      const gates = p.gates && {
        region: p.region,
        alarms: p.gates.alarms,
        metrics: p.gates.metrics,
        burnRates: p.gates.burnRates,
        httpChecks: p.gates.httpChecks,
      };
      if (gates && p.gates && hasGates(gates)) {
        const intervalMs = parseDuration(p.gates.checkInterval);
        const watchMs = parseDuration(p.gates.watch);
        await ctx.step(
          'Check the gates',
          async () => {
            const started = Date.now();
            const all = [];
            for (;;) {
              const readings = await checkGates(gates, 100, Math.max(intervalMs, 60_000));
              all.push(...readings);
              const failing = readings.filter((r) => r.verdict === 'fail');
              if (failing.length) {
                throw fail(
                  'GateFailed',
                  `gate failed on ${revisionOf(target.arn)}: ${failing.map(describeGateReading).join('; ')}`,
                );
              }
              if (Date.now() - started + intervalMs > watchMs) return all;
              await sleep(intervalMs);
            }
          },
          { details: (r) => ({ readings: r.length, passed: r.filter((x) => x.verdict === 'pass').length }) },
        );
      }

      // 6. The deployment configuration goes back to what the service had.
      if (runConfig) {
        await ctx.change(
          'Put the deployment configuration back',
          () => aws.updateService({ ...ref, deploymentConfiguration: previousConfig }),
          { params: { deploymentConfiguration: describeConfiguration(previousConfig) } },
        );
      }

      ctx.incident({
        title: `Deploy ${revisionOf(target.arn)} to ${name}`,
        resolvedAs: `${name} serving ${revisionOf(target.arn)}`,
        resolution:
          `${name} (${ecsServiceKey(ref)}) moved from ${revisionOf(from)} to ${revisionOf(target.arn)} ` +
          `(${target.images.join(', ')})${codeDeployResult ? ` through CodeDeploy deployment ${codeDeployResult.deploymentId}` : ''}; ` +
          `${stable.runningCount} of ${stable.desiredCount} tasks running.`,
      });

      return {
        cluster: p.cluster,
        service: p.service,
        controller,
        fromTaskDefinition: from,
        toTaskDefinition: target.arn,
        images: target.images,
        registered: target.registered,
        desiredCount: stable.desiredCount,
        runningCount: stable.runningCount,
        ...(codeDeployResult ? { codeDeploy: codeDeployResult } : {}),
        ...(health ? { health } : {}),
      };

      /**
       * The ECS compensation: the service back on its revision and configuration, and stable there. When ECS's
       * circuit breaker already put it back, only the configuration is restored — and the record says so.
       */
      async function undoEcs(): Promise<string> {
        const now = await aws.describeService(ref);
        const back = now.taskDefinition === from;
        if (!back || runConfig) {
          await aws.updateService({
            ...ref,
            ...(back ? {} : { taskDefinition: from }),
            ...(runConfig ? { deploymentConfiguration: previousConfig } : {}),
          });
        }
        const settled = await waits.waitForServiceStable({
          ...ref,
          timeoutMs: parseDuration(p.stableTimeout),
          expect: { taskDefinition: from },
        });
        return back
          ? `ECS's circuit breaker had already rolled ${name} back to ${revisionOf(from)}; ` +
              `${settled.runningCount} of ${settled.desiredCount} tasks running`
          : `${name} on ${revisionOf(from)} again, ${settled.runningCount} of ${settled.desiredCount} tasks running`;
      }

      /**
       * The CodeDeploy compensation: stop the deployment with CodeDeploy's rollback while it runs; once it has ended,
       * the service is checked, and a deployment that succeeded (then failed health or a gate) is undone by a
       * deployment of the previous revision.
       */
      async function undoCodeDeploy(deploymentId: string): Promise<string> {
        const group = codeDeploy;
        if (!group) return 'no CodeDeploy deployment group';
        const stop = await aws.stopCodeDeployDeployment({ region: p.region, deploymentId });
        const d = await aws.getCodeDeployDeployment({ region: p.region, deploymentId });
        const now = await aws.describeService(ref);
        if (now.taskDefinition === from) {
          return stop.alreadyEnded
            ? `CodeDeploy had already ended ${deploymentId} (${d.status})` +
                (d.rollback?.deploymentId ? ` and rolled back (${d.rollback.deploymentId})` : '') +
                `; ${name} runs ${revisionOf(from)}`
            : `stopped ${deploymentId} with CodeDeploy's rollback; ${name} runs ${revisionOf(from)}`;
        }
        if (!stop.alreadyEnded && d.rollback?.deploymentId) {
          await waits.waitForCodeDeployDeployment({
            region: p.region,
            deploymentId: d.rollback.deploymentId,
            timeoutMs: parseDuration(p.stableTimeout),
          });
          return `stopped ${deploymentId}; CodeDeploy's rollback ${d.rollback.deploymentId} put ${name} back on ${revisionOf(from)}`;
        }
        const back = await aws.createCodeDeployDeployment({
          region: p.region,
          application: group.application,
          deploymentGroup: group.deploymentGroup,
          taskDefinition: from,
          ...(group.containerName ? { containerName: group.containerName } : {}),
          ...(group.containerPort ? { containerPort: group.containerPort } : {}),
          description: `ecsDeploy compensation: ${name} back to ${revisionOf(from)}`,
          marker: `${workflowInfo().workflowId}/${workflowInfo().runId}/undo`,
        });
        await waits.waitForCodeDeployDeployment({
          region: p.region,
          deploymentId: back.deploymentId,
          timeoutMs: parseDuration(p.stableTimeout),
        });
        return `${deploymentId} had ${d.status}; deployed ${revisionOf(from)} again through CodeDeploy (${back.deploymentId})`;
      }
    },
  });
}
