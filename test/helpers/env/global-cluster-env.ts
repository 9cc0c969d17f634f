// A uniquely named Aurora Global Database environment for one regionalFailover test: the two-region app, DNS and
// secrets of failover-env.ts, plus a global database whose writer is a cluster in PRIMARY_REGION and whose secondary
// cluster is in SECONDARY_REGION (with recent AuroraGlobalDBRPOLag datapoints). `globalState()` reads the global
// cluster back (which member is the writer), for the assertions.
import { DescribeGlobalClustersCommand, StopDBClusterCommand } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../../activities/aws-clients';
import type { RegionalFailoverInput } from '../../../api/runbooks/regional-failover';
import { ensureGlobalDatabase, putGlobalLag, type GlobalDatabase } from '../../../scripts/lib/global-cluster';
import { PRIMARY_REGION, SECONDARY_REGION, makeFailoverEnv, type FailoverEnv } from './failover-env';

export interface GlobalEnv extends FailoverEnv {
  db: GlobalDatabase;
  /** A valid global failover input (switchover unless `mode` says otherwise; no approval), with overrides. */
  globalInput(mode?: 'switchover' | 'failover', overrides?: Partial<RegionalFailoverInput>): RegionalFailoverInput;
  /** Which member is the writer now, and the global cluster's status (DescribeGlobalClusters). */
  globalState(): Promise<{ status?: string; writer?: string; members: string[] }>;
}

export async function makeGlobalClusterEnv(
  aws: AwsClients,
  opts: {
    /** AuroraGlobalDBRPOLag datapoints (ms, one a minute, newest last); null puts none. Default [120, 150, 180]. */
    lagMs?: number[] | null;
    /** Stop the primary cluster (DescribeDBClusters: `stopped`): a primary that is not healthy. */
    primaryStopped?: boolean;
    onFinished?: (cleanup: () => Promise<void>) => void;
  } = {},
): Promise<GlobalEnv> {
  const env = await makeFailoverEnv(aws, { lag: null, ...(opts.onFinished ? { onFinished: opts.onFinished } : {}) });
  const db = await ensureGlobalDatabase(aws, {
    globalCluster: `${env.id}-global`,
    primary: { region: PRIMARY_REGION, cluster: `${env.id}-gp` },
    secondary: { region: SECONDARY_REGION, cluster: `${env.id}-gs` },
  });
  const lag = opts.lagMs === undefined ? [120, 150, 180] : opts.lagMs;
  if (lag) await putGlobalLag(aws.cloudwatch(SECONDARY_REGION), db.secondary.id, lag);
  if (opts.primaryStopped) {
    await aws.rds(PRIMARY_REGION).send(new StopDBClusterCommand({ DBClusterIdentifier: db.primary.id }));
  }
  return {
    ...env,
    db,
    globalInput: (mode = 'switchover', overrides = {}) => {
      const base = env.input();
      return {
        ...base,
        primary: { region: PRIMARY_REGION, ...(base.primary.ecs ? { ecs: base.primary.ecs } : {}) },
        secondary: { region: SECONDARY_REGION, ecs: base.secondary.ecs },
        database: { kind: 'aurora-global', globalCluster: db.globalCluster, targetCluster: db.secondary.arn, mode },
        ...overrides,
      };
    },
    globalState: async () => {
      const out = await aws.rds(SECONDARY_REGION).send(new DescribeGlobalClustersCommand({}));
      const g = (out.GlobalClusters ?? []).find((x) => x.GlobalClusterIdentifier === db.globalCluster);
      const writer = g?.GlobalClusterMembers?.find((m) => m.IsWriter)
        ?.DBClusterArn?.split(':')
        .pop();
      return {
        ...(g?.Status ? { status: g.Status } : {}),
        ...(writer ? { writer } : {}),
        members: (g?.GlobalClusterMembers ?? []).map((m) => m.DBClusterArn?.split(':').pop() ?? ''),
      };
    },
  };
}
