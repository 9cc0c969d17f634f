// The demo environment's part for the auroraFailover runbook (docs/examples/aurora-failover.json): an Aurora
// PostgreSQL cluster `demo-aurora` in us-east-1 with writer demo-aurora-1 and readers demo-aurora-2 (tier 1,
// us-east-1b) and demo-aurora-3 (tier 2, us-east-1c), AuroraReplicaLag datapoints for its members (the replica-lag
// publisher keeps them fresh while the stack runs), and the secret `demo/aurora` whose credentials are the demo
// PostgreSQL's (the cluster endpoint reaches it through RUNBOOKS_DB_ENDPOINT_OVERRIDES). Idempotent: a cluster that
// exists is left as it is (`npm run dev -- reset` empties the emulator first, so the writer is demo-aurora-1 again).
// Tests build their own clusters with ensureAuroraCluster.
import { PutMetricDataCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DescribeDBClustersCommand,
  type DBCluster,
} from '@aws-sdk/client-rds';
import type { AwsClients } from '../../activities/aws-clients';
import { describeDb, ensureSecret } from './fixtures';
import { DEMO_DB } from './postgres';

export const AURORA_DEMO = {
  region: 'us-east-1',
  cluster: 'demo-aurora',
  members: [
    { id: 'demo-aurora-1', tier: 0, az: 'us-east-1a' },
    { id: 'demo-aurora-2', tier: 1, az: 'us-east-1b' },
    { id: 'demo-aurora-3', tier: 2, az: 'us-east-1c' },
  ],
  /** AuroraReplicaLag (ms) the demo shows per member. */
  lagMs: { 'demo-aurora-1': 12, 'demo-aurora-2': 18, 'demo-aurora-3': 45 } as Record<string, number>,
  secret: 'demo/aurora',
} as const;

export interface AuroraMemberSpec {
  id: string;
  tier: number;
  az: string;
}

async function describeCluster(aws: AwsClients, region: string, id: string): Promise<DBCluster | undefined> {
  try {
    return (await aws.rds(region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];
  } catch (err) {
    if ((err as Error).name === 'DBClusterNotFoundFault') return undefined;
    throw err;
  }
}

/**
 * An Aurora PostgreSQL cluster with these members (the first one created is the writer), each instance created only
 * when missing. Returns the cluster as DescribeDBClusters shows it.
 */
export async function ensureAuroraCluster(
  aws: AwsClients,
  region: string,
  cluster: string,
  members: readonly AuroraMemberSpec[],
  opts: { masterPassword?: string } = {},
): Promise<DBCluster> {
  const rds = aws.rds(region);
  if (!(await describeCluster(aws, region, cluster))) {
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: cluster,
        Engine: 'aurora-postgresql',
        EngineVersion: '16.4',
        MasterUsername: DEMO_DB.user,
        MasterUserPassword: opts.masterPassword ?? DEMO_DB.password,
        DatabaseName: DEMO_DB.database,
        Port: 5432,
      }),
    );
  }
  for (const m of members) {
    if (await describeDb(aws, region, m.id)) continue;
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: m.id,
        DBClusterIdentifier: cluster,
        Engine: 'aurora-postgresql',
        DBInstanceClass: 'db.r6g.large',
        PromotionTier: m.tier,
        AvailabilityZone: m.az,
      }),
    );
  }
  return (await describeCluster(aws, region, cluster))!;
}

/** `AWS/RDS AuroraReplicaLag` datapoints (milliseconds) for an instance, the newest now. */
export async function putAuroraReplicaLag(cw: CloudWatchClient, instance: string, ms: number[]): Promise<void> {
  const now = Date.now() - 5_000;
  await cw.send(
    new PutMetricDataCommand({
      Namespace: 'AWS/RDS',
      MetricData: ms.map((value, i) => ({
        MetricName: 'AuroraReplicaLag',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: instance }],
        Timestamp: new Date(now - (ms.length - 1 - i) * 60_000),
        Value: value,
        Unit: 'Milliseconds',
      })),
    }),
  );
}

/** Seeds the demo cluster, its lag and its secret; returns what the banner and demo-env.json show. */
export async function seedAuroraDemo(aws: AwsClients) {
  const { region, cluster, members } = AURORA_DEMO;
  const c = await ensureAuroraCluster(aws, region, cluster, members);
  for (const m of members) {
    const lag = AURORA_DEMO.lagMs[m.id] ?? 20;
    await putAuroraReplicaLag(aws.cloudwatch(region), m.id, [lag + 4, lag - 2, lag]);
  }
  await ensureSecret(aws, region, AURORA_DEMO.secret, {
    engine: 'postgres',
    host: c.Endpoint ?? '',
    port: c.Port ?? 5432,
    username: DEMO_DB.user,
    password: DEMO_DB.password,
    dbname: DEMO_DB.database,
  });
  return {
    region,
    cluster,
    endpoint: c.Endpoint ?? '',
    writer: c.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier ?? '',
    members: members.map((m) => m.id),
    secret: AURORA_DEMO.secret,
  };
}
