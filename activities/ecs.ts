// ECS activities: describe a service, list task-definition revisions, update a service, wait until stable.
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  UpdateServiceCommand,
  type Service,
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

export function createEcsActivities(aws: AwsClients) {
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
