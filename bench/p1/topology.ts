// One failover topology for one P1 subject in one round (a failover changes it, so each run gets its own): a
// primary DB in us-east-1 and its read replica in us-west-1 (with ReplicaLag datapoints), an ECS service in each
// region on a task definition whose DATABASE_HOST is the primary, a log group, and a Route 53 zone with the
// failover pair of api.<zone>. Health answers come from one local app.
import { randomUUID } from 'node:crypto';
import { CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { AwsClients } from '../../activities/aws-clients';
import type { RegionalFailoverInput } from '../../api/runbooks/regional-failover';
import {
  ensureCluster,
  ensureDbInstance,
  ensureHostedZone,
  ensureReadReplica,
  ensureRecords,
  ensureService,
  ensureTaskDefinitions,
  putReplicaLag,
} from '../../scripts/lib/fixtures';

export const PRIMARY_REGION = 'us-east-1';
export const SECONDARY_REGION = 'us-west-1';
const ALB_ZONE = 'Z368ELLRRE2KJ0';

export interface Topology {
  id: string;
  primaryDb: string;
  replica: string;
  primary: { cluster: string; service: string };
  secondary: { cluster: string; service: string };
  family: string;
  zoneId: string;
  zoneName: string;
  recordName: string;
  /** Where api.<zone> PRIMARY must point after the failover. */
  secondaryTarget: string;
  logGroup: string;
}

export async function makeTopology(aws: AwsClients, prefix: string): Promise<Topology> {
  const id = `${prefix}-${randomUUID().slice(0, 6)}`;
  const primary = await ensureDbInstance(aws, PRIMARY_REGION, `${id}-db`, { masterPassword: `pw-${id}` });
  const replica = await ensureReadReplica(aws, {
    sourceArn: primary.DBInstanceArn!,
    region: SECONDARY_REGION,
    id: `${id}-replica`,
  });
  await putReplicaLag(aws.cloudwatch(SECONDARY_REGION), replica.DBInstanceIdentifier!, [3, 2, 1]);
  const family = `${id}-api`;
  const env = [{ name: 'DATABASE_HOST', value: primary.Endpoint!.Address! }];
  for (const [side, region, count] of [
    ['primary', PRIMARY_REGION, 2],
    ['secondary', SECONDARY_REGION, 0],
  ] as const) {
    const ecs = aws.ecs(region);
    await ensureCluster(ecs, `${id}-${side}`);
    const revisions = await ensureTaskDefinitions(ecs, family, ['example/api:1.1'], env);
    await ensureService(ecs, {
      cluster: `${id}-${side}`,
      service: `${id}-api`,
      taskDefinition: revisions.at(-1)!,
      desiredCount: count,
    });
  }
  const logGroup = `/ecs/${id}-api`;
  await aws.logs(SECONDARY_REGION).send(new CreateLogGroupCommand({ logGroupName: logGroup }));
  const zoneName = `${id}.example.test`;
  const zoneId = await ensureHostedZone(aws, zoneName);
  const secondaryTarget = `${id}-alb-west.example.test`;
  await ensureRecords(aws, zoneId, [
    {
      Name: `api.${zoneName}`,
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      AliasTarget: { DNSName: `${id}-alb-east.example.test`, HostedZoneId: ALB_ZONE, EvaluateTargetHealth: true },
    },
    {
      Name: `api.${zoneName}`,
      Type: 'A',
      SetIdentifier: 'secondary',
      Failover: 'SECONDARY',
      AliasTarget: { DNSName: secondaryTarget, HostedZoneId: ALB_ZONE, EvaluateTargetHealth: true },
    },
  ]);
  return {
    id,
    primaryDb: primary.DBInstanceIdentifier!,
    replica: replica.DBInstanceIdentifier!,
    primary: { cluster: `${id}-primary`, service: `${id}-api` },
    secondary: { cluster: `${id}-secondary`, service: `${id}-api` },
    family,
    zoneId,
    zoneName,
    recordName: `api.${zoneName}`,
    secondaryTarget,
    logGroup,
  };
}

/** regionalFailover's input for `t`: approval off, one probe of each health check, as the bash does. */
export function failoverInput(t: Topology, healthUrl: string): RegionalFailoverInput {
  const probe = { url: healthUrl, consecutive: 1, interval: '100ms', timeout: '10s' };
  return {
    primary: { region: PRIMARY_REGION, dbInstance: t.primaryDb, ecs: t.primary },
    secondary: { region: SECONDARY_REGION, dbInstance: t.replica, ecs: { ...t.secondary, desiredCount: 2 } },
    appConfig: { mode: 'task-definition-env', variable: 'DATABASE_HOST' },
    dns: {
      hostedZone: t.zoneName,
      record: { name: t.recordName, type: 'A', setIdentifier: 'primary' },
      target: { alias: { dnsName: t.secondaryTarget, hostedZoneId: ALB_ZONE } },
    },
    health: { secondaryApp: probe, publicEndpoint: probe },
    plannedSwitchover: { reason: 'benchmark: the primary is healthy' },
    reason: 'P1 benchmark',
    approval: { required: false },
  } as unknown as RegionalFailoverInput;
}

/** The variables the seed's bash reads (bench/p1/seed-failover.sh). */
export function bashEnv(t: Topology, healthUrl: string, loginUrl: string): Record<string, string> {
  return {
    PRIMARY_REGION,
    SECONDARY_REGION,
    PRIMARY_DB: t.primaryDb,
    REPLICA_DB: t.replica,
    PRIMARY_CLUSTER: t.primary.cluster,
    PRIMARY_SERVICE: t.primary.service,
    SECONDARY_CLUSTER: t.secondary.cluster,
    SECONDARY_SERVICE: t.secondary.service,
    FAMILY: t.family,
    HOSTED_ZONE_ID: t.zoneId,
    RECORD_NAME: t.recordName,
    SECONDARY_ALB: t.secondaryTarget,
    ALB_ZONE,
    LOG_GROUP: t.logGroup,
    HEALTH_URL: healthUrl,
    LOGIN_URL: loginUrl,
  };
}
