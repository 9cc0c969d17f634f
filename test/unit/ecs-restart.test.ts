// ecsRestart's pure helpers (the AZ spread, its unevenness, the revision change in words) and the spread read with a
// stubbed ECS client: the paths the emulator cannot reach (pages, batches of 100, tasks of other services, a denied
// read).
import { DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { createEcsTaskActivities, spreadOf } from '../../activities/ecs-tasks';
import type { AzSpreadReading } from '../../api/runbooks/ecs-deploy';
import { asksForRevision, describeRevisionChange, describeSpread, spreadUnevenness } from '../../workflows/ecsRestart';

const reading = (zones: Record<string, number>, extra: Partial<AzSpreadReading> = {}): AzSpreadReading => ({
  zones,
  tasks: Object.values(zones).reduce((a, b) => a + b, 0) + (extra.unknownZone ?? 0),
  unknownZone: 0,
  ...extra,
});

describe('spreadOf', () => {
  it("counts a service's running tasks by zone, leaving out other groups, stopped tasks, and counting unknown zones", () => {
    const t = (group: string, availabilityZone?: string, desiredStatus = 'RUNNING') => ({
      group,
      desiredStatus,
      ...(availabilityZone ? { availabilityZone } : {}),
    });
    const spread = spreadOf(
      [
        t('service:api', 'us-east-1b'),
        t('service:api', 'us-east-1a'),
        t('service:api', 'us-east-1b'),
        t('service:api'),
        t('service:api-worker', 'us-east-1c'), // another service whose name starts alike
        t('family:api', 'us-east-1c'), // a RunTask task
        t('service:api', 'us-east-1c', 'STOPPED'),
      ],
      'api',
    );
    expect(spread).toEqual({ zones: { 'us-east-1a': 1, 'us-east-1b': 2 }, tasks: 4, unknownZone: 1 });
    expect(Object.keys(spread.zones)).toEqual(['us-east-1a', 'us-east-1b']); // sorted
  });
});

describe('describeSpread', () => {
  it('reads as zones and counts, says when nothing ran, and when it could not be read', () => {
    expect(describeSpread(reading({ 'us-east-1a': 2, 'us-east-1b': 1 }))).toBe(
      'us-east-1a: 2, us-east-1b: 1 (3 tasks)',
    );
    expect(describeSpread(reading({ 'us-east-1a': 1 }, { unknownZone: 1 }))).toBe(
      'us-east-1a: 1, no zone shown: 1 (2 tasks)',
    );
    expect(describeSpread(reading({}))).toBe('no running task seen');
    expect(describeSpread(reading({}, { unreadable: 'AccessDeniedException: no ecs:ListTasks' }))).toBe(
      'unreadable (AccessDeniedException: no ecs:ListTasks)',
    );
  });
});

describe('spreadUnevenness', () => {
  it('is silent for an even spread, one task, nothing seen or an unreadable spread', () => {
    expect(spreadUnevenness(reading({ a: 2, b: 2, c: 2 }))).toBeUndefined();
    expect(spreadUnevenness(reading({ a: 2, b: 1 }))).toBeUndefined();
    expect(spreadUnevenness(reading({ a: 1 }))).toBeUndefined();
    expect(spreadUnevenness(reading({}))).toBeUndefined();
    expect(spreadUnevenness(reading({}, { unreadable: 'AccessDenied: …' }))).toBeUndefined();
  });

  it('names every task in one zone (two or more), and zones more than one task apart', () => {
    expect(spreadUnevenness(reading({ 'us-east-1a': 3 }))).toBe(
      'all 3 tasks run in us-east-1a: an outage of that zone stops the service',
    );
    expect(spreadUnevenness(reading({ 'us-east-1a': 1, 'us-east-1b': 4, 'us-east-1c': 2 }))).toBe(
      'us-east-1b runs 4 tasks and us-east-1a 1 (us-east-1a: 1, us-east-1b: 4, us-east-1c: 2 (7 tasks))',
    );
  });
});

describe('the revision change', () => {
  it('asks for a revision only with cpu, memory or a non-empty environment', () => {
    expect(asksForRevision({})).toBe(false);
    expect(asksForRevision({ environment: {} })).toBe(false);
    expect(asksForRevision({ memory: 1024 })).toBe(true);
    expect(asksForRevision({ environment: { A: '1' } })).toBe(true);
  });

  it('reads against the current settings: old → new, new variables, unchanged ones', () => {
    const current = { cpu: '256', memory: '512', environment: { app: { LOG_LEVEL: 'info', DB: 'db.example' } } };
    expect(
      describeRevisionChange(
        { cpu: 512, memory: 1024, environment: { LOG_LEVEL: 'debug', FEATURE_X: 'on', DB: 'db.example' } },
        current,
      ),
    ).toBe(
      'cpu 256 → 512, memory 512 → 1024 MiB, LOG_LEVEL=debug (was info), FEATURE_X=on (new), DB=db.example (unchanged)',
    );
    expect(describeRevisionChange({ memory: 1024 }, { environment: {} })).toBe('memory 1024 (was not set) MiB');
    expect(describeRevisionChange({ memory: 1024, environment: { A: '1' } })).toBe('memory 1024 MiB, A=1');
  });
});

describe('taskSpread (stubbed client)', () => {
  const client = new ECSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const ecsMock = mockClient(client);
  const aws = { ecs: () => client } as unknown as AwsClients;
  const ref = { region: 'eu-west-1', cluster: 'prod', service: 'arn:aws:ecs:eu-west-1:123456789012:service/prod/api' };
  afterEach(() => ecsMock.reset());

  it('follows nextToken, describes in batches of 100 and counts only the service’s tasks', async () => {
    const arns = Array.from({ length: 150 }, (_, i) => `arn:aws:ecs:eu-west-1:123456789012:task/prod/t${i}`);
    ecsMock
      .on(ListTasksCommand, { nextToken: undefined })
      .resolves({ taskArns: arns.slice(0, 100), nextToken: 'p2' })
      .on(ListTasksCommand, { nextToken: 'p2' })
      .resolves({ taskArns: arns.slice(100) });
    ecsMock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
      tasks: input.tasks.map((taskArn) => {
        const i = Number(taskArn.split('/t').pop());
        return {
          taskArn,
          desiredStatus: 'RUNNING',
          group: i % 10 === 9 ? 'service:other' : 'service:api',
          availabilityZone: `eu-west-1${'abc'[i % 3]}`,
        };
      }),
    }));

    const spread = await createEcsTaskActivities(aws).taskSpread(ref);

    expect(ecsMock.commandCalls(ListTasksCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: 'prod', serviceName: 'api', desiredStatus: 'RUNNING', maxResults: 100 },
      { cluster: 'prod', serviceName: 'api', desiredStatus: 'RUNNING', maxResults: 100, nextToken: 'p2' },
    ]);
    expect(ecsMock.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input.tasks?.length)).toEqual([100, 50]);
    expect(spread.tasks).toBe(135); // 15 of the 150 belong to another service
    expect(spread.zones['eu-west-1a']! + spread.zones['eu-west-1b']! + spread.zones['eu-west-1c']!).toBe(135);
    expect(spread.unreadable).toBeUndefined();
  });

  it('records a denied read as unreadable, with AWS’s error, instead of failing', async () => {
    const denied = Object.assign(new Error('User: arn:aws:iam::1:role/w is not authorized to perform: ecs:ListTasks'), {
      name: 'AccessDeniedException',
    });
    ecsMock.on(ListTasksCommand).rejects(denied);
    const spread = await createEcsTaskActivities(aws).taskSpread(ref);
    expect(spread).toEqual({
      zones: {},
      tasks: 0,
      unknownZone: 0,
      unreadable: 'AccessDeniedException: User: arn:aws:iam::1:role/w is not authorized to perform: ecs:ListTasks',
    });
  });

  it('lets any other error through (the activity retries it)', async () => {
    ecsMock.on(ListTasksCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(createEcsTaskActivities(aws).taskSpread(ref)).rejects.toThrow('Rate exceeded');
  });
});
