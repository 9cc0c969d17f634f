// The waits themselves, with stubbed AWS clients answering what the emulator never does: a restore that ends
// incompatible-restore, an instance not visible yet or gone, a PRIMARY deployment FAILED, tasks that keep stopping,
// throttled probes, a Route 53 change that stays PENDING.
import { DBInstanceNotFoundFault, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  type Deployment,
} from '@aws-sdk/client-ecs';
import { GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { createEcsActivities } from '../../activities/ecs';
import { createRdsActivities } from '../../activities/rds';
import { createRoute53Activities } from '../../activities/route53';
import { rejection } from '../helpers/assert';

const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
const rds = new RDSClient({ region: 'us-east-1', credentials });
const ecs = new ECSClient({ region: 'us-east-1', credentials });
const route53 = new Route53Client({ region: 'us-east-1', credentials });
const rdsMock = mockClient(rds);
const ecsMock = mockClient(ecs);
const route53Mock = mockClient(route53);
const aws = { rds: () => rds, ecs: () => ecs, route53: () => route53 } as unknown as AwsClients;

// The waits' own pauses (1–2 s between probes) on a clock that runs 50 times faster: setTimeout and Date are
// faked, and a real interval moves them on 100 ms every 2 ms. The waits see the same times, in a fiftieth of them.
let clock: NodeJS.Timeout | undefined;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  clock = setInterval(() => vi.advanceTimersByTime(100), 2);
});

afterEach(() => {
  clearInterval(clock);
  vi.useRealTimers();
  rdsMock.reset();
  ecsMock.reset();
  route53Mock.reset();
});

const notFound = (id: string) => new DBInstanceNotFoundFault({ message: `DBInstance ${id} not found.`, $metadata: {} });
const throttled = () =>
  Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });
const unavailable = (region: string) =>
  Object.assign(new Error(`Service unavailable in ${region}`), {
    name: 'ServiceUnavailable',
    $metadata: { httpStatusCode: 503 },
  });
const instance = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
  DBInstances: [
    {
      DBInstanceIdentifier: id,
      DBInstanceArn: `arn:aws:rds:us-east-1:123456789012:db:${id}`,
      DBInstanceStatus: status,
      Engine: 'postgres',
      DBInstanceClass: 'db.t3.micro',
      Endpoint: { Address: `${id}.abc.us-east-1.rds.amazonaws.com`, Port: 5432 },
      ...extra,
    },
  ],
});

describe('waitForDbAvailable / waitForDbStandalone', () => {
  const id = 'demo-db-restored-20250601120000';
  const ref = { region: 'us-east-1', dbInstance: id, label: 'restored instance' };

  it('a restore that ends incompatible-restore: DbInstanceFailed at the poll that sees it, quoting StatusInfos', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejectsOnce(notFound(id)) // not visible yet, right after the restore call
      .resolves(
        instance(id, 'incompatible-restore', {
          StatusInfos: [
            { StatusType: 'read replication', Normal: false, Status: 'error', Message: 'snapshot is corrupt' },
          ],
        }),
      );
    const started = Date.now();
    const err = await rejection(createRdsActivities(aws).waitForDbAvailable({ ...ref, timeoutMs: 3_600_000 }));
    expect(err.name).toBe('DbInstanceFailed');
    expect(err.message).toMatch(
      new RegExp(
        `^restored instance ${id} in us-east-1 is incompatible-restore: AWS could not restore it ` +
          `\\(read replication error: snapshot is corrupt\\)\\. Waiting longer will not change it`,
      ),
    );
    expect(Date.now() - started).toBeLessThan(5_000); // two polls, not the hour
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(2);
  });

  it('rides out "not found" and throttling right after a create, then returns the available instance', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejectsOnce(notFound(id))
      .rejectsOnce(throttled())
      .resolves(instance(id, 'available'));
    const db = await createRdsActivities(aws).waitForDbAvailable({ ...ref, timeoutMs: 60_000 });
    expect(db).toMatchObject({ id, status: 'available', endpoint: `${id}.abc.us-east-1.rds.amazonaws.com` });
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(3);
  }, 15_000);

  it('an instance the wait saw that disappears: DbInstanceFailed ("gone"), not a wait until the deadline', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolvesOnce(instance(id, 'modifying')).rejects(notFound(id));
    const err = await rejection(
      createRdsActivities(aws).waitForDbStandalone({ ...ref, label: 'promoted replica', timeoutMs: 3_600_000 }),
    );
    expect(err.name).toBe('DbInstanceFailed');
    expect(err.message).toContain(
      `promoted replica ${id} in us-east-1 is gone: RDS no longer finds it (it was modifying when last seen)`,
    );
  });

  it('a region that stops answering mid-wait: RegionUnavailable after three probes without an answer, seconds not the hour', async () => {
    rdsMock.on(DescribeDBInstancesCommand).resolvesOnce(instance(id, 'modifying')).rejects(unavailable('us-east-1'));
    const started = Date.now();
    const err = await rejection(
      createRdsActivities(aws).waitForDbStandalone({ ...ref, label: 'promoted replica', timeoutMs: 3_600_000 }),
    );
    expect(err.name).toBe('RegionUnavailable');
    expect(err.message).toMatch(
      /^us-east-1 is not answering: 3 polls in a row over \d+s got no answer \(last: ServiceUnavailable: Service unavailable in us-east-1\)/,
    );
    // one answer, then the first unanswered probe after the initial delay and two more, each after the initial delay
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)).toHaveLength(4);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 15_000);

  it('a blip of two unanswered probes is ridden out', async () => {
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejectsOnce(unavailable('us-east-1'))
      .rejectsOnce(unavailable('us-east-1'))
      .resolves(instance(id, 'available'));
    const db = await createRdsActivities(aws).waitForDbAvailable({ ...ref, timeoutMs: 60_000 });
    expect(db.status).toBe('available');
  }, 15_000);

  it('never found past the grace: ResourceNotFound, as before', async () => {
    rdsMock.on(DescribeDBInstancesCommand).rejects(notFound(id));
    const err = await rejection(
      createRdsActivities(aws).waitForDbAvailable({ ...ref, timeoutMs: 60_000, notFoundGraceMs: 0 }),
    );
    expect(err.name).toBe('ResourceNotFound');
    expect(err.message).toMatch(new RegExp(`^RDS instance ${id} not found in us-east-1`));
  });
});

describe('waitForServiceStable', () => {
  const td = (rev: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/api:${rev}`;
  const ref = { region: 'us-east-1', cluster: 'prod', service: 'api' };
  const describe_ = (deployments: Deployment[], over: Record<string, unknown> = {}) => ({
    services: [
      {
        serviceName: 'api',
        serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/prod/api',
        clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
        status: 'ACTIVE',
        desiredCount: 2,
        runningCount: 2,
        pendingCount: 0,
        taskDefinition: td(7),
        deploymentController: { type: 'ECS' as const },
        deployments,
        ...over,
      },
    ],
  });
  const primary = (over: Partial<Deployment> = {}): Deployment => ({
    id: 'ecs-svc/7',
    status: 'PRIMARY',
    taskDefinition: td(7),
    desiredCount: 2,
    runningCount: 2,
    rolloutState: 'COMPLETED',
    ...over,
  });

  it('a PRIMARY deployment FAILED: ServiceDeploymentFailed at once, quoting rolloutStateReason', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(
      describe_([
        primary({
          rolloutState: 'FAILED',
          rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
          runningCount: 0,
        }),
      ]),
    );
    const err = await rejection(
      createEcsActivities(aws).waitForServiceStable({ ...ref, timeoutMs: 600_000, expect: { taskDefinition: td(7) } }),
    );
    expect(err.name).toBe('ServiceDeploymentFailed');
    expect(err.message).toBe(
      'ECS service api (us-east-1/prod): deployment ecs-svc/7 of api:7 FAILED: "ECS deployment circuit breaker: ' +
        'tasks failed to start.". See its events: aws ecs describe-services --region us-east-1 ' +
        "--cluster prod --services api --query 'services[0].events[:5]'",
    );
    expect(ecsMock.commandCalls(DescribeServicesCommand)).toHaveLength(1);
  });

  it('tasks of the new revision that keep stopping: ServiceDeploymentFailed quoting the newest reason', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .resolves(
        describe_(
          [
            primary({ rolloutState: 'IN_PROGRESS', runningCount: 0 }),
            primary({ id: 'ecs-svc/6', status: 'ACTIVE', taskDefinition: td(6) }),
          ],
          { pendingCount: 1 },
        ),
      );
    const arns = [1, 2, 3].map((i) => `arn:aws:ecs:us-east-1:123456789012:task/prod/t${i}`);
    ecsMock.on(ListTasksCommand).resolves({ taskArns: arns });
    const soon = Date.now() + 1_000;
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: arns.map((arn, i) => ({
        taskArn: arn,
        taskDefinitionArn: td(7),
        lastStatus: 'STOPPED',
        stopCode: 'TaskFailedToStart',
        stoppedAt: new Date(soon + i * 1_000),
        stoppedReason: `CannotPullContainerError: pull image manifest has been retried 5 time(s): try ${i + 1}`,
        containers: [
          { name: 'app', reason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)' },
        ],
      })),
    });
    const err = await rejection(
      createEcsActivities(aws).waitForServiceStable({ ...ref, timeoutMs: 600_000, expect: { taskDefinition: td(7) } }),
    );
    expect(err.name).toBe('ServiceDeploymentFailed');
    expect(err.message).toContain(
      'ECS service api (us-east-1/prod): 3 tasks of api:7 stopped since the wait began (they keep failing); newest: ' +
        'CannotPullContainerError: pull image manifest has been retried 5 time(s): try 3',
    );
    expect(ecsMock.commandCalls(ListTasksCommand)[0]!.args[0].input).toEqual({
      cluster: 'prod',
      serviceName: 'api',
      desiredStatus: 'STOPPED',
      maxResults: 100,
    });
  });

  it('IN_PROGRESS is not stable: it waits until the deployment is COMPLETED, riding out a throttled describe', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .resolvesOnce(describe_([primary({ rolloutState: 'IN_PROGRESS' })]))
      .rejectsOnce(throttled())
      .resolves(describe_([primary()]));
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [] });
    const s = await createEcsActivities(aws).waitForServiceStable({
      ...ref,
      timeoutMs: 60_000,
      expect: { desiredCount: 2, taskDefinition: td(7) },
    });
    expect(s).toMatchObject({ runningCount: 2, polls: 3 });
  }, 15_000);
});

describe('waitForServiceStable without ecs:ListTasks', () => {
  it('a denied read of the stopped tasks does not fail the wait: it goes on without them', async () => {
    const td = 'arn:aws:ecs:us-east-1:123456789012:task-definition/api:7';
    const svc = (rolloutState: 'IN_PROGRESS' | 'COMPLETED') => ({
      services: [
        {
          serviceName: 'api',
          status: 'ACTIVE',
          desiredCount: 2,
          runningCount: 2,
          taskDefinition: td,
          deploymentController: { type: 'ECS' as const },
          deployments: [
            { id: 'ecs-svc/7', status: 'PRIMARY', taskDefinition: td, desiredCount: 2, runningCount: 2, rolloutState },
          ],
        },
      ],
    });
    ecsMock.on(DescribeServicesCommand).resolvesOnce(svc('IN_PROGRESS')).resolves(svc('COMPLETED'));
    ecsMock
      .on(ListTasksCommand)
      .rejects(Object.assign(new Error('not authorized to perform: ecs:ListTasks'), { name: 'AccessDeniedException' }));
    const s = await createEcsActivities(aws).waitForServiceStable({
      region: 'us-east-1',
      cluster: 'prod',
      service: 'api',
      timeoutMs: 60_000,
    });
    expect(s).toMatchObject({ runningCount: 2, polls: 2 });
    expect(ecsMock.commandCalls(ListTasksCommand)).toHaveLength(1); // not asked again once refused
  });
});

describe('waitForChangeInsync', () => {
  it('a change still PENDING at its timeout: ChangeStillPending naming the change and how long it waited', async () => {
    route53Mock
      .on(GetChangeCommand)
      .resolves({ ChangeInfo: { Id: '/change/C0123', Status: 'PENDING', SubmittedAt: new Date() } });
    const err = await rejection(
      createRoute53Activities(aws).waitForChangeInsync({ changeId: 'C0123', timeoutMs: 1_200 }),
    );
    expect(err.name).toBe('ChangeStillPending');
    expect(err.message).toMatch(
      /^Route 53 change C0123 is still PENDING after 1s: Route 53 accepted it but has not applied it on all of its name servers yet\. The records are as submitted; check the change with: aws route53 get-change --id C0123$/,
    );
  });
});
