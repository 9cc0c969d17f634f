// Idempotent builders for an Aurora Global Database in the emulator (the tests' environments and the demo): a primary
// Aurora PostgreSQL cluster with one instance, the global cluster made from it, a secondary cluster with one instance
// joined from another region (CreateDBCluster with GlobalClusterIdentifier), and the global lag datapoints CloudWatch
// would publish for the secondary (AWS/RDS AuroraGlobalDBRPOLag, milliseconds, dimension DBClusterIdentifier).
import { PutMetricDataCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateGlobalClusterCommand,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  type DBCluster,
} from '@aws-sdk/client-rds';
import type { AwsClients } from '../../activities/aws-clients';

const ENGINE = 'aurora-postgresql';

async function findCluster(aws: AwsClients, region: string, id: string): Promise<DBCluster | undefined> {
  try {
    const out = await aws.rds(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    return out.DBClusters?.[0];
  } catch (err) {
    if ((err as Error).name === 'DBClusterNotFoundFault') return undefined;
    throw err;
  }
}

async function ensureMember(
  aws: AwsClients,
  o: { region: string; cluster: string; globalCluster?: string; password?: string },
): Promise<DBCluster> {
  const found = await findCluster(aws, o.region, o.cluster);
  if (found) return found;
  const out = await aws.rds(o.region).send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: o.cluster,
      Engine: ENGINE,
      ...(o.globalCluster
        ? { GlobalClusterIdentifier: o.globalCluster }
        : { MasterUsername: 'app', MasterUserPassword: o.password ?? 'not-a-real-password' }),
    }),
  );
  await aws.rds(o.region).send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: `${o.cluster}-1`,
      DBClusterIdentifier: o.cluster,
      Engine: ENGINE,
      DBInstanceClass: 'db.r6g.large',
    }),
  );
  return out.DBCluster!;
}

export interface GlobalDatabase {
  globalCluster: string;
  primary: { region: string; id: string; arn: string; endpoint: string };
  secondary: { region: string; id: string; arn: string; endpoint: string };
}

/** The global database `globalCluster`: `primary` its writer, `secondary` a secondary cluster in another region. */
export async function ensureGlobalDatabase(
  aws: AwsClients,
  o: {
    globalCluster: string;
    primary: { region: string; cluster: string };
    secondary: { region: string; cluster: string };
    password?: string;
  },
): Promise<GlobalDatabase> {
  const primary = await ensureMember(aws, { ...o.primary, ...(o.password ? { password: o.password } : {}) });
  const existing = await aws.rds(o.primary.region).send(new DescribeGlobalClustersCommand({}));
  if (!(existing.GlobalClusters ?? []).some((g) => g.GlobalClusterIdentifier === o.globalCluster.toLowerCase())) {
    await aws.rds(o.primary.region).send(
      new CreateGlobalClusterCommand({
        GlobalClusterIdentifier: o.globalCluster,
        SourceDBClusterIdentifier: primary.DBClusterArn,
      }),
    );
  }
  const secondary = await ensureMember(aws, { ...o.secondary, globalCluster: o.globalCluster });
  const view = (c: DBCluster, region: string) => ({
    region,
    id: c.DBClusterIdentifier!,
    arn: c.DBClusterArn!,
    endpoint: c.Endpoint!,
  });
  return {
    globalCluster: o.globalCluster.toLowerCase(),
    primary: view(primary, o.primary.region),
    secondary: view(secondary, o.secondary.region),
  };
}

/**
 * Recent `AWS/RDS AuroraGlobalDBRPOLag` datapoints (milliseconds) for a secondary cluster: one a minute, the newest 5
 * seconds ago (the emulator excludes a datapoint stamped at the request's own second; see putReplicaLag).
 */
export async function putGlobalLag(
  cw: CloudWatchClient,
  cluster: string,
  ms: number[],
  metric = 'AuroraGlobalDBRPOLag',
): Promise<void> {
  const now = Date.now() - 5_000;
  await cw.send(
    new PutMetricDataCommand({
      Namespace: 'AWS/RDS',
      MetricData: ms.map((value, i) => ({
        MetricName: metric,
        Dimensions: [{ Name: 'DBClusterIdentifier', Value: cluster }],
        Timestamp: new Date(now - (ms.length - 1 - i) * 60_000),
        Value: value,
        Unit: 'Milliseconds',
      })),
    }),
  );
}

/** The identifier of the global database's writer cluster now (DescribeGlobalClusters), or undefined. */
export async function globalWriter(
  aws: AwsClients,
  region: string,
  globalCluster: string,
): Promise<string | undefined> {
  const out = await aws.rds(region).send(new DescribeGlobalClustersCommand({}));
  const g = (out.GlobalClusters ?? []).find((x) => x.GlobalClusterIdentifier === globalCluster.toLowerCase());
  return g?.GlobalClusterMembers?.find((m) => m.IsWriter)
    ?.DBClusterArn?.split(':')
    .pop();
}
