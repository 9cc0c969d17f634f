// A wait retried after its worker died resumes where it was: the deadline it had, moved on by the time nobody was
// watching — a crash does not eat the wait's time (found by the chaos suite: a health check resumed after a worker
// kill found its deadline passed and failed a healthy target after one probe). And an UpdateService retried after
// AWS took the first call is not made again, nor a Route 53 batch already in place.
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { MockActivityEnvironment } from '@temporalio/testing';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { createEcsActivities } from '../../activities/ecs';
import { resumeDeadline } from '../../activities/poll';
import { createRoute53Activities } from '../../activities/route53';

describe('resumeDeadline', () => {
  it('a first attempt: now + the timeout', async () => {
    const before = Date.now();
    const deadline = (await new MockActivityEnvironment().run(() => Promise.resolve(resumeDeadline(60_000)))) as number;
    expect(deadline).toBeGreaterThanOrEqual(before + 60_000);
    expect(deadline).toBeLessThan(Date.now() + 60_001);
  });

  it('a retry: the recorded deadline, plus the time since the last heartbeat', async () => {
    const now = Date.now();
    const env = new MockActivityEnvironment({
      attempt: 2,
      heartbeatDetails: { deadline: now - 5_000, at: now - 25_000 }, // 20 s were left when the worker died 25 s ago
    });
    const deadline = (await env.run(() => Promise.resolve(resumeDeadline(60_000)))) as number;
    expect(deadline - Date.now()).toBeGreaterThan(19_000);
    expect(deadline - Date.now()).toBeLessThanOrEqual(20_000);
  });

  it('a heartbeat from before `at` was recorded: the deadline as it was', async () => {
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { deadline: 1_000 } });
    expect(await env.run(() => Promise.resolve(resumeDeadline(60_000)))).toBe(1_000);
  });
});

describe('updateService retried', () => {
  const ecs = new ECSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const ecsMock = mockClient(ecs);
  const aws = { ecs: () => ecs } as unknown as AwsClients;
  const service = (desiredCount: number, createdAt = new Date()) => ({
    services: [
      {
        serviceName: 'api',
        status: 'ACTIVE',
        desiredCount,
        runningCount: 2,
        taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/api:7',
        deployments: [{ id: 'd1', status: 'PRIMARY', taskDefinition: 'api:7', createdAt }],
      },
    ],
  });
  const ref = { region: 'us-east-1', cluster: 'prod', service: 'api' };

  it('is not made again when AWS already has the count (the first attempt got through)', async () => {
    ecsMock.reset();
    ecsMock.on(DescribeServicesCommand).resolves(service(4));
    ecsMock.on(UpdateServiceCommand).resolves({ service: service(4).services[0] });
    const env = new MockActivityEnvironment({ attempt: 2 });
    const state = (await env.run(() => createEcsActivities(aws).updateService({ ...ref, desiredCount: 4 }))) as {
      desiredCount: number;
    };
    expect(state.desiredCount).toBe(4);
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('is made when the first attempt did not get through, and always on a first attempt', async () => {
    ecsMock.reset();
    ecsMock.on(DescribeServicesCommand).resolves(service(2));
    ecsMock.on(UpdateServiceCommand).resolves({ service: service(4).services[0] });
    await new MockActivityEnvironment({ attempt: 2 }).run(() =>
      createEcsActivities(aws).updateService({ ...ref, desiredCount: 4 }),
    );
    await new MockActivityEnvironment().run(() => createEcsActivities(aws).updateService({ ...ref, desiredCount: 4 }));
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(2);
  });

  it('a forced deployment is made again only when no deployment began since the activity was scheduled', async () => {
    ecsMock.reset();
    const scheduled = Date.now() - 10_000;
    ecsMock.on(DescribeServicesCommand).resolves(service(2, new Date(scheduled + 1_000)));
    ecsMock.on(UpdateServiceCommand).resolves({ service: service(2).services[0] });
    const retry = () =>
      new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs: scheduled }).run(() =>
        createEcsActivities(aws).updateService({ ...ref, forceNewDeployment: true }),
      );
    await retry();
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(0);
    ecsMock.on(DescribeServicesCommand).resolves(service(2, new Date(scheduled - 60_000)));
    await retry();
    expect(ecsMock.commandCalls(UpdateServiceCommand)).toHaveLength(1);
  });
});

describe('changeRecordSets retried', () => {
  const route53 = new Route53Client({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const r53 = mockClient(route53);
  const aws = { route53: () => route53 } as unknown as AwsClients;
  const green = { Name: 'api.example.com.', Type: 'CNAME' as const, SetIdentifier: 'green', Weight: 50, TTL: 60 };
  const records = (weight: number) => ({
    ResourceRecordSets: [{ ...green, Weight: weight, ResourceRecords: [{ Value: 'green.example.com' }] }],
    IsTruncated: false,
  });
  const input = {
    hostedZoneId: 'Z1',
    comment: 'shift',
    changes: [
      {
        action: 'UPSERT' as const,
        recordSet: { ...green, ResourceRecords: [{ Value: 'green.example.com' }] },
      },
    ],
  };

  it('submits nothing when the batch is already in place, and its wait has nothing to wait for', async () => {
    r53.reset();
    r53.on(ListResourceRecordSetsCommand).resolves(records(50));
    const out = (await new MockActivityEnvironment({ attempt: 2 }).run(() =>
      createRoute53Activities(aws).changeRecordSets(input),
    )) as { changeId: string };
    expect(out.changeId).toBe('');
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(0);
    const waited = await createRoute53Activities(aws).waitForChangeInsync({ changeId: '', timeoutMs: 1_000 });
    expect(waited.status).toBe('INSYNC');
    expect(r53.commandCalls(GetChangeCommand)).toHaveLength(0);
  });

  it('submits the batch when the records are not as asked yet', async () => {
    r53.reset();
    r53.on(ListResourceRecordSetsCommand).resolves(records(0));
    r53
      .on(ChangeResourceRecordSetsCommand)
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } });
    const out = (await new MockActivityEnvironment({ attempt: 2 }).run(() =>
      createRoute53Activities(aws).changeRecordSets(input),
    )) as { changeId: string };
    expect(out.changeId).toBe('C1');
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)).toHaveLength(1);
  });
});
