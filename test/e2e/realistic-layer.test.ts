// The realistic AWS layer itself (scripts/realistic/): through it, the AWS SDK sees what AWS shows — phases that take
// time, a promotion that keeps its replica source until it ends, a rename's gap, deployments that roll, Route 53
// PENDING, targets `initial` — and each named fault. One AWS minute is 200 ms here.
import {
  CreateDBInstanceReadReplicaCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  PromoteReadReplicaCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { ChangeResourceRecordSetsCommand, GetChangeCommand } from '@aws-sdk/client-route-53';
import { DescribeAlarmsCommand, PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { startRealisticLayer, type RealisticLayer } from '../../scripts/realistic/layer';
import { ensureDbInstance, ensureDbSnapshot, ensureHostedZone } from '../../scripts/lib/fixtures';
import { makeService } from '../helpers/env/aws-fixtures';
import { uid } from '../helpers/temporal';

const MINUTE = 200;
let layer: RealisticLayer;
let aws: ReturnType<typeof createAwsClients>;
const direct = createAwsClients();

beforeAll(async () => {
  layer = await startRealisticLayer({ upstream: inject('awsEndpoint'), minuteMs: MINUTE });
  aws = createAwsClients({ endpoint: layer.endpoint, maxAttempts: 1 });
});
afterAll(async () => {
  aws.destroy();
  direct.destroy();
  await layer.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The statuses an instance shows (or "not found") polled every 50 ms until `until` says stop. */
async function watchDb(region: string, id: string, until: (s: string) => boolean, maxMs = 10_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    let s: string;
    try {
      const out = await aws.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
      const db = out.DBInstances![0]!;
      s = `${db.DBInstanceStatus}${db.ReadReplicaSourceDBInstanceIdentifier ? ' (replica)' : ''}`;
    } catch (err) {
      s = (err as Error).name === 'DBInstanceNotFoundFault' ? 'not found' : `error ${(err as Error).name}`;
    }
    if (seen.at(-1) !== s) seen.push(s);
    if (until(s)) return seen;
    await sleep(50);
  }
  return seen;
}

async function sourceDb(region: string) {
  const id = uid('rl-db');
  await ensureDbInstance(direct, region, id, { masterPassword: 'not-a-secret-1' });
  const snapshot = `${id}-snap`;
  await ensureDbSnapshot(direct, region, id, snapshot);
  return { id, snapshot };
}

describe('RDS through the realistic layer', () => {
  it('a restore is not found for a moment, then creating → backing-up → available', async () => {
    const region = 'eu-west-1';
    const { snapshot } = await sourceDb(region);
    const id = uid('rl-restored');
    const out = await aws
      .rds(region)
      .send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: snapshot }));
    expect(out.DBInstance?.DBInstanceStatus).toBe('creating');
    const seen = await watchDb(region, id, (s) => s === 'available');
    expect(seen.filter((s) => s !== 'not found')).toEqual(['creating', 'backing-up', 'available']);
  });

  it('restore-fails: the restore ends in incompatible-restore and stays there', async () => {
    const region = 'eu-west-1';
    const { snapshot } = await sourceDb(region);
    layer.setFaults([{ name: 'restore-fails' }]);
    const id = uid('rl-broken');
    await aws
      .rds(region)
      .send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: snapshot }));
    const seen = await watchDb(region, id, (s) => s === 'incompatible-restore');
    expect(seen.filter((s) => s !== 'not found')).toEqual(['creating', 'incompatible-restore']);
    await sleep(3 * MINUTE);
    expect((await watchDb(region, id, () => true)).at(-1)).toBe('incompatible-restore');
    expect(layer.faults()).toEqual([]); // spent
  });

  it('a promotion is modifying, then backing-up, with the replica source set until it ends; promote-stuck never ends', async () => {
    const region = 'eu-west-1';
    const { id: source } = await sourceDb(region);
    const arn = (await direct.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: source })))
      .DBInstances![0]!.DBInstanceArn!;
    const replicas = [uid('rl-replica'), uid('rl-stuck')];
    for (const r of replicas) {
      await direct
        .rds(region)
        .send(new CreateDBInstanceReadReplicaCommand({ DBInstanceIdentifier: r, SourceDBInstanceIdentifier: arn }));
    }
    // Created straight in the emulator (no phases); read once through the layer, which remembers the source.
    await aws.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: replicas[0] }));
    await aws.rds(region).send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: replicas[0] }));
    const seen = await watchDb(region, replicas[0]!, (s) => s === 'available');
    expect(seen).toEqual(['modifying (replica)', 'backing-up (replica)', 'available']);

    await aws.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: replicas[1] }));
    layer.setFaults([{ name: 'promote-stuck' }]);
    await aws.rds(region).send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: replicas[1] }));
    await sleep(8 * MINUTE);
    expect(await watchDb(region, replicas[1]!, () => true)).toEqual(['modifying (replica)']);
  });

  it('a rename is found under neither name for a moment, then renaming; rename-lag makes the gap ten minutes', async () => {
    const region = 'eu-west-1';
    const { id } = await sourceDb(region);
    const renamed = `${id}-new`;
    await aws.rds(region).send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        NewDBInstanceIdentifier: renamed,
        ApplyImmediately: true,
      }),
    );
    expect(await watchDb(region, id, () => true)).toEqual(['not found']);
    // The default gap is half an AWS minute (100 ms here): a loaded machine's next call may come after it, so the
    // new name's first answer is 'not found' or already 'renaming'. The gap itself is asserted below, made long.
    const underNewName = await watchDb(region, renamed, (s) => s === 'available');
    expect(underNewName.filter((s) => s !== 'not found')).toEqual(['renaming', 'available']);
    expect(underNewName.indexOf('renaming')).toBeLessThanOrEqual(1);

    layer.setFaults([{ name: 'rename-lag', times: 1 }]);
    const lagged = `${id}-lag`;
    await aws.rds(region).send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: renamed,
        NewDBInstanceIdentifier: lagged,
        ApplyImmediately: true,
      }),
    );
    const started = Date.now();
    const seen = await watchDb(region, lagged, (s) => s !== 'not found');
    expect(seen[0]).toBe('not found');
    expect(Date.now() - started).toBeGreaterThanOrEqual(9 * MINUTE);
  });

  it('a delete shows deleting, then the instance is gone; a snapshot is creating with its progress first', async () => {
    const region = 'eu-west-1';
    const { id } = await sourceDb(region);
    const snap = `${id}-manual`;
    await aws.rds(region).send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: id, DBSnapshotIdentifier: snap }));
    const first = (await aws.rds(region).send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snap })))
      .DBSnapshots![0]!;
    expect(first.Status).toBe('creating');
    expect(first.PercentProgress).toBeLessThan(100);
    await aws.rds(region).send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
    expect(await watchDb(region, id, (s) => s === 'not found')).toEqual(['deleting', 'not found']);
  });
});

describe('ECS through the realistic layer', () => {
  it('a new revision rolls: PRIMARY IN_PROGRESS with tasks starting one by one while the old ones drain, then COMPLETED', async () => {
    const svc = await makeService(direct, { desiredCount: 3, revisions: 2, onRevision: 1 });
    const ecs = aws.ecs(svc.region);
    const describe = async () =>
      (await ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] }))).services![0]!;
    await describe();
    await ecs.send(
      new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, taskDefinition: svc.revisions[1] }),
    );
    const rollouts: string[] = [];
    for (let i = 0; i < 60; i++) {
      const s = await describe();
      const primary = s.deployments!.find((d) => d.status === 'PRIMARY')!;
      const line = `${s.deployments!.length} deployment(s), ${primary.rolloutState}, new ${primary.runningCount}/${s.desiredCount}`;
      if (rollouts.at(-1) !== line) rollouts.push(line);
      if (primary.rolloutState === 'COMPLETED' && s.deployments!.length === 1) break;
      await sleep(50);
    }
    expect(rollouts[0]).toMatch(/^2 deployment\(s\), IN_PROGRESS, new 0\/3$/);
    expect(rollouts).toContain('2 deployment(s), IN_PROGRESS, new 2/3');
    expect(rollouts.at(-1)).toBe('1 deployment(s), COMPLETED, new 3/3');
  });

  it('deploy-circuit-breaker: the deployment goes FAILED and ECS rolls back to the previous revision', async () => {
    const svc = await makeService(direct, { desiredCount: 2, revisions: 2, onRevision: 1 });
    const ecs = aws.ecs(svc.region);
    await ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] }));
    layer.setFaults([{ name: 'deploy-circuit-breaker' }]);
    await ecs.send(
      new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, taskDefinition: svc.revisions[1] }),
    );
    await sleep(4 * 0.5 * MINUTE);
    const s = (await ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] })))
      .services![0]!;
    const failed = s.deployments!.find((d) => d.rolloutState === 'FAILED');
    expect(failed?.rolloutStateReason).toBe('ECS deployment circuit breaker: tasks failed to start.');
    expect(failed?.taskDefinition).toBe(svc.revisions[1]);
    expect(s.taskDefinition).toBe(svc.revisions[0]); // rolled back in the emulator too
  });

  it('tasks-crash-loop: the new tasks keep stopping with CannotPullContainerError and the deployment never completes', async () => {
    const svc = await makeService(direct, { desiredCount: 2, revisions: 2, onRevision: 1 });
    const ecs = aws.ecs(svc.region);
    await ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] }));
    layer.setFaults([{ name: 'tasks-crash-loop' }]);
    await ecs.send(
      new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, taskDefinition: svc.revisions[1] }),
    );
    await sleep(4 * 0.5 * MINUTE);
    const s = (await ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] })))
      .services![0]!;
    expect(s.deployments!.find((d) => d.status === 'PRIMARY')).toMatchObject({
      rolloutState: 'IN_PROGRESS',
      runningCount: 0,
    });
    const stopped = await ecs.send(
      new ListTasksCommand({ cluster: svc.cluster, serviceName: svc.service, desiredStatus: 'STOPPED' }),
    );
    expect(stopped.taskArns!.length).toBeGreaterThanOrEqual(3);
    const tasks = await ecs.send(new DescribeTasksCommand({ cluster: svc.cluster, tasks: stopped.taskArns }));
    expect(tasks.tasks![0]!.stoppedReason).toMatch(/^CannotPullContainerError: /);
    expect(tasks.tasks![0]!.taskDefinitionArn).toBe(svc.revisions[1]);
    layer.setFaults([]);
  });
});

describe('CloudWatch through the realistic layer', () => {
  it('a metric alarm is evaluated from the data put into moto: OK without breaches, ALARM once enough datapoints breach', async () => {
    const region = 'eu-west-1';
    const name = uid('alarm-5xx');
    const dims = [{ Name: 'Service', Value: name }];
    await direct.cloudwatch(region).send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        Namespace: 'Demo/App',
        MetricName: 'Errors5xx',
        Dimensions: dims,
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    );
    const state = async (client: typeof aws) =>
      (await client.cloudwatch(region).send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
    const put = (value: number) =>
      direct.cloudwatch(region).send(
        new PutMetricDataCommand({
          Namespace: 'Demo/App',
          MetricData: [{ MetricName: 'Errors5xx', Dimensions: dims, Value: value, Timestamp: new Date() }],
        }),
      );
    // No data, missing data not breaching: OK (moto leaves a new alarm as it made it).
    expect((await state(aws))?.StateValue).toBe('OK');
    await put(2);
    expect((await state(aws))?.StateValue).toBe('OK');
    await put(40);
    const fired = await state(aws);
    expect(fired?.StateValue).toBe('ALARM');
    expect(fired?.StateReason).toMatch(/^Threshold Crossed: 1 out of the last 3 datapoints \[(42|40) \(/);
    expect(fired?.StateReason).toContain('greater than the threshold (5)');
    // moto alone never evaluates it.
    expect((await state(direct))?.StateValue).not.toBe('ALARM');
  });
});

describe('Route 53 and the generic faults', () => {
  it('a change is PENDING for a minute, then INSYNC; route53-slow keeps it PENDING', async () => {
    const zone = `${uid('rl')}.example.com`;
    const zoneId = await ensureHostedZone(direct, zone);
    const change = (value: string) =>
      aws.route53().send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: `api.${zone}`,
                  Type: 'A',
                  TTL: 60,
                  ResourceRecords: [{ Value: value }],
                },
              },
            ],
          },
        }),
      );
    const first = await change('203.0.113.1');
    expect(first.ChangeInfo?.Status).toBe('PENDING');
    const get = async (id: string) => (await aws.route53().send(new GetChangeCommand({ Id: id }))).ChangeInfo!.Status;
    expect(await get(first.ChangeInfo!.Id!)).toBe('PENDING');
    await sleep(MINUTE + 100);
    expect(await get(first.ChangeInfo!.Id!)).toBe('INSYNC');

    layer.setFaults([{ name: 'route53-slow' }]);
    const slow = await change('203.0.113.2');
    await sleep(3 * MINUTE);
    expect(await get(slow.ChangeInfo!.Id!)).toBe('PENDING');
    layer.setFaults([]);
  });

  it('throttle-storm, region-outage and access-denied answer as AWS does; other calls go through; mutations are counted', async () => {
    const svc = await makeService(direct, { desiredCount: 1 });
    const describe = (region = svc.region) =>
      aws.ecs(region).send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] }));

    layer.setFaults([{ name: 'throttle-storm', rate: 1 }]);
    await expect(describe()).rejects.toMatchObject({
      name: expect.stringMatching(/ThrottlingException|ServiceUnavailable/),
    });

    layer.setFaults([{ name: 'region-outage', region: svc.region }]);
    await expect(describe()).rejects.toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    await expect(aws.rds('eu-central-1').send(new DescribeDBInstancesCommand({}))).resolves.toBeDefined();

    layer.setFaults([{ name: 'access-denied', operation: 'UpdateService' }]);
    await expect(
      aws
        .ecs(svc.region)
        .send(new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, desiredCount: 2 })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
    layer.setFaults([]);

    const before = layer.mutations().length;
    await aws
      .ecs(svc.region)
      .send(new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, desiredCount: 2 }));
    const after = layer.mutations().slice(before);
    expect(after).toMatchObject([{ service: 'ecs', operation: 'UpdateService', resource: svc.service, status: 200 }]);
    // The refused ones were not effective, and are marked with the fault that answered them.
    expect(layer.calls().filter((c) => c.fault === 'access-denied')).toHaveLength(1);
  });
});
