// Aurora clusters for the auroraFailover tests and the chaos driver: uniquely named, writer `<id>-1` (tier 0,
// us-east-1a) and readers `<id>-2…` with the tiers, zones and AuroraReplicaLag asked for; the writer read back through
// the SDK.
import { DescribeDBClustersCommand } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../../activities/aws-clients';
import { ensureAuroraCluster, putAuroraReplicaLag } from '../../../scripts/lib/demo-aurora';
import { uid } from '../temporal';

export interface TestAuroraCluster {
  region: string;
  id: string;
  /** Writer first, then the readers in the order asked for. */
  members: string[];
}

export async function makeAuroraCluster(
  aws: AwsClients,
  region: string,
  readers: { tier: number; az: string; lagMs?: number }[],
): Promise<TestAuroraCluster> {
  const id = uid('aurora');
  const members = [
    { id: `${id}-1`, tier: 0, az: `${region}a` },
    ...readers.map((r, i) => ({ id: `${id}-${i + 2}`, tier: r.tier, az: r.az })),
  ];
  await ensureAuroraCluster(aws, region, id, members);
  for (const [i, r] of readers.entries()) {
    if (r.lagMs !== undefined) await putAuroraReplicaLag(aws.cloudwatch(region), `${id}-${i + 2}`, [r.lagMs]);
  }
  return { region, id, members: members.map((m) => m.id) };
}

/** The cluster's writer as AWS shows it. */
export async function writerOf(aws: AwsClients, c: { region: string; id: string }): Promise<string | undefined> {
  const out = await aws.rds(c.region).send(new DescribeDBClustersCommand({ DBClusterIdentifier: c.id }));
  return out.DBClusters?.[0]?.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
}
