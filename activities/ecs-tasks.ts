// Reads of a service's running tasks and of a task definition's settings, for the ecsRestart runbook: how the tasks
// spread over Availability Zones (seed 003 "check service distribution across AZs"), and the CPU, memory and
// environment a revision has (what a restart with new settings changes). Read only.
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ListTasksCommand, type Task } from '@aws-sdk/client-ecs';
import type { AzSpreadReading } from '../api/runbooks/ecs-deploy';
import type { AwsClients } from './aws-clients';
import type { ServiceRef } from './ecs';
import { ResourceNotFound } from './errors';
import { abortSignal } from './poll';

/** Refusals of a read for lack of permission (ECS answers AccessDeniedException; some callers see AccessDenied). */
const DENIED = ['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation'];

/** DescribeTasks takes at most 100 tasks per call. */
const DESCRIBE_BATCH = 100;

/**
 * The AZ spread of a service's tasks among `tasks` (pure: unit-tested). AWS sets `group` to `service:<name>` on a
 * service's tasks; ListTasks' serviceName filter should leave only those, but tasks of other services or of RunTask
 * (which the emulator returns for any filter) are left out here too. Stopped or stopping tasks do not count.
 */
export function spreadOf(
  tasks: Pick<Task, 'group' | 'availabilityZone' | 'desiredStatus'>[],
  serviceName: string,
): AzSpreadReading {
  const zones: Record<string, number> = {};
  let count = 0;
  let unknownZone = 0;
  for (const t of tasks) {
    if (t.group !== `service:${serviceName}`) continue;
    if (t.desiredStatus && t.desiredStatus !== 'RUNNING') continue;
    count++;
    if (t.availabilityZone) zones[t.availabilityZone] = (zones[t.availabilityZone] ?? 0) + 1;
    else unknownZone++;
  }
  const sorted = Object.fromEntries(Object.entries(zones).sort(([a], [b]) => a.localeCompare(b)));
  return { zones: sorted, tasks: count, unknownZone };
}

/** Container name → its environment variables (name → value), as the revision defines them. */
export type ContainerEnvironment = Record<string, Record<string, string>>;

export function createEcsTaskActivities(aws: AwsClients) {
  return {
    /**
     * How the service's RUNNING tasks spread over Availability Zones: ListTasks (paginated) and DescribeTasks in
     * batches of 100. A read refused for lack of permission (ecs:ListTasks, ecs:DescribeTasks) is no failure: the
     * reading says it is unreadable, with AWS's error, so a missing read permission never fails a restart.
     */
    async taskSpread(ref: ServiceRef): Promise<AzSpreadReading> {
      const ecs = aws.ecs(ref.region);
      const serviceName = ref.service.split('/').pop() ?? ref.service;
      try {
        const arns: string[] = [];
        let nextToken: string | undefined;
        do {
          const out = await ecs.send(
            new ListTasksCommand({
              cluster: ref.cluster,
              serviceName,
              desiredStatus: 'RUNNING',
              maxResults: 100,
              ...(nextToken ? { nextToken } : {}),
            }),
            { abortSignal: abortSignal() },
          );
          arns.push(...(out.taskArns ?? []));
          nextToken = out.nextToken;
        } while (nextToken);
        const tasks: Task[] = [];
        for (let i = 0; i < arns.length; i += DESCRIBE_BATCH) {
          const out = await ecs.send(
            new DescribeTasksCommand({ cluster: ref.cluster, tasks: arns.slice(i, i + DESCRIBE_BATCH) }),
            { abortSignal: abortSignal() },
          );
          tasks.push(...(out.tasks ?? []));
        }
        return spreadOf(tasks, serviceName);
      } catch (err) {
        if (!DENIED.includes((err as Error).name)) throw err;
        return { zones: {}, tasks: 0, unknownZone: 0, unreadable: `${(err as Error).name}: ${(err as Error).message}` };
      }
    },

    /** A revision's task-level CPU and memory (as AWS shows them: strings) and each container's environment. */
    async taskDefinitionSettings(input: {
      region: string;
      taskDefinition: string;
    }): Promise<{ arn: string; cpu?: string; memory?: string; environment: ContainerEnvironment }> {
      let td;
      try {
        td = (
          await aws
            .ecs(input.region)
            .send(new DescribeTaskDefinitionCommand({ taskDefinition: input.taskDefinition }), {
              abortSignal: abortSignal(),
            })
        ).taskDefinition;
      } catch (err) {
        if ((err as Error).name === 'ClientException') {
          throw new ResourceNotFound(`task definition ${input.taskDefinition} not found in ${input.region}`);
        }
        throw err;
      }
      if (!td) throw new ResourceNotFound(`task definition ${input.taskDefinition} not found in ${input.region}`);
      const environment: ContainerEnvironment = {};
      for (const c of td.containerDefinitions ?? []) {
        environment[c.name ?? '?'] = Object.fromEntries(
          (c.environment ?? []).map((e) => [e.name ?? '', e.value ?? '']),
        );
      }
      return {
        arn: td.taskDefinitionArn ?? input.taskDefinition,
        ...(td.cpu ? { cpu: td.cpu } : {}),
        ...(td.memory ? { memory: td.memory } : {}),
        environment,
      };
    },
  };
}
