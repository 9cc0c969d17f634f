// A uniquely named two-region environment for one regionalFailover / regionalFailback test: a primary DB and its
// cross-region read replica (with recent ReplicaLag datapoints), an ECS service in each region whose task definition
// carries DATABASE_HOST = the primary endpoint, the DB secret in both regions, a Route 53 failover pair for
// api.<zone>, and local demo apps standing in for the secondary app, the primary app and the public endpoint.
// `snapshot()` reads all of it back through the SDK, for "nothing changed" comparisons.
import { randomUUID } from 'node:crypto';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { DeleteDBInstanceCommand } from '@aws-sdk/client-rds';
import { DescribeTaskDefinitionCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { onTestFinished } from 'vitest';
import type { AwsClients } from '../../../activities/aws-clients';
import type { RegionalFailoverInput } from '../../../api/runbooks/regional-failover';
import { startDemoApp, type DemoApp } from '../../../scripts/lib/demo-apps';
import {
  describeDb,
  ensureCluster,
  ensureDbInstance,
  ensureReadReplica,
  ensureSecret,
  ensureService,
  ensureTaskDefinitions,
  putReplicaLag,
} from '../../../scripts/lib/fixtures';
import { makeZone, serviceState, zoneRecords, type TestZone } from './aws-fixtures';
import { uid } from '../temporal';

export const PRIMARY_REGION = 'us-east-1';
/**
 * Not the demo's us-west-2: test/e2e/examples.test.ts (possibly running at the same time, in another process) runs a
 * ReplicaLag publisher over us-east-1 and us-west-2 that writes lag 2 every second for every replica it finds. The
 * emulator buckets GetMetricStatistics from the earliest datapoint, so within seconds the newest bucket can hold only
 * the publisher's points, and the lag these tests set (high, low, or none at all) would not be what the run reads.
 */
export const SECONDARY_REGION = 'us-west-1';
/** ALB canonical hosted zones (any id does for the emulator; real ones read better). */
export const ALB_ZONE = { [PRIMARY_REGION]: 'Z35SXDOTRQ7X7K', [SECONDARY_REGION]: 'Z368ELLRRE2KJ0' };

export const stripDot = (name: string | undefined) => (name ?? '').replace(/\.$/, '');

export interface FailoverEnv {
  id: string;
  primaryDb: { id: string; arn: string; endpoint: string };
  replica: { id: string; arn: string; endpoint: string };
  /** The ReplicaLag datapoints put for the replica (the newest last), or null for none. */
  lag: number[] | null;
  primaryService: { region: string; cluster: string; service: string };
  secondaryService: { region: string; cluster: string; service: string };
  family: string;
  /** Task definition revisions of `family` in each region, oldest first, as created. */
  baseRevisions: { primary: string[]; secondary: string[] };
  secret: { name: string; value: { host: string; port: number; username: string; password: string } };
  zone: TestZone;
  /** Alias targets: where api.<zone> PRIMARY points before (primary) and must point after a failover (secondary). */
  targets: { primary: string; secondary: string };
  apps: { secondary: DemoApp; primary: DemoApp; public: DemoApp };
  /** A valid failover input for this environment (task-definition-env mode, no approval), with overrides. */
  input(overrides?: Partial<RegionalFailoverInput>): RegionalFailoverInput;
  /** Everything a run might change, read back through the SDK. */
  snapshot(): Promise<EnvSnapshot>;
}

export type EnvSnapshot = Awaited<ReturnType<typeof readSnapshot>>;

export const fastHealth = (app: DemoApp, timeout = '5s') => ({
  url: app.healthUrl,
  consecutive: 2,
  interval: '100ms',
  timeout,
});

export async function makeFailoverEnv(
  aws: AwsClients,
  opts: {
    /** ReplicaLag datapoints to put (one a minute, newest now); null puts none. Default [3, 4, 5]. */
    lag?: number[] | null;
    /** Delete the primary DB after its replica exists: a primary that is down (status "not-found"). */
    primaryDown?: boolean;
    /**
     * Where the fake apps' shutdown goes. Default: vitest's onTestFinished — which does not know which test is
     * running when tests run concurrently (it would close these apps when another test ends, mid-run): concurrent
     * tests pass their own and call it when they are done.
     */
    onFinished?: (cleanup: () => Promise<void>) => void;
  } = {},
): Promise<FailoverEnv> {
  const id = uid('rf');
  const lag = opts.lag === undefined ? [3, 4, 5] : opts.lag;
  const password = `pw-${randomUUID()}`;

  const [secondaryApp, primaryApp, publicApp] = await Promise.all([
    startDemoApp(`${id}-secondary`),
    startDemoApp(`${id}-primary`),
    startDemoApp(`${id}-public`),
  ]);
  (opts.onFinished ?? onTestFinished)(async () => {
    await Promise.all([secondaryApp.close(), primaryApp.close(), publicApp.close()]);
  });

  // RDS: the primary, then its cross-region replica (created from the replica's region, the source given as ARN).
  const primary = await ensureDbInstance(aws, PRIMARY_REGION, `${id}-db`, { masterPassword: password });
  const replica = await ensureReadReplica(aws, {
    sourceArn: primary.DBInstanceArn!,
    region: SECONDARY_REGION,
    id: `${id}-replica`,
  });
  if (lag) await putLag(aws, SECONDARY_REGION, replica.DBInstanceIdentifier!, lag);
  const primaryEndpoint = primary.Endpoint!.Address!;

  // ECS: a cluster and service per region, both on a task definition whose DATABASE_HOST is the primary endpoint.
  const family = `${id}-api`;
  const env = [{ name: 'DATABASE_HOST', value: primaryEndpoint }];
  const services = {} as Record<'primary' | 'secondary', { region: string; cluster: string; service: string }>;
  const baseRevisions = {} as Record<'primary' | 'secondary', string[]>;
  for (const [side, region, count] of [
    ['primary', PRIMARY_REGION, 2],
    ['secondary', SECONDARY_REGION, 0],
  ] as const) {
    const ecs = aws.ecs(region);
    const cluster = `${id}-${side}`;
    await ensureCluster(ecs, cluster);
    const revisions = await ensureTaskDefinitions(ecs, family, ['example/api:1.0', 'example/api:1.1'], env);
    await ensureService(ecs, { cluster, service: `${id}-api`, taskDefinition: revisions.at(-1)!, desiredCount: count });
    services[side] = { region, cluster, service: `${id}-api` };
    baseRevisions[side] = revisions;
  }

  // Secrets Manager: the DB connection, in both regions.
  const secret = {
    name: `${id}/db`,
    value: { host: primaryEndpoint, port: 5432, username: 'app', password },
  };
  await ensureSecret(aws, PRIMARY_REGION, secret.name, secret.value);
  await ensureSecret(aws, SECONDARY_REGION, secret.name, secret.value);

  // Route 53: api.<zone> as a failover pair of aliases, plus a record no run may touch.
  const targets = { primary: `${id}-alb-east.example.test`, secondary: `${id}-alb-west.example.test` };
  const zone = await makeZone(aws, (z) => [
    {
      Name: `api.${z}`,
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      AliasTarget: { DNSName: targets.primary, HostedZoneId: ALB_ZONE[PRIMARY_REGION], EvaluateTargetHealth: true },
    },
    {
      Name: `api.${z}`,
      Type: 'A',
      SetIdentifier: 'secondary',
      Failover: 'SECONDARY',
      AliasTarget: {
        DNSName: targets.secondary,
        HostedZoneId: ALB_ZONE[SECONDARY_REGION],
        EvaluateTargetHealth: true,
      },
    },
    { Name: `www.${z}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.10' }] },
  ]);

  if (opts.primaryDown) {
    // The emulator lets a primary with a cross-region replica be deleted; the replica keeps reporting the deleted
    // primary's ARN as its source, as a replica whose source region is gone does.
    await aws
      .rds(PRIMARY_REGION)
      .send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: primary.DBInstanceIdentifier!, SkipFinalSnapshot: true }),
      );
  }

  const apps = { secondary: secondaryApp, primary: primaryApp, public: publicApp };
  const result: FailoverEnv = {
    id,
    primaryDb: { id: primary.DBInstanceIdentifier!, arn: primary.DBInstanceArn!, endpoint: primaryEndpoint },
    replica: {
      id: replica.DBInstanceIdentifier!,
      arn: replica.DBInstanceArn!,
      endpoint: replica.Endpoint!.Address!,
    },
    lag,
    primaryService: services.primary,
    secondaryService: services.secondary,
    family,
    baseRevisions,
    secret,
    zone,
    targets,
    apps,
    input: (overrides = {}) => ({
      primary: {
        region: PRIMARY_REGION,
        dbInstance: primary.DBInstanceIdentifier!,
        ecs: { cluster: services.primary.cluster, service: services.primary.service },
      },
      secondary: {
        region: SECONDARY_REGION,
        dbInstance: replica.DBInstanceIdentifier!,
        ecs: { cluster: services.secondary.cluster, service: services.secondary.service, desiredCount: 2 },
      },
      appConfig: { mode: 'task-definition-env', variable: 'DATABASE_HOST' },
      dns: {
        hostedZone: zone.zoneName,
        record: { name: zone.recordName, type: 'A', setIdentifier: 'primary' },
        target: { alias: { dnsName: targets.secondary, hostedZoneId: ALB_ZONE[SECONDARY_REGION] } },
      },
      health: { secondaryApp: fastHealth(secondaryApp), publicEndpoint: fastHealth(publicApp) },
      promoteTimeout: '30s',
      stableTimeout: '10s',
      insyncTimeout: '10s',
      approval: { required: false },
      ...overrides,
    }),
    snapshot: () => readSnapshot(aws, result),
  };
  return result;
}

/** `AWS/RDS ReplicaLag` datapoints for a replica in `region` (scripts/lib/fixtures.ts putReplicaLag). */
export const putLag = (aws: AwsClients, region: string, replicaId: string, seconds: number[]): Promise<void> =>
  putReplicaLag(aws.cloudwatch(region), replicaId, seconds);

/** ACTIVE revisions of a family in a region, oldest first (the emulator ignores `sort`). */
export async function listRevisions(aws: AwsClients, region: string, family: string): Promise<string[]> {
  const out = await aws.ecs(region).send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE' }));
  return (out.taskDefinitionArns ?? [])
    .filter((a) => a.split('/').pop()?.startsWith(`${family}:`))
    .sort((a, b) => Number(a.split(':').pop()) - Number(b.split(':').pop()));
}

/** The value of a container environment variable in a task definition. */
export async function taskDefinitionEnv(aws: AwsClients, region: string, taskDefinition: string, variable: string) {
  const out = await aws.ecs(region).send(new DescribeTaskDefinitionCommand({ taskDefinition }));
  const values = (out.taskDefinition?.containerDefinitions ?? []).flatMap((c) =>
    (c.environment ?? []).filter((e) => e.name === variable).map((e) => e.value),
  );
  return values[0];
}

/** The secret's current version: its id and parsed JSON value. */
export async function readSecret(aws: AwsClients, region: string, name: string) {
  const out = await aws.secrets(region).send(new GetSecretValueCommand({ SecretId: name }));
  return { versionId: out.VersionId, value: JSON.parse(out.SecretString ?? '{}') as Record<string, unknown> };
}

/** A DB instance as far as a failover is concerned: status, endpoint, and whose replica it is (if any). */
export async function dbState(aws: AwsClients, region: string, id: string) {
  const db = await describeDb(aws, region, id);
  if (!db) return { status: 'not-found' };
  return {
    status: db.DBInstanceStatus,
    endpoint: db.Endpoint?.Address,
    replicaSource: db.ReadReplicaSourceDBInstanceIdentifier ?? null,
  };
}

async function readSnapshot(aws: AwsClients, env: FailoverEnv) {
  return {
    primaryDb: await dbState(aws, PRIMARY_REGION, env.primaryDb.id),
    replica: await dbState(aws, SECONDARY_REGION, env.replica.id),
    primaryService: await serviceState(aws, env.primaryService),
    secondaryService: await serviceState(aws, env.secondaryService),
    revisions: {
      primary: await listRevisions(aws, PRIMARY_REGION, env.family),
      secondary: await listRevisions(aws, SECONDARY_REGION, env.family),
    },
    secrets: {
      primary: await readSecret(aws, PRIMARY_REGION, env.secret.name),
      secondary: await readSecret(aws, SECONDARY_REGION, env.secret.name),
    },
    dns: await zoneRecords(aws, env.zone.zoneId),
  };
}
