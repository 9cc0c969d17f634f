// ECS activities: describe a service, list task-definition revisions, update a service, wait until stable.
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { AwsClients } from './aws-clients';
import { NotStable, PreconditionFailed, ResourceNotFound } from './errors';
import { abortSignal, pollUntil, resumeDeadline } from './poll';

export interface ServiceRef {
  region: string;
  cluster: string;
  service: string;
}

export interface ServiceState {
  serviceArn: string;
  serviceName: string;
  clusterArn: string;
  status: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  taskDefinition: string;
  deployments: {
    id: string;
    status: string;
    taskDefinition: string;
    desiredCount: number;
    runningCount: number;
    rolloutState?: string;
  }[];
  /**
   * The ALB/NLB target groups the service registers its tasks in (its `loadBalancers`). Absent from results recorded
   * before this field existed: workflows replaying those must not read it as "none".
   */
  targetGroupArns?: string[];
}

export interface TaskDefinitionRevision {
  arn: string;
  family: string;
  revision: number;
}

/** `arn:…:task-definition/family:12` or `family:12` → { family, revision }. */
export function parseTaskDefinition(ref: string): { family: string; revision: number } {
  const tail = ref.split('/').pop() ?? ref;
  const match = /^(.+):(\d+)$/.exec(tail);
  if (!match) throw new PreconditionFailed(`"${ref}" is not a task definition reference (family:revision)`);
  return { family: match[1]!, revision: Number(match[2]) };
}

function toState(s: Service): ServiceState {
  return {
    serviceArn: s.serviceArn ?? '',
    serviceName: s.serviceName ?? '',
    clusterArn: s.clusterArn ?? '',
    status: s.status ?? 'UNKNOWN',
    desiredCount: s.desiredCount ?? 0,
    runningCount: s.runningCount ?? 0,
    pendingCount: s.pendingCount ?? 0,
    taskDefinition: s.taskDefinition ?? '',
    targetGroupArns: (s.loadBalancers ?? []).flatMap((lb) => (lb.targetGroupArn ? [lb.targetGroupArn] : [])),
    deployments: (s.deployments ?? []).map((d) => ({
      id: d.id ?? '',
      status: d.status ?? '',
      taskDefinition: d.taskDefinition ?? '',
      desiredCount: d.desiredCount ?? 0,
      runningCount: d.runningCount ?? 0,
      ...(d.rolloutState ? { rolloutState: d.rolloutState } : {}),
    })),
  };
}

/**
 * Stable as the AWS CLI's `services-stable` waiter defines it: exactly one deployment and running == desired.
 * `expect` additionally pins the desired count / task definition we just set, so a concurrent change is not
 * mistaken for our own.
 */
export function isStable(s: ServiceState, expect: { desiredCount?: number; taskDefinition?: string } = {}): boolean {
  if (s.status !== 'ACTIVE') return false;
  if (s.deployments.length !== 1 || s.runningCount !== s.desiredCount) return false;
  if (expect.desiredCount !== undefined && s.desiredCount !== expect.desiredCount) return false;
  if (expect.taskDefinition !== undefined && s.taskDefinition !== expect.taskDefinition) return false;
  return true;
}

/** Container definitions with `variable` set to `value` wherever it is defined (or, if nowhere, in every container). */
export function withEnv(containers: ContainerDefinition[], variable: string, value: string): ContainerDefinition[] {
  const defines = (c: ContainerDefinition) => (c.environment ?? []).some((e) => e.name === variable);
  const target = containers.some(defines) ? defines : () => true;
  return containers.map((c) =>
    target(c)
      ? {
          ...c,
          environment: [...(c.environment ?? []).filter((e) => e.name !== variable), { name: variable, value }].sort(
            (a, b) => (a.name ?? '').localeCompare(b.name ?? ''),
          ),
        }
      : c,
  );
}

/** The fields of a described task definition that RegisterTaskDefinition takes back. */
function registrable(td: TaskDefinition): RegisterTaskDefinitionCommandInput {
  const keys = [
    'family',
    'taskRoleArn',
    'executionRoleArn',
    'networkMode',
    'containerDefinitions',
    'volumes',
    'placementConstraints',
    'requiresCompatibilities',
    'cpu',
    'memory',
    'pidMode',
    'ipcMode',
    'proxyConfiguration',
    'inferenceAccelerators',
    'ephemeralStorage',
    'runtimePlatform',
  ] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (td[k] !== undefined && td[k] !== null) out[k] = td[k];
  return out as unknown as RegisterTaskDefinitionCommandInput;
}

const envOf = (td: TaskDefinition | undefined) =>
  JSON.stringify(
    (td?.containerDefinitions ?? []).map((c) => [
      c.name,
      c.image,
      [...(c.environment ?? [])].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '')),
    ]),
  );

export function createEcsActivities(aws: AwsClients) {
  /**
   * Register `base` with its containers changed by `change`, unless the base or the family's newest ACTIVE revision
   * already has exactly those containers (then that revision is returned): a retry registers nothing twice.
   */
  async function registerDerived(
    region: string,
    baseRef: string,
    change: (containers: ContainerDefinition[]) => ContainerDefinition[],
  ): Promise<{ arn: string; revision: number; created: boolean }> {
    const ecs = aws.ecs(region);
    const describe = async (ref: string) =>
      (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }), { abortSignal: abortSignal() }))
        .taskDefinition;
    const base = await describe(baseRef);
    if (!base?.family) throw new ResourceNotFound(`task definition ${baseRef} not found in ${region}`);
    const wanted: TaskDefinition = { ...base, containerDefinitions: change(base.containerDefinitions ?? []) };
    if (envOf(base) === envOf(wanted))
      return { arn: base.taskDefinitionArn!, revision: base.revision ?? 0, created: false };
    const listed = await ecs.send(
      new ListTaskDefinitionsCommand({ familyPrefix: base.family, status: 'ACTIVE', sort: 'DESC', maxResults: 100 }),
      { abortSignal: abortSignal() },
    );
    const newest = (listed.taskDefinitionArns ?? [])
      .map((arn) => ({ arn, ...parseTaskDefinition(arn) }))
      .filter((r) => r.family === base.family)
      .sort((a, b) => b.revision - a.revision)[0];
    if (newest && newest.arn !== base.taskDefinitionArn && envOf(await describe(newest.arn)) === envOf(wanted)) {
      return { arn: newest.arn, revision: newest.revision, created: false };
    }
    const out = await ecs.send(new RegisterTaskDefinitionCommand(registrable(wanted)), { abortSignal: abortSignal() });
    return { arn: out.taskDefinition!.taskDefinitionArn!, revision: out.taskDefinition!.revision ?? 0, created: true };
  }

  async function describeService(ref: ServiceRef): Promise<ServiceState> {
    const out = await aws
      .ecs(ref.region)
      .send(new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] }), {
        abortSignal: abortSignal(),
      });
    const service = out.services?.[0];
    if (!service || service.status === 'INACTIVE') {
      const why = out.failures?.[0]?.reason ?? (service ? 'INACTIVE' : 'MISSING');
      throw new ResourceNotFound(
        `ECS service ${ref.service} not found in cluster ${ref.cluster} (${ref.region}): ${why}`,
      );
    }
    return toState(service);
  }

  return {
    describeService,

    /** ACTIVE revisions of a family, oldest first (sorted here: some implementations ignore `sort`). */
    async listActiveRevisions(input: { region: string; family: string }): Promise<TaskDefinitionRevision[]> {
      const arns: string[] = [];
      let nextToken: string | undefined;
      do {
        const out = await aws
          .ecs(input.region)
          .send(new ListTaskDefinitionsCommand({ familyPrefix: input.family, status: 'ACTIVE', nextToken }), {
            abortSignal: abortSignal(),
          });
        arns.push(...(out.taskDefinitionArns ?? []));
        nextToken = out.nextToken;
      } while (nextToken);
      return arns
        .map((arn) => ({ arn, ...parseTaskDefinition(arn) }))
        .filter((r) => r.family === input.family)
        .sort((a, b) => a.revision - b.revision);
    },

    /** One task definition: its ARN, status and container images (for reports). */
    async describeTaskDefinition(input: { region: string; taskDefinition: string }) {
      try {
        const out = await aws
          .ecs(input.region)
          .send(new DescribeTaskDefinitionCommand({ taskDefinition: input.taskDefinition }), {
            abortSignal: abortSignal(),
          });
        const td = out.taskDefinition;
        return {
          arn: td?.taskDefinitionArn ?? '',
          family: td?.family ?? '',
          revision: td?.revision ?? 0,
          status: td?.status ?? 'UNKNOWN',
          images: (td?.containerDefinitions ?? []).map((c) => `${c.name ?? '?'}=${c.image ?? '?'}`),
        };
      } catch (err) {
        if ((err as Error).name === 'ClientException') {
          throw new ResourceNotFound(`task definition ${input.taskDefinition} not found in ${input.region}`);
        }
        throw err;
      }
    },

    /**
     * Set the service's desired count and/or task definition. Idempotent: it sets a state, so running it twice
     * leaves the same service. (A forced new deployment is the one non-idempotent option; it is only sent when
     * asked for.)
     */
    async updateService(
      input: ServiceRef & { desiredCount?: number; taskDefinition?: string; forceNewDeployment?: boolean },
    ): Promise<ServiceState> {
      const out = await aws.ecs(input.region).send(
        new UpdateServiceCommand({
          cluster: input.cluster,
          service: input.service,
          ...(input.desiredCount !== undefined ? { desiredCount: input.desiredCount } : {}),
          ...(input.taskDefinition !== undefined ? { taskDefinition: input.taskDefinition } : {}),
          ...(input.forceNewDeployment ? { forceNewDeployment: true } : {}),
        }),
        { abortSignal: abortSignal() },
      );
      if (!out.service) throw new ResourceNotFound(`ECS service ${input.service} not found`);
      return toState(out.service);
    },

    /**
     * A revision of `taskDefinition`'s family that is `taskDefinition` with the environment variable `variable` set to
     * `value`. Idempotent: when the family's newest ACTIVE revision already is exactly that, it is reused.
     */
    async registerRevisionWithEnv(input: {
      region: string;
      taskDefinition: string;
      variable: string;
      value: string;
    }): Promise<{ arn: string; revision: number; created: boolean }> {
      return registerDerived(input.region, input.taskDefinition, (containers) =>
        withEnv(containers, input.variable, input.value),
      );
    },

    /**
     * A revision of `taskDefinition`'s family with `image` in `container` (default: the first container), everything
     * else as it is. Idempotent like registerRevisionWithEnv.
     */
    async registerRevisionWithImage(input: {
      region: string;
      taskDefinition: string;
      image: string;
      container?: string;
    }): Promise<{ arn: string; revision: number; created: boolean }> {
      return registerDerived(input.region, input.taskDefinition, (containers) => {
        const index = input.container ? containers.findIndex((c) => c.name === input.container) : 0;
        if (index < 0 || !containers[index]) {
          throw new PreconditionFailed(
            `no container ${input.container ?? '(first)'} in ${input.taskDefinition} (containers: ${containers.map((c) => c.name).join(', ')})`,
          );
        }
        return containers.map((c, i) => (i === index ? { ...c, image: input.image } : c));
      });
    },

    /** The value of an environment variable in a task definition's containers (first container that defines it). */
    async getTaskDefinitionEnv(input: {
      region: string;
      taskDefinition: string;
      variable: string;
    }): Promise<string | undefined> {
      const td = (
        await aws.ecs(input.region).send(new DescribeTaskDefinitionCommand({ taskDefinition: input.taskDefinition }), {
          abortSignal: abortSignal(),
        })
      ).taskDefinition;
      for (const c of td?.containerDefinitions ?? []) {
        const found = (c.environment ?? []).find((e) => e.name === input.variable);
        if (found) return found.value;
      }
      return undefined;
    },

    /** Poll (with backoff, heartbeating) until the service is stable with the expected count / revision. */
    async waitForServiceStable(
      input: ServiceRef & { timeoutMs: number; expect?: { desiredCount?: number; taskDefinition?: string } },
    ): Promise<ServiceState & { waitedMs: number; polls: number }> {
      const started = Date.now();
      const deadline = resumeDeadline(input.timeoutMs);
      const result = await pollUntil(
        async () => {
          const state = await describeService(input);
          return {
            done: isStable(state, input.expect),
            value: state,
            progress: {
              running: state.runningCount,
              desired: state.desiredCount,
              deployments: state.deployments.length,
            },
          };
        },
        { deadline, initialDelayMs: 1_000, maxDelayMs: 15_000 },
      );
      const s = result.value;
      if (!result.done) {
        throw new NotStable(
          `ECS service ${input.service} did not become stable in time: ${s.runningCount} of ${s.desiredCount} tasks running, ` +
            `${s.deployments.length} deployment(s), task definition ${s.taskDefinition}`,
        );
      }
      return { ...s, waitedMs: Date.now() - started, polls: result.attempts };
    },
  };
}
