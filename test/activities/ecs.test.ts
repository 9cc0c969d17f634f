// ECS activities called directly (no worker) with real SDK clients against the emulator; every test builds its own
// uniquely named cluster, task-definition family and service.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { createEcsActivities } from '../../activities/ecs';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { startAwsProxy } from '../helpers/proxies/aws-proxy';
import { uid } from '../helpers/temporal';
import { rejection } from '../helpers/assert';

let aws: ReturnType<typeof createAwsClients>;
let ecs: ReturnType<typeof createEcsActivities>;

beforeAll(() => {
  aws = createAwsClients();
  ecs = createEcsActivities(aws);
});
afterAll(() => {
  aws.destroy();
});

describe('describeService', () => {
  it('returns the state of an existing service', async () => {
    const svc = await makeService(aws, { desiredCount: 2, revisions: 2 });
    const state = await ecs.describeService(svc.ref);
    expect(state).toMatchObject({
      serviceName: svc.service,
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 2,
      taskDefinition: svc.revisions[1],
    });
    expect(state.serviceArn).toContain(svc.service);
    expect(state.clusterArn).toContain(svc.cluster);
  });

  it('throws ResourceNotFound naming the service and cluster when the service does not exist', async () => {
    const svc = await makeService(aws, { revisions: 1 });
    const missing = uid('missing');
    const err = await rejection(ecs.describeService({ ...svc.ref, service: missing }));
    expect(err.name).toBe('ResourceNotFound');
    expect(err.message).toBe(`ECS service ${missing} not found in cluster ${svc.cluster} (us-east-1): MISSING`);
  });
});

describe('listActiveRevisions', () => {
  it('returns every ACTIVE revision of the family, oldest first', async () => {
    const svc = await makeService(aws, { revisions: 3 });
    const revisions = await ecs.listActiveRevisions({ region: svc.region, family: svc.family });
    expect(revisions.map((r) => r.revision)).toEqual([1, 2, 3]);
    expect(revisions.map((r) => r.arn)).toEqual(svc.revisions);
    expect(revisions.every((r) => r.family === svc.family)).toBe(true);
  });

  it('returns nothing for a family that has no revisions', async () => {
    expect(await ecs.listActiveRevisions({ region: 'us-east-1', family: uid('nofamily') })).toEqual([]);
  });
});

describe('describeTaskDefinition', () => {
  it('returns the revision and its container images', async () => {
    const svc = await makeService(aws, { revisions: 2 });
    const td = await ecs.describeTaskDefinition({ region: svc.region, taskDefinition: `${svc.family}:1` });
    expect(td).toEqual({
      arn: svc.revisions[0],
      family: svc.family,
      revision: 1,
      status: 'ACTIVE',
      images: ['app=example/app:1.0'],
    });
  });

  it('throws ResourceNotFound for a revision that does not exist', async () => {
    const svc = await makeService(aws, { revisions: 1 });
    const err = await rejection(ecs.describeTaskDefinition({ region: svc.region, taskDefinition: `${svc.family}:9` }));
    expect(err.name).toBe('ResourceNotFound');
    expect(err.message).toBe(`task definition ${svc.family}:9 not found in us-east-1`);
  });
});

describe('updateService', () => {
  it('sets the desired count and task definition; running it twice leaves the same service', async () => {
    const svc = await makeService(aws, { desiredCount: 2, revisions: 2 });
    const target = { ...svc.ref, desiredCount: 4, taskDefinition: svc.revisions[0]! };

    const first = await ecs.updateService(target);
    const afterFirst = await serviceState(aws, svc);
    const second = await ecs.updateService(target);
    const afterSecond = await serviceState(aws, svc);

    expect(afterFirst).toEqual({ desiredCount: 4, runningCount: 4, taskDefinition: svc.revisions[0] });
    expect(afterSecond).toEqual(afterFirst);
    expect([first.desiredCount, first.taskDefinition]).toEqual([4, svc.revisions[0]]);
    expect([second.desiredCount, second.taskDefinition]).toEqual([4, svc.revisions[0]]);
  });

  it('changes only the desired count when no task definition is given', async () => {
    const svc = await makeService(aws, { desiredCount: 3, revisions: 2 });
    await ecs.updateService({ ...svc.ref, desiredCount: 1 });
    expect(await serviceState(aws, svc)).toEqual({
      desiredCount: 1,
      runningCount: 1,
      taskDefinition: svc.revisions[1],
    });
  });
});

describe('waitForServiceStable', () => {
  it('returns at once when the service is stable as expected', async () => {
    const svc = await makeService(aws, { desiredCount: 3, revisions: 2 });
    const started = Date.now();
    const state = await ecs.waitForServiceStable({
      ...svc.ref,
      timeoutMs: 5_000,
      expect: { desiredCount: 3, taskDefinition: svc.revisions[1]! },
    });
    expect(state).toMatchObject({ desiredCount: 3, runningCount: 3, taskDefinition: svc.revisions[1], polls: 1 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('throws NotStable with the counts when the expected desired count never comes true', async () => {
    const svc = await makeService(aws, { desiredCount: 2, revisions: 1 });
    const started = Date.now();
    const err = await rejection(
      ecs.waitForServiceStable({ ...svc.ref, timeoutMs: 1_500, expect: { desiredCount: 7 } }),
    );
    const waited = Date.now() - started;

    expect(err.name).toBe('NotStable');
    expect(err.message).toContain(`ECS service ${svc.service} did not become stable in time`);
    expect(err.message).toContain('2 of 2 tasks running, 1 deployment(s)');
    expect(err.message).toContain(`task definition ${svc.revisions[0]}`);
    expect(waited).toBeGreaterThanOrEqual(1_400);
    expect(waited).toBeLessThan(4_000);
  });

  it('throws ResourceNotFound (not NotStable) when the service does not exist', async () => {
    const svc = await makeService(aws, { revisions: 1 });
    const err = await rejection(ecs.waitForServiceStable({ ...svc.ref, service: uid('gone'), timeoutMs: 1_000 }));
    expect(err.name).toBe('ResourceNotFound');
  });
});

describe('waitForServiceStable: what AWS says', () => {
  it('records the deployment controller; a CODE_DEPLOY service (no deployments) is stable once its count is reached', async () => {
    const svc = await makeService(aws, { desiredCount: 2, deploymentController: 'CODE_DEPLOY' });
    expect(await ecs.describeService(svc.ref)).toMatchObject({ deploymentController: 'CODE_DEPLOY', deployments: [] });
    expect((await ecs.describeService((await makeService(aws, { revisions: 1 })).ref)).deploymentController).toBe(
      'ECS',
    );
    await ecs.updateService({ ...svc.ref, desiredCount: 3 });
    const state = await ecs.waitForServiceStable({ ...svc.ref, timeoutMs: 5_000, expect: { desiredCount: 3 } });
    expect(state).toMatchObject({ desiredCount: 3, runningCount: 3, polls: 1 });
  });

  it('a new revision whose tasks keep stopping: ServiceDeploymentFailed quoting the newest stoppedReason, read from ListTasks/DescribeTasks', async () => {
    const svc = await makeService(aws, { desiredCount: 2, revisions: 2, onRevision: 1 });
    const [rev1, rev2] = svc.revisions as [string, string];
    await ecs.updateService({ ...svc.ref, taskDefinition: rev2 });
    // AWS's answers while the deployment of revision 2 cannot start its tasks (the emulator's deployments never fail
    // and it runs no tasks): revision 1 still serving beside an IN_PROGRESS deployment, and the stopped tasks.
    const arns = [1, 2, 3].map((i) => `arn:aws:ecs:us-east-1:123456789012:task/${svc.cluster}/stopped${i}`);
    const proxy = await startAwsProxy(inject('awsEndpoint'), (call) => {
      if (call.operation === 'DescribeServices') {
        return {
          rewrite: (text) => {
            const out = JSON.parse(text) as { services: Record<string, unknown>[] };
            const s = out.services[0]!;
            s.deployments = [
              {
                id: 'ecs-svc/2',
                status: 'PRIMARY',
                taskDefinition: rev2,
                desiredCount: 2,
                runningCount: 0,
                rolloutState: 'IN_PROGRESS',
              },
              {
                id: 'ecs-svc/1',
                status: 'ACTIVE',
                taskDefinition: rev1,
                desiredCount: 2,
                runningCount: 2,
                rolloutState: 'COMPLETED',
              },
            ];
            return JSON.stringify(out);
          },
        };
      }
      const json = (body: unknown) => ({
        answer: { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(body) },
      });
      if (call.operation === 'ListTasks') return json({ taskArns: arns });
      if (call.operation === 'DescribeTasks') {
        const now = Date.now() / 1000;
        return json({
          failures: [],
          tasks: arns.map((taskArn, i) => ({
            taskArn,
            taskDefinitionArn: rev2,
            lastStatus: 'STOPPED',
            desiredStatus: 'STOPPED',
            stopCode: 'TaskFailedToStart',
            stoppedAt: now + i,
            stoppedReason: `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref example/app:2.0 (${i + 1})`,
            containers: [
              {
                name: 'app',
                lastStatus: 'STOPPED',
                reason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)',
              },
            ],
          })),
        });
      }
      return undefined;
    });
    const through = createAwsClients({ endpoint: proxy.endpoint });
    try {
      const started = Date.now();
      const err = await rejection(
        createEcsActivities(through).waitForServiceStable({
          ...svc.ref,
          timeoutMs: 600_000,
          expect: { taskDefinition: rev2 },
        }),
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err.name).toBe('ServiceDeploymentFailed');
      expect(err.message).toContain(
        `ECS service ${svc.service} (us-east-1/${svc.cluster}): 3 tasks of ${svc.family}:2 stopped since the wait began ` +
          `(they keep failing); newest: CannotPullContainerError: pull image manifest has been retried 5 time(s): ` +
          `failed to resolve ref example/app:2.0 (3)`,
      );
    } finally {
      through.destroy();
      await proxy.close();
    }
  });
});
