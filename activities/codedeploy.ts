// CodeDeploy activities: an ECS service under the CODE_DEPLOY deployment controller takes a new task definition only
// through a CodeDeploy deployment (blue/green: a replacement task set, test traffic, then the traffic shift). Find the
// service's deployment group, create a deployment with an AppSpec for the new revision (once, even when retried),
// wait on its status and lifecycle events, stop it with a rollback.
import {
  BatchGetDeploymentTargetsCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  ListApplicationsCommand,
  ListDeploymentGroupsCommand,
  ListDeploymentsCommand,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
  type DeploymentGroupInfo,
  type DeploymentInfo,
  type DeploymentStatus,
} from '@aws-sdk/client-codedeploy';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import type { AwsClients } from './aws-clients';
import { NotStable, PreconditionFailed, ResourceNotFound, ServiceDeploymentFailed } from './errors';
import { abortSignal, pollUntil, resumeWait } from './poll';

export interface CodeDeployGroupRef {
  region: string;
  application: string;
  deploymentGroup: string;
}

/** What a deployment of the service needs to know about its group and the service's load balancer. */
export interface CodeDeployTarget extends CodeDeployGroupRef {
  /** CodeDeploy rolls a failed (or stopped) deployment back by itself when the group says so. */
  autoRollback: { enabled: boolean; events: string[] };
  /** The container and port the load balancer sends traffic to (the AppSpec's LoadBalancerInfo). */
  containerName?: string;
  containerPort?: number;
  /** A deployment of the group that CodeDeploy is still carrying out (another run's or a person's). */
  active?: { deploymentId: string; status: string; description?: string };
}

/** A CodeDeploy deployment as the runbook reports it. */
export interface CodeDeployDeploymentView {
  deploymentId: string;
  status: string;
  description?: string;
  error?: { code?: string; message?: string };
  rollback?: { deploymentId?: string; message?: string; triggeredBy?: string };
  createTime?: string;
  completeTime?: string;
}

/** The statuses of a deployment CodeDeploy is still carrying out. */
export const ACTIVE_STATUSES: DeploymentStatus[] = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];

const view = (d: DeploymentInfo | undefined, id: string): CodeDeployDeploymentView => ({
  deploymentId: d?.deploymentId ?? id,
  status: d?.status ?? 'Unknown',
  ...(d?.description ? { description: d.description } : {}),
  ...(d?.errorInformation?.code || d?.errorInformation?.message
    ? { error: { code: d.errorInformation.code, message: d.errorInformation.message } }
    : {}),
  ...(d?.rollbackInfo
    ? {
        rollback: {
          ...(d.rollbackInfo.rollbackDeploymentId ? { deploymentId: d.rollbackInfo.rollbackDeploymentId } : {}),
          ...(d.rollbackInfo.rollbackMessage ? { message: d.rollbackInfo.rollbackMessage } : {}),
          ...(d.rollbackInfo.rollbackTriggeringDeploymentId
            ? { triggeredBy: d.rollbackInfo.rollbackTriggeringDeploymentId }
            : {}),
        },
      }
    : {}),
  ...(d?.createTime ? { createTime: d.createTime.toISOString() } : {}),
  ...(d?.completeTime ? { completeTime: d.completeTime.toISOString() } : {}),
});

/** The AppSpec of an ECS deployment of `taskDefinition` (JSON is valid AppSpec content). */
export function ecsAppSpec(o: { taskDefinition: string; containerName?: string; containerPort?: number }): string {
  const properties: Record<string, unknown> = { TaskDefinition: o.taskDefinition };
  if (o.containerName && o.containerPort) {
    properties.LoadBalancerInfo = { ContainerName: o.containerName, ContainerPort: o.containerPort };
  }
  return JSON.stringify({
    version: 0.0,
    Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: properties } }],
  });
}

/** How a failed or stopped deployment is told: status, AWS's error, and whether CodeDeploy rolled it back. */
export function describeCodeDeployEnd(d: CodeDeployDeploymentView): string {
  const error = d.error ? ` (${[d.error.code, d.error.message].filter(Boolean).join(': ')})` : '';
  const rollback = d.rollback?.deploymentId
    ? `; CodeDeploy rolled it back (rollback deployment ${d.rollback.deploymentId}${d.rollback.message ? `: ${d.rollback.message}` : ''})`
    : d.rollback?.message
      ? `; ${d.rollback.message}`
      : '';
  return `CodeDeploy deployment ${d.deploymentId} ${d.status}${error}${rollback}`;
}

/** The lifecycle event a deployment is at, from its ECS target: "AllowTestTraffic InProgress" (or undefined). */
export function lifecyclePhase(events: { lifecycleEventName?: string; status?: string }[]): string | undefined {
  const current =
    events.find((e) => e.status === 'InProgress' || e.status === 'Failed') ??
    [...events].reverse().find((e) => e.status === 'Succeeded');
  return current ? `${current.lifecycleEventName ?? '?'} ${current.status ?? ''}`.trim() : undefined;
}

const shortName = (nameOrArn: string) => nameOrArn.split('/').pop() ?? nameOrArn;

export function createCodeDeployActivities(aws: AwsClients) {
  async function getDeployment(region: string, deploymentId: string): Promise<CodeDeployDeploymentView> {
    const out = await aws
      .codedeploy(region)
      .send(new GetDeploymentCommand({ deploymentId }), { abortSignal: abortSignal() });
    return view(out.deploymentInfo, deploymentId);
  }

  /** The group's deployments CodeDeploy is still carrying out, newest first. */
  async function activeDeployments(g: CodeDeployGroupRef): Promise<CodeDeployDeploymentView[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await aws.codedeploy(g.region).send(
        new ListDeploymentsCommand({
          applicationName: g.application,
          deploymentGroupName: g.deploymentGroup,
          includeOnlyStatuses: ACTIVE_STATUSES,
          nextToken,
        }),
        { abortSignal: abortSignal() },
      );
      ids.push(...(out.deployments ?? []));
      nextToken = out.nextToken;
    } while (nextToken && ids.length < 100);
    const all = await Promise.all(ids.map((id) => getDeployment(g.region, id)));
    return all
      .filter((d) => (ACTIVE_STATUSES as string[]).includes(d.status))
      .sort((a, b) => (b.createTime ?? '').localeCompare(a.createTime ?? ''));
  }

  /** The service's container and port behind its load balancer (the AppSpec's LoadBalancerInfo). */
  async function loadBalancerOf(r: { region: string; cluster: string; service: string }) {
    const out = await aws
      .ecs(r.region)
      .send(new DescribeServicesCommand({ cluster: r.cluster, services: [r.service] }), { abortSignal: abortSignal() });
    const lb = out.services?.[0]?.loadBalancers?.find((l) => l.containerName && l.containerPort);
    return lb ? { containerName: lb.containerName!, containerPort: lb.containerPort! } : {};
  }

  return {
    /**
     * The CodeDeploy deployment group that deploys the service: the one given (checked to name the service), or the
     * one found among the region's applications whose ECS service list names it. Also its auto-rollback setting, the
     * service's container and port, and a deployment of the group still in progress, if any.
     */
    async findDeploymentGroup(input: {
      region: string;
      cluster: string;
      service: string;
      application?: string;
      deploymentGroup?: string;
    }): Promise<CodeDeployTarget> {
      const wanted = { cluster: shortName(input.cluster), service: shortName(input.service) };
      const names = (g: DeploymentGroupInfo) =>
        (g.ecsServices ?? []).some(
          (s) => shortName(s.clusterName ?? '') === wanted.cluster && shortName(s.serviceName ?? '') === wanted.service,
        );
      const describe = async (application: string, deploymentGroup: string) =>
        (
          await aws
            .codedeploy(input.region)
            .send(
              new GetDeploymentGroupCommand({ applicationName: application, deploymentGroupName: deploymentGroup }),
              {
                abortSignal: abortSignal(),
              },
            )
        ).deploymentGroupInfo;

      let found: { application: string; deploymentGroup: string; info: DeploymentGroupInfo } | undefined;
      if (input.application && input.deploymentGroup) {
        let info;
        try {
          info = await describe(input.application, input.deploymentGroup);
        } catch (err) {
          const name = (err as Error).name;
          if (['ApplicationDoesNotExistException', 'DeploymentGroupDoesNotExistException'].includes(name)) {
            throw new ResourceNotFound(
              `CodeDeploy ${input.application}/${input.deploymentGroup} not found in ${input.region} (${name})`,
            );
          }
          throw err;
        }
        if (!info || !names(info)) {
          throw new PreconditionFailed(
            `CodeDeploy deployment group ${input.application}/${input.deploymentGroup} does not deploy ` +
              `${wanted.service} in ${wanted.cluster}: check codeDeploy in the input (aws deploy get-deployment-group ` +
              `--region ${input.region} --application-name ${input.application} --deployment-group-name ` +
              `${input.deploymentGroup})`,
          );
        }
        found = { application: input.application, deploymentGroup: input.deploymentGroup, info };
      } else {
        const applications: string[] = [];
        let token: string | undefined;
        do {
          const out = await aws
            .codedeploy(input.region)
            .send(new ListApplicationsCommand({ nextToken: token }), { abortSignal: abortSignal() });
          applications.push(...(out.applications ?? []));
          token = out.nextToken;
        } while (token && applications.length < 500);
        const matches: { application: string; deploymentGroup: string; info: DeploymentGroupInfo }[] = [];
        for (const application of applications) {
          let groupToken: string | undefined;
          do {
            const out = await aws
              .codedeploy(input.region)
              .send(new ListDeploymentGroupsCommand({ applicationName: application, nextToken: groupToken }), {
                abortSignal: abortSignal(),
              });
            for (const deploymentGroup of out.deploymentGroups ?? []) {
              const info = await describe(application, deploymentGroup);
              if (info && names(info)) matches.push({ application, deploymentGroup, info });
            }
            groupToken = out.nextToken;
          } while (groupToken);
        }
        if (matches.length !== 1) {
          throw new PreconditionFailed(
            matches.length
              ? `${matches.length} CodeDeploy deployment groups deploy ${wanted.service} ` +
                `(${matches.map((m) => `${m.application}/${m.deploymentGroup}`).join(', ')}): say which one in ` +
                `the input ("codeDeploy": {"application": "…", "deploymentGroup": "…"})`
              : `no CodeDeploy deployment group in ${input.region} deploys ${wanted.service} in ${wanted.cluster}, ` +
                `yet the service uses the CODE_DEPLOY controller: create one, or give "codeDeploy" in the input ` +
                `(aws deploy list-applications --region ${input.region})`,
          );
        }
        found = matches[0]!;
      }
      const rollback = found.info.autoRollbackConfiguration;
      const ref = { region: input.region, application: found.application, deploymentGroup: found.deploymentGroup };
      const [active] = await activeDeployments(ref);
      return {
        ...ref,
        autoRollback: { enabled: !!rollback?.enabled, events: rollback?.events ?? [] },
        ...(await loadBalancerOf(input)),
        ...(active
          ? {
              active: {
                deploymentId: active.deploymentId,
                status: active.status,
                ...(active.description ? { description: active.description } : {}),
              },
            }
          : {}),
      };
    },

    /**
     * Create the deployment of `taskDefinition`. Effective once: `marker` (the run's workflow and run ID) goes into
     * the description, and a retry first looks for an active deployment of the group with that marker — when the
     * worker died after CodeDeploy took the call, that deployment is returned instead of creating a second one.
     */
    async createCodeDeployDeployment(
      input: CodeDeployGroupRef & {
        taskDefinition: string;
        containerName?: string;
        containerPort?: number;
        description: string;
        marker: string;
      },
    ): Promise<{ deploymentId: string; created: boolean }> {
      const mine = (await activeDeployments(input)).find((d) => d.description?.includes(input.marker));
      if (mine) return { deploymentId: mine.deploymentId, created: false };
      const content = ecsAppSpec(input);
      const out = await aws.codedeploy(input.region).send(
        new CreateDeploymentCommand({
          applicationName: input.application,
          deploymentGroupName: input.deploymentGroup,
          description: `${input.description} [${input.marker}]`.slice(0, 1000),
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content } },
        }),
        { abortSignal: abortSignal() },
      );
      if (!out.deploymentId)
        throw new PreconditionFailed('CodeDeploy answered CreateDeployment without a deployment id');
      return { deploymentId: out.deploymentId, created: true };
    },

    /** One look at a deployment. */
    async getCodeDeployDeployment(input: { region: string; deploymentId: string }): Promise<CodeDeployDeploymentView> {
      return getDeployment(input.region, input.deploymentId);
    },

    /**
     * Stop a deployment, with CodeDeploy's rollback (the original task set keeps or takes back the traffic). A
     * deployment that already ended is not an error here: `alreadyEnded` and its status say what it is.
     */
    async stopCodeDeployDeployment(input: {
      region: string;
      deploymentId: string;
    }): Promise<{ alreadyEnded: boolean; status: string; message?: string }> {
      try {
        const out = await aws
          .codedeploy(input.region)
          .send(new StopDeploymentCommand({ deploymentId: input.deploymentId, autoRollbackEnabled: true }), {
            abortSignal: abortSignal(),
          });
        return {
          alreadyEnded: false,
          status: out.status ?? 'Pending',
          ...(out.statusMessage ? { message: out.statusMessage } : {}),
        };
      } catch (err) {
        if ((err as Error).name !== 'DeploymentAlreadyCompletedException') throw err;
        const d = await getDeployment(input.region, input.deploymentId);
        return { alreadyEnded: true, status: d.status };
      }
    },

    /**
     * Poll a deployment (with backoff, heartbeating) until it Succeeded. Failed or Stopped end the wait at once
     * (ServiceDeploymentFailed, quoting CodeDeploy's error and whether it rolled back). Its phases are the status and
     * the ECS target's lifecycle event: `InProgress Install InProgress → InProgress AllowTraffic Succeeded → Succeeded`.
     */
    async waitForCodeDeployDeployment(input: {
      region: string;
      deploymentId: string;
      timeoutMs: number;
    }): Promise<CodeDeployDeploymentView & { waitedMs: number; phases: string }> {
      const { deadline, startedAt } = resumeWait(input.timeoutMs);
      const lifecycle = async (): Promise<string | undefined> => {
        const targets = await aws
          .codedeploy(input.region)
          .send(new ListDeploymentTargetsCommand({ deploymentId: input.deploymentId }), { abortSignal: abortSignal() });
        const ids = (targets.targetIds ?? []).slice(0, 25);
        if (!ids.length) return undefined;
        const out = await aws
          .codedeploy(input.region)
          .send(new BatchGetDeploymentTargetsCommand({ deploymentId: input.deploymentId, targetIds: ids }), {
            abortSignal: abortSignal(),
          });
        return lifecyclePhase(out.deploymentTargets?.[0]?.ecsTarget?.lifecycleEvents ?? []);
      };
      const result = await pollUntil(
        async () => {
          const d = await getDeployment(input.region, input.deploymentId);
          if (d.status === 'Failed' || d.status === 'Stopped') {
            throw new ServiceDeploymentFailed(
              `${describeCodeDeployEnd(d)}. See: aws deploy get-deployment --region ${input.region} --deployment-id ` +
                `${input.deploymentId}`,
            );
          }
          const event = d.status === 'InProgress' ? await lifecycle().catch(() => undefined) : undefined;
          return {
            done: d.status === 'Succeeded',
            value: d,
            progress: { status: d.status, ...(event ? { lifecycleEvent: event } : {}) },
            phase: event ? `${d.status} ${event}` : d.status,
          };
        },
        { deadline, startedAt, region: input.region, initialDelayMs: 1_000, maxDelayMs: 15_000 },
      );
      if (!result.done) {
        throw new NotStable(
          `CodeDeploy deployment ${input.deploymentId} did not succeed in time: it is ${result.value.status} ` +
            `(seen: ${result.phases})`,
        );
      }
      return { ...result.value, waitedMs: Date.now() - startedAt, phases: result.phases };
    },
  };
}
