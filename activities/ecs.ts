// ECS activities: describe a service, list task-definition revisions, update a service, wait until stable.
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { EcsDeploymentView } from '../api/runbooks/ecs-rollback';
import type { AwsClients } from './aws-clients';
import { NotStable, PreconditionFailed, ResourceNotFound, ServiceDeploymentFailed } from './errors';
import { abortSignal, activityContext, pollUntil, resumeWait } from './poll';

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
  deployments: (EcsDeploymentView & { rolloutStateReason?: string })[];
  /**
   * The ALB/NLB target groups the service registers its tasks in (its `loadBalancers`). Absent from results recorded
   * before this field existed: workflows replaying those must not read it as "none".
   */
  targetGroupArns?: string[];
  /**
   * `deploymentController.type`: ECS (rolling updates through UpdateService), CODE_DEPLOY or EXTERNAL (AWS refuses a
   * task-definition change or a forced deployment through UpdateService for those). Absent from results recorded
   * before this field existed: read that as ECS, what those runs acted on.
   */
  deploymentController?: string;
  /**
   * How ECS rolls a deployment out: maximum/minimum percent and the deployment circuit breaker. Absent when AWS does
   * not show it (results recorded before this field existed; the emulator before the first UpdateService that sets it).
   */
  deploymentConfiguration?: EcsDeploymentConfiguration;
  /** CODE_DEPLOY and EXTERNAL services have task sets instead of deployments (absent when there are none). */
  taskSets?: {
    id: string;
    status: string;
    taskDefinition: string;
    runningCount: number;
    computedDesiredCount: number;
    stabilityStatus?: string;
  }[];
}

/** The part of a service's deploymentConfiguration a deployment run sets and puts back. */
export interface EcsDeploymentConfiguration {
  maximumPercent?: number;
  minimumHealthyPercent?: number;
  deploymentCircuitBreaker?: { enable: boolean; rollback: boolean };
}

/** A stopped task of a service, as DescribeTasks shows it (times as ISO strings). */
export interface StoppedTask {
  arn: string;
  taskDefinition: string;
  stoppedAt?: string;
  stopCode?: string;
  stoppedReason?: string;
  containers: { name: string; reason?: string; exitCode?: number }[];
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
    deploymentController: s.deploymentController?.type ?? 'ECS',
    ...(s.deploymentConfiguration
      ? {
          deploymentConfiguration: {
            ...(s.deploymentConfiguration.maximumPercent !== undefined
              ? { maximumPercent: s.deploymentConfiguration.maximumPercent }
              : {}),
            ...(s.deploymentConfiguration.minimumHealthyPercent !== undefined
              ? { minimumHealthyPercent: s.deploymentConfiguration.minimumHealthyPercent }
              : {}),
            ...(s.deploymentConfiguration.deploymentCircuitBreaker
              ? {
                  deploymentCircuitBreaker: {
                    enable: !!s.deploymentConfiguration.deploymentCircuitBreaker.enable,
                    rollback: !!s.deploymentConfiguration.deploymentCircuitBreaker.rollback,
                  },
                }
              : {}),
          },
        }
      : {}),
    deployments: (s.deployments ?? []).map((d) => ({
      id: d.id ?? '',
      status: d.status ?? '',
      taskDefinition: d.taskDefinition ?? '',
      desiredCount: d.desiredCount ?? 0,
      runningCount: d.runningCount ?? 0,
      ...(d.rolloutState ? { rolloutState: d.rolloutState } : {}),
      ...(d.rolloutStateReason ? { rolloutStateReason: d.rolloutStateReason } : {}),
      ...(d.createdAt ? { createdAt: d.createdAt.toISOString() } : {}),
    })),
    ...(s.taskSets?.length
      ? {
          taskSets: s.taskSets.map((t) => ({
            id: t.id ?? '',
            status: t.status ?? '',
            taskDefinition: t.taskDefinition ?? '',
            runningCount: t.runningCount ?? 0,
            computedDesiredCount: t.computedDesiredCount ?? 0,
            ...(t.stabilityStatus ? { stabilityStatus: t.stabilityStatus } : {}),
          })),
        }
      : {}),
  };
}

/** A task as DescribeTasks shows it, as a stopped task (times as ISO strings). */
export function toStoppedTask(t: Task): StoppedTask {
  const at = t.stoppedAt ?? t.stoppingAt;
  return {
    arn: t.taskArn ?? '',
    taskDefinition: t.taskDefinitionArn ?? '',
    ...(at ? { stoppedAt: at.toISOString() } : {}),
    ...(t.stopCode ? { stopCode: t.stopCode } : {}),
    ...(t.stoppedReason ? { stoppedReason: t.stoppedReason } : {}),
    containers: (t.containers ?? []).map((c) => ({
      name: c.name ?? '?',
      ...(c.reason ? { reason: c.reason } : {}),
      ...(c.exitCode !== undefined && c.exitCode !== null ? { exitCode: c.exitCode } : {}),
    })),
  };
}

/** `arn:…:task-definition/api:7` → `api:7`. */
const revisionName = (ref: string) => ref.split('/').pop() ?? ref;
const sameRevision = (a: string, b: string) => a === b || revisionName(a) === revisionName(b);

/** Refusals of a read for lack of permission (ECS answers AccessDeniedException; some callers see AccessDenied). */
const DENIED = ['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation'];

/** How many stopped tasks of the new task definition (since the wait began) make a crash loop. */
export const CRASH_LOOP_STOPS = 3;

/** A task stopped on purpose — scale-in, replaced by a deployment, stopped by a person, a Spot reclaim — not a crash. */
export function isDeliberateStop(t: StoppedTask): boolean {
  if (t.stopCode && ['UserInitiated', 'SpotInterruption', 'TerminationNotice'].includes(t.stopCode)) return true;
  return /^Scaling activity initiated by/i.test(t.stoppedReason ?? '');
}

/** Why a task stopped, as AWS says it: the task's reason, plus any container's reason it does not already contain. */
export function stopReason(t: StoppedTask): string {
  const main = t.stoppedReason ?? t.stopCode ?? 'stopped (no reason given)';
  const extra = t.containers
    .filter((c) => (c.reason ? !main.includes(c.reason) : c.exitCode !== undefined && c.exitCode !== 0))
    .map((c) => `${c.name}: ${c.reason ?? `exit code ${c.exitCode}`}`);
  return extra.length ? `${main} (${extra.join('; ')})` : main;
}

/** What one look at a service means for a wait (pure: unit-tested without AWS). */
export type ServiceVerdict =
  | { state: 'stable' }
  | { state: 'waiting'; why: string }
  /** The deployment failed (ServiceDeploymentFailed): `reason` says how, in AWS's words. */
  | { state: 'failed'; reason: string };

/**
 * Is the service stable with what we set (`expect` pins the desired count / task definition we just set, so a
 * concurrent change is not mistaken for our own), still getting there, or failed?
 *
 * - Failed: the PRIMARY deployment's rolloutState is FAILED; a deployment of the expected task definition FAILED, or
 *   the service is back on another one with a FAILED deployment (the circuit breaker rolled it back); or
 *   `CRASH_LOOP_STOPS` tasks of the new task definition stopped since `since` for other reasons than a deliberate stop.
 * - Stable (the AWS CLI's services-stable waiter, plus rolloutState): running == desired and, for the ECS controller,
 *   exactly one deployment whose rolloutState (when AWS reports one) is COMPLETED; CODE_DEPLOY and EXTERNAL services
 *   have no deployments: at most one task set, in STEADY_STATE.
 */
export function serviceVerdict(
  s: ServiceState,
  expect: { desiredCount?: number; taskDefinition?: string } = {},
  stopped: StoppedTask[] = [],
  o: { since?: number; maxStopped?: number } = {},
): ServiceVerdict {
  const primary = s.deployments.find((d) => d.status === 'PRIMARY');
  const reasonOf = (d: { rolloutStateReason?: string }) => `"${d.rolloutStateReason ?? 'AWS gave no reason'}"`;
  if (primary?.rolloutState === 'FAILED') {
    return {
      state: 'failed',
      reason: `deployment ${primary.id} of ${revisionName(primary.taskDefinition)} FAILED: ${reasonOf(primary)}`,
    };
  }
  const wanted = expect.taskDefinition;
  if (wanted) {
    const failed =
      s.deployments.find((d) => d.rolloutState === 'FAILED' && sameRevision(d.taskDefinition, wanted)) ??
      (sameRevision(s.taskDefinition, wanted) ? undefined : s.deployments.find((d) => d.rolloutState === 'FAILED'));
    if (failed) {
      const back = primary && !sameRevision(primary.taskDefinition, wanted) ? primary.taskDefinition : s.taskDefinition;
      return {
        state: 'failed',
        reason:
          `the deployment of ${revisionName(wanted)} FAILED (${reasonOf(failed)})` +
          (sameRevision(back, wanted) ? '' : ` and ECS rolled the service back to ${revisionName(back)}`),
      };
    }
  }

  const newRevision = wanted ?? primary?.taskDefinition ?? s.taskDefinition;
  if ((expect.desiredCount ?? s.desiredCount) > 0) {
    const since = o.since ?? 0;
    const crashed = stopped
      .filter((t) => sameRevision(t.taskDefinition, newRevision) && !isDeliberateStop(t))
      .filter((t) => t.stoppedAt !== undefined && Date.parse(t.stoppedAt) >= since)
      .sort((a, b) => Date.parse(b.stoppedAt!) - Date.parse(a.stoppedAt!));
    if (crashed.length >= (o.maxStopped ?? CRASH_LOOP_STOPS)) {
      const newest = [...new Set(crashed.map(stopReason))].slice(0, 2);
      return {
        state: 'failed',
        reason:
          `${crashed.length} tasks of ${revisionName(newRevision)} stopped since the wait began (they keep failing); ` +
          `newest: ${newest.join(' | ')}`,
      };
    }
  }

  if (s.status !== 'ACTIVE') return { state: 'waiting', why: `the service is ${s.status}` };
  if (expect.desiredCount !== undefined && s.desiredCount !== expect.desiredCount) {
    return { state: 'waiting', why: `its desired count is ${s.desiredCount}, not ${expect.desiredCount}` };
  }
  if (wanted && !sameRevision(s.taskDefinition, wanted)) {
    return { state: 'waiting', why: `it runs ${revisionName(s.taskDefinition)}, not ${revisionName(wanted)}` };
  }
  if (s.runningCount !== s.desiredCount) {
    return { state: 'waiting', why: 'its running count is not its desired count yet' };
  }
  if ((s.deploymentController ?? 'ECS') === 'ECS') {
    const [only, ...more] = s.deployments;
    if (!only || more.length) return { state: 'waiting', why: `${s.deployments.length} deployments` };
    // A deployment's rolloutState speaks for the tasks the service counts when its own counts are the service's, as
    // AWS keeps them. A deployment record that lags the service's counts (the emulator never updates its
    // deployments after CreateService; see the emulator notes) leaves the decision to the service's counts, as the
    // AWS CLI's services-stable waiter makes it.
    const inStep = only.runningCount === s.runningCount && only.desiredCount === s.desiredCount;
    if (only.rolloutState && only.rolloutState !== 'COMPLETED' && inStep) {
      return { state: 'waiting', why: `deployment ${only.id} is ${only.rolloutState}` };
    }
  } else {
    const sets = s.taskSets ?? [];
    if (sets.length > 1 || s.deployments.length > 1) {
      return { state: 'waiting', why: `${Math.max(sets.length, s.deployments.length)} task sets` };
    }
    const settling = sets.find((t) => t.stabilityStatus && t.stabilityStatus !== 'STEADY_STATE');
    if (settling) return { state: 'waiting', why: `task set ${settling.id} is ${settling.stabilityStatus}` };
  }
  return { state: 'stable' };
}

/** One look at a service as a wait's phase: the PRIMARY deployment's rollout state and running / desired tasks. */
export function servicePhase(s: ServiceState): string {
  const primary = s.deployments.find((d) => d.status === 'PRIMARY');
  const rollout = primary?.rolloutState ?? (s.deployments.length > 1 ? 'deploying' : 'steady');
  const draining = s.deployments.filter((d) => d.status !== 'PRIMARY' && d.runningCount > 0).length;
  return `${rollout} ${s.runningCount}/${s.desiredCount}${draining ? ` (${draining} old draining)` : ''}`;
}

/** Stable with what we set (see serviceVerdict). */
export function isStable(s: ServiceState, expect: { desiredCount?: number; taskDefinition?: string } = {}): boolean {
  return serviceVerdict(s, expect).state === 'stable';
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

/** What a derived revision may differ in (images, environment, task CPU/memory): equal means "already registered". */
const envOf = (td: TaskDefinition | undefined) =>
  JSON.stringify([
    (td?.containerDefinitions ?? []).map((c) => [
      c.name,
      c.image,
      [...(c.environment ?? [])].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '')),
    ]),
    td?.cpu ?? null,
    td?.memory ?? null,
  ]);

/** A revision's change: new images (container → image), task CPU/memory, environment variables. */
export interface RevisionChange {
  /** Container name → image; `''` as the name means "the only container" (refused when there are several). */
  images?: Record<string, string>;
  cpu?: number;
  memory?: number;
  environment?: Record<string, string>;
}

/** `td` with `change` applied (pure: unit-tested). Refuses a container name the task definition does not have. */
export function applyRevisionChange(td: TaskDefinition, change: RevisionChange, ref: string): TaskDefinition {
  let containers = td.containerDefinitions ?? [];
  const names = containers.map((c) => c.name ?? '?');
  for (const [name, image] of Object.entries(change.images ?? {})) {
    if (name === '' && containers.length !== 1) {
      throw new PreconditionFailed(
        `${revisionName(ref)} has ${containers.length} containers (${names.join(', ')}): say which one gets the ` +
          `image ("container" in the input, or "images": {"<container>": "<image>"})`,
      );
    }
    const index = name === '' ? 0 : containers.findIndex((c) => c.name === name);
    if (index < 0) {
      throw new PreconditionFailed(`no container ${name} in ${revisionName(ref)} (containers: ${names.join(', ')})`);
    }
    containers = containers.map((c, i) => (i === index ? { ...c, image } : c));
  }
  for (const [variable, value] of Object.entries(change.environment ?? {})) {
    containers = withEnv(containers, variable, value);
  }
  return {
    ...td,
    containerDefinitions: containers,
    ...(change.cpu !== undefined ? { cpu: String(change.cpu) } : {}),
    ...(change.memory !== undefined ? { memory: String(change.memory) } : {}),
  };
}

export function createEcsActivities(aws: AwsClients) {
  /**
   * Register `base` with its containers changed by `change`, unless the base or the family's newest ACTIVE revision
   * already has exactly those containers (then that revision is returned): a retry registers nothing twice.
   */
  async function registerDerived(
    region: string,
    baseRef: string,
    change: (td: TaskDefinition) => TaskDefinition,
  ): Promise<{ arn: string; revision: number; created: boolean }> {
    const ecs = aws.ecs(region);
    const describe = async (ref: string) =>
      (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }), { abortSignal: abortSignal() }))
        .taskDefinition;
    const base = await describe(baseRef);
    if (!base?.family) throw new ResourceNotFound(`task definition ${baseRef} not found in ${region}`);
    const wanted = change(base);
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

  /** The service's stopped tasks that ECS still lists (about the last hour's). */
  async function stoppedTasks(ref: ServiceRef): Promise<StoppedTask[]> {
    const ecs = aws.ecs(ref.region);
    const listed = await ecs.send(
      new ListTasksCommand({
        cluster: ref.cluster,
        serviceName: ref.service.split('/').pop(),
        desiredStatus: 'STOPPED',
        maxResults: 100,
      }),
      { abortSignal: abortSignal() },
    );
    const arns = listed.taskArns ?? [];
    if (!arns.length) return [];
    const out = await ecs.send(new DescribeTasksCommand({ cluster: ref.cluster, tasks: arns.slice(0, 100) }), {
      abortSignal: abortSignal(),
    });
    return (out.tasks ?? []).map(toStoppedTask);
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
    /**
     * UpdateService. Effective once: a retry (the worker died after AWS took the call but before Temporal heard of it)
     * first reads the service and does not call again when it already is as asked — the count and revision set, or,
     * for a forced deployment, a PRIMARY deployment begun since the activity was first scheduled.
     */
    async updateService(
      input: ServiceRef & {
        desiredCount?: number;
        taskDefinition?: string;
        forceNewDeployment?: boolean;
        /** Set with the change (a deployment's max/min percent and circuit breaker); idempotent like the rest. */
        deploymentConfiguration?: EcsDeploymentConfiguration;
      },
    ): Promise<ServiceState> {
      const info = activityContext()?.info;
      if (info && info.attempt > 1) {
        const now = await describeService(input);
        const primary = now.deployments.find((d) => d.status === 'PRIMARY');
        const sameConfig =
          !input.deploymentConfiguration ||
          JSON.stringify(now.deploymentConfiguration ?? {}) ===
            JSON.stringify({ ...(now.deploymentConfiguration ?? {}), ...input.deploymentConfiguration });
        const done =
          sameConfig &&
          (input.desiredCount === undefined || now.desiredCount === input.desiredCount) &&
          (input.taskDefinition === undefined || sameRevision(now.taskDefinition, input.taskDefinition)) &&
          (!input.forceNewDeployment ||
            (primary?.createdAt !== undefined && Date.parse(primary.createdAt) >= info.scheduledTimestampMs));
        if (done) return now;
      }
      const out = await aws.ecs(input.region).send(
        new UpdateServiceCommand({
          cluster: input.cluster,
          service: input.service,
          ...(input.desiredCount !== undefined ? { desiredCount: input.desiredCount } : {}),
          ...(input.taskDefinition !== undefined ? { taskDefinition: input.taskDefinition } : {}),
          ...(input.forceNewDeployment ? { forceNewDeployment: true } : {}),
          ...(input.deploymentConfiguration ? { deploymentConfiguration: input.deploymentConfiguration } : {}),
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
      return registerDerived(input.region, input.taskDefinition, (td) =>
        applyRevisionChange(td, { environment: { [input.variable]: input.value } }, input.taskDefinition),
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
      return registerDerived(input.region, input.taskDefinition, (td) => {
        const containers = td.containerDefinitions ?? [];
        const index = input.container ? containers.findIndex((c) => c.name === input.container) : 0;
        if (index < 0 || !containers[index]) {
          throw new PreconditionFailed(
            `no container ${input.container ?? '(first)'} in ${input.taskDefinition} (containers: ${containers.map((c) => c.name).join(', ')})`,
          );
        }
        return {
          ...td,
          containerDefinitions: containers.map((c, i) => (i === index ? { ...c, image: input.image } : c)),
        };
      });
    },

    /**
     * A revision of `taskDefinition`'s family with `change` applied (images per container, task CPU/memory,
     * environment), everything else as it is. Idempotent like registerRevisionWithEnv: when the base or the family's
     * newest ACTIVE revision already is exactly that, it is returned (`created: false`) and nothing is registered.
     */
    async registerRevision(input: {
      region: string;
      taskDefinition: string;
      change: RevisionChange;
    }): Promise<{ arn: string; revision: number; created: boolean; images: string[] }> {
      const out = await registerDerived(input.region, input.taskDefinition, (td) =>
        applyRevisionChange(td, input.change, input.taskDefinition),
      );
      const td = (
        await aws.ecs(input.region).send(new DescribeTaskDefinitionCommand({ taskDefinition: out.arn }), {
          abortSignal: abortSignal(),
        })
      ).taskDefinition;
      return { ...out, images: (td?.containerDefinitions ?? []).map((c) => `${c.name ?? '?'}=${c.image ?? '?'}`) };
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

    /**
     * Poll (with backoff, heartbeating) until the service is stable with the expected count / revision. Stops at
     * once when the deployment failed (ServiceDeploymentFailed, quoting AWS's reason): rolloutState FAILED, a
     * circuit-breaker rollback, or new tasks that keep stopping (read from the service's stopped tasks while it is
     * not stable).
     */
    async waitForServiceStable(
      input: ServiceRef & { timeoutMs: number; expect?: { desiredCount?: number; taskDefinition?: string } },
    ): Promise<ServiceState & { waitedMs: number; polls: number; phases: string }> {
      const { deadline, startedAt } = resumeWait(input.timeoutMs);
      const where = `${input.region}/${input.cluster.split('/').pop()}`;
      let why = '';
      // Reading the stopped tasks needs ecs:ListTasks and ecs:DescribeTasks. Without them the wait still works (it only
      // cannot see a crash loop before its deadline): a missing read permission must not fail a wait after a change.
      let stoppedUnreadable: string | undefined;
      const result = await pollUntil(
        async () => {
          const state = await describeService(input);
          if (state.status === 'DRAINING') {
            throw new ResourceNotFound(
              `ECS service ${input.service} (${where}) is DRAINING: it is being deleted, so it will not become stable`,
            );
          }
          let verdict = serviceVerdict(state, input.expect);
          // Not there yet: are the new tasks stopping? (Only then is it worth the two extra calls.)
          if (
            verdict.state === 'waiting' &&
            !stoppedUnreadable &&
            (input.expect?.desiredCount ?? state.desiredCount) > 0
          ) {
            try {
              verdict = serviceVerdict(state, input.expect, await stoppedTasks(input), { since: startedAt });
            } catch (err) {
              if (!DENIED.includes((err as Error).name)) throw err;
              stoppedUnreadable = `${(err as Error).name}: ${(err as Error).message}`;
            }
          }
          if (verdict.state === 'failed') {
            throw new ServiceDeploymentFailed(
              `ECS service ${input.service} (${where}): ${verdict.reason}. See its events: aws ecs ` +
                `describe-services --region ${input.region} --cluster ${input.cluster} --services ${input.service} ` +
                `--query 'services[0].events[:5]'`,
            );
          }
          why = verdict.state === 'waiting' ? verdict.why : '';
          return {
            done: verdict.state === 'stable',
            value: state,
            progress: {
              running: state.runningCount,
              desired: state.desiredCount,
              deployments: state.deployments.length,
              ...(why ? { waitingFor: why } : {}),
              ...(stoppedUnreadable ? { stoppedTasksUnreadable: stoppedUnreadable } : {}),
            },
            phase: servicePhase(state),
          };
        },
        { deadline, startedAt, region: input.region, initialDelayMs: 1_000, maxDelayMs: 15_000 },
      );
      const s = result.value;
      if (!result.done) {
        throw new NotStable(
          `ECS service ${input.service} did not become stable in time${why ? ` (${why})` : ''}: ${s.runningCount} of ` +
            `${s.desiredCount} tasks running, ${s.deployments.length} deployment(s), task definition ${s.taskDefinition}` +
            (stoppedUnreadable ? `; its stopped tasks could not be read (${stoppedUnreadable})` : '') +
            ` (seen: ${result.phases})`,
        );
      }
      return { ...s, waitedMs: Date.now() - startedAt, polls: result.attempts, phases: result.phases };
    },
  };
}
