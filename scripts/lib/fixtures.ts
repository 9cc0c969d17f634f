// Idempotent builders for AWS resources in the emulator (or any account): each checks before it creates, so the
// demo seed can run on every `npm run dev` and tests can build their own uniquely named resources.
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type ECSClient,
  type KeyValuePair,
} from '@aws-sdk/client-ecs';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  CreateDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { CreateSecretCommand, DescribeSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { AwsClients } from '../../activities/aws-clients';

export async function ensureCluster(ecs: ECSClient, cluster: string): Promise<string> {
  const found = await ecs.send(new DescribeClustersCommand({ clusters: [cluster] }));
  const active = found.clusters?.find((c) => c.status === 'ACTIVE');
  if (active?.clusterArn) return active.clusterArn;
  const out = await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  return out.cluster?.clusterArn ?? '';
}

/** Register revisions of `family` until it has `images.length` ACTIVE revisions; returns their ARNs, oldest first. */
export async function ensureTaskDefinitions(
  ecs: ECSClient,
  family: string,
  images: string[],
  environment: KeyValuePair[] = [],
): Promise<string[]> {
  const listed = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE' }));
  const arns = (listed.taskDefinitionArns ?? [])
    .filter((a) => a.split('/').pop()?.startsWith(`${family}:`))
    .sort((a, b) => Number(a.split(':').pop()) - Number(b.split(':').pop()));
  for (let i = arns.length; i < images.length; i++) {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        containerDefinitions: [
          { name: 'app', image: images[i], essential: true, environment, portMappings: [{ containerPort: 8080 }] },
        ],
      }),
    );
    arns.push(out.taskDefinition?.taskDefinitionArn ?? '');
  }
  return arns;
}

/**
 * A service on `taskDefinition` with `desiredCount` tasks. The update after creation makes the emulator report
 * running == desired (moto takes a new service's runningCount from its own env otherwise).
 */
export async function ensureService(
  ecs: ECSClient,
  opts: {
    cluster: string;
    service: string;
    taskDefinition: string;
    desiredCount: number;
    reset?: boolean;
    /** The ALB target group the service registers its tasks in (container `app`, port 8080). */
    targetGroupArn?: string;
  },
): Promise<void> {
  const found = await ecs.send(new DescribeServicesCommand({ cluster: opts.cluster, services: [opts.service] }));
  const existing = found.services?.find((s) => s.status === 'ACTIVE');
  if (!existing) {
    await ecs.send(
      new CreateServiceCommand({
        cluster: opts.cluster,
        serviceName: opts.service,
        taskDefinition: opts.taskDefinition,
        desiredCount: opts.desiredCount,
        launchType: 'FARGATE',
        ...(opts.targetGroupArn
          ? { loadBalancers: [{ targetGroupArn: opts.targetGroupArn, containerName: 'app', containerPort: 8080 }] }
          : {}),
      }),
    );
  } else if (!opts.reset) {
    return;
  }
  await ecs.send(
    new UpdateServiceCommand({
      cluster: opts.cluster,
      service: opts.service,
      desiredCount: opts.desiredCount,
      taskDefinition: opts.taskDefinition,
    }),
  );
}

export async function ensureHostedZone(aws: AwsClients, name: string): Promise<string> {
  const r53 = aws.route53();
  const out = await r53.send(new ListHostedZonesByNameCommand({ DNSName: name }));
  const zone = out.HostedZones?.find((z) => z.Name?.replace(/\.$/, '') === name.replace(/\.$/, ''));
  if (zone?.Id) return zone.Id.replace('/hostedzone/', '');
  const created = await r53.send(
    new CreateHostedZoneCommand({ Name: name, CallerReference: `durable-runbooks-${name}` }),
  );
  return (created.HostedZone?.Id ?? '').replace('/hostedzone/', '');
}

export async function ensureHealthCheck(aws: AwsClients, reference: string, fqdn: string): Promise<string> {
  // CreateHealthCheck is idempotent per CallerReference.
  const out = await aws.route53().send(
    new CreateHealthCheckCommand({
      CallerReference: reference,
      HealthCheckConfig: { Type: 'HTTPS', FullyQualifiedDomainName: fqdn, ResourcePath: '/health', Port: 443 },
    }),
  );
  return out.HealthCheck?.Id ?? '';
}

/** UPSERT records (only those absent, unless `reset`, which puts them back exactly as given). */
export async function ensureRecords(
  aws: AwsClients,
  zoneId: string,
  records: ResourceRecordSet[],
  opts: { reset?: boolean } = {},
): Promise<void> {
  const r53 = aws.route53();
  const existing = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 300 }));
  const has = (r: ResourceRecordSet) =>
    (existing.ResourceRecordSets ?? []).some(
      (e) =>
        e.Name?.replace(/\.$/, '') === r.Name?.replace(/\.$/, '') &&
        e.Type === r.Type &&
        (e.SetIdentifier ?? '') === (r.SetIdentifier ?? ''),
    );
  const todo = opts.reset ? records : records.filter((r) => !has(r));
  if (!todo.length) return;
  await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: { Changes: todo.map((r) => ({ Action: 'UPSERT', ResourceRecordSet: r })) },
    }),
  );
}

export async function ensureDbInstance(
  aws: AwsClients,
  region: string,
  id: string,
  opts: { masterPassword: string; tags?: { Key: string; Value: string }[] },
): Promise<DBInstance> {
  const rds = aws.rds(region);
  const existing = await describeDb(aws, region, id);
  if (existing) return existing;
  const out = await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      EngineVersion: '16.3',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'app',
      MasterUserPassword: opts.masterPassword,
      DBName: 'app',
      BackupRetentionPeriod: 7,
      Tags: opts.tags,
    }),
  );
  return out.DBInstance!;
}

export async function describeDb(aws: AwsClients, region: string, id: string): Promise<DBInstance | undefined> {
  try {
    const out = await aws.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    return out.DBInstances?.[0];
  } catch (err) {
    if ((err as Error).name === 'DBInstanceNotFoundFault') return undefined;
    throw err;
  }
}

/** A cross-region read replica: created from a client in the replica's region, with the source as an ARN. */
export async function ensureReadReplica(
  aws: AwsClients,
  opts: { sourceArn: string; region: string; id: string },
): Promise<DBInstance> {
  const existing = await describeDb(aws, opts.region, opts.id);
  if (existing) return existing;
  const out = await aws.rds(opts.region).send(
    new CreateDBInstanceReadReplicaCommand({
      DBInstanceIdentifier: opts.id,
      SourceDBInstanceIdentifier: opts.sourceArn,
      DBInstanceClass: 'db.t3.micro',
    }),
  );
  return out.DBInstance!;
}

export async function ensureDbSnapshot(
  aws: AwsClients,
  region: string,
  dbId: string,
  snapshotId: string,
): Promise<void> {
  const rds = aws.rds(region);
  try {
    await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }));
    return;
  } catch (err) {
    if ((err as Error).name !== 'DBSnapshotNotFoundFault') throw err;
  }
  await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: dbId, DBSnapshotIdentifier: snapshotId }));
}

export async function ensureSecret(aws: AwsClients, region: string, name: string, value: unknown): Promise<string> {
  const sm = aws.secrets(region);
  const text = JSON.stringify(value);
  try {
    const found = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: text }));
    return found.ARN ?? '';
  } catch (err) {
    if ((err as Error).name !== 'ResourceNotFoundException') throw err;
  }
  const out = await sm.send(new CreateSecretCommand({ Name: name, SecretString: text }));
  return out.ARN ?? '';
}

/** An internet-facing ALB in the default VPC with one HTTP listener forwarding to weighted target groups. */
export async function ensureWeightedAlb(
  aws: AwsClients,
  region: string,
  opts: { name: string; targetGroups: { name: string; weight: number }[] },
): Promise<{
  loadBalancerArn: string;
  dnsName: string;
  canonicalHostedZoneId: string;
  listenerArn: string;
  targetGroupArns: Record<string, string>;
}> {
  const elb = aws.elbv2(region);
  const ec2 = new EC2Client({ region });
  try {
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
    const vpcId = vpcs.Vpcs?.[0]?.VpcId;
    if (!vpcId) throw new Error(`no default VPC in ${region}`);
    const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
    const subnetIds = (subnets.Subnets ?? []).slice(0, 2).map((s) => s.SubnetId!);

    let lb = (await elb.send(new DescribeLoadBalancersCommand({})).then((o) => o.LoadBalancers ?? [])).find(
      (l) => l.LoadBalancerName === opts.name,
    );
    if (!lb) {
      const created = await elb.send(
        new CreateLoadBalancerCommand({
          Name: opts.name,
          Subnets: subnetIds,
          Scheme: 'internet-facing',
          Type: 'application',
        }),
      );
      lb = created.LoadBalancers![0]!;
    }
    const tgs = await elb.send(new DescribeTargetGroupsCommand({})).then((o) => o.TargetGroups ?? []);
    const targetGroupArns: Record<string, string> = {};
    for (const tg of opts.targetGroups) {
      let arn = tgs.find((t) => t.TargetGroupName === tg.name)?.TargetGroupArn;
      if (!arn) {
        const created = await elb.send(
          new CreateTargetGroupCommand({
            Name: tg.name,
            Protocol: 'HTTP',
            Port: 8080,
            VpcId: vpcId,
            TargetType: 'ip',
            HealthCheckPath: '/health',
          }),
        );
        arn = created.TargetGroups![0]!.TargetGroupArn!;
      }
      targetGroupArns[tg.name] = arn;
    }
    const listeners = await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
    let listenerArn = listeners.Listeners?.find((l) => l.Port === 80)?.ListenerArn;
    if (!listenerArn) {
      const created = await elb.send(
        new CreateListenerCommand({
          LoadBalancerArn: lb.LoadBalancerArn,
          Protocol: 'HTTP',
          Port: 80,
          DefaultActions: [
            {
              Type: 'forward',
              ForwardConfig: {
                TargetGroups: opts.targetGroups.map((tg) => ({
                  TargetGroupArn: targetGroupArns[tg.name],
                  Weight: tg.weight,
                })),
              },
            },
          ],
        }),
      );
      listenerArn = created.Listeners![0]!.ListenerArn!;
    }
    return {
      loadBalancerArn: lb.LoadBalancerArn!,
      dnsName: lb.DNSName!,
      canonicalHostedZoneId: lb.CanonicalHostedZoneId!,
      listenerArn,
      targetGroupArns,
    };
  } finally {
    ec2.destroy();
  }
}

/** Register IP targets in a target group (idempotent in AWS and in the emulator). */
export async function ensureIpTargets(
  aws: AwsClients,
  region: string,
  targetGroupArn: string,
  ips: string[],
): Promise<void> {
  await aws
    .elbv2(region)
    .send(
      new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: ips.map((Id) => ({ Id, Port: 8080 })) }),
    );
}

export async function ensureAlarm(
  cw: CloudWatchClient,
  alarm: {
    name: string;
    namespace: string;
    metric: string;
    dimensions: { Name: string; Value: string }[];
    threshold: number;
    statistic?: 'Sum' | 'Average' | 'Maximum';
    extendedStatistic?: string;
    description: string;
  },
): Promise<void> {
  const found = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm.name] }));
  if (found.MetricAlarms?.length) return;
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: alarm.name,
      AlarmDescription: alarm.description,
      Namespace: alarm.namespace,
      MetricName: alarm.metric,
      Dimensions: alarm.dimensions,
      ...(alarm.extendedStatistic
        ? { ExtendedStatistic: alarm.extendedStatistic }
        : { Statistic: alarm.statistic ?? 'Sum' }),
      Period: 60,
      EvaluationPeriods: 3,
      Threshold: alarm.threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    }),
  );
}

/**
 * Recent `AWS/RDS ReplicaLag` datapoints (seconds) for a replica: one a minute, the newest 5 seconds ago. Not "now":
 * the emulator truncates GetMetricStatistics' EndTime to the second and excludes datapoints at or after it, so a
 * datapoint stamped now is invisible to a run that reads the lag within the same second (it would read the one
 * before).
 */
export async function putReplicaLag(cw: CloudWatchClient, replicaId: string, seconds: number[]): Promise<void> {
  const now = Date.now() - 5_000;
  await cw.send(
    new PutMetricDataCommand({
      Namespace: 'AWS/RDS',
      MetricData: seconds.map((value, i) => ({
        MetricName: 'ReplicaLag',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: replicaId }],
        Timestamp: new Date(now - (seconds.length - 1 - i) * 60_000),
        Value: value,
        Unit: 'Seconds',
      })),
    }),
  );
}
