// Aurora Global Database activities for regionalFailover's `database: {kind: "aurora-global"}` path: read the global
// cluster (members, writer, FailoverState), a member cluster in its own region (status, writer endpoint, instances),
// the global RPO lag from CloudWatch; SwitchoverGlobalCluster / FailoverGlobalCluster (AllowDataLoss), and the wait
// until the target is the writer, FailoverState is cleared and the target cluster is available. Global-cluster calls
// go to the secondary region: the primary's may be down, and the global cluster answers from any of its regions.
import { newestRdsMaximum } from './cloudwatch';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  SwitchoverGlobalClusterCommand,
  type GlobalCluster,
} from '@aws-sdk/client-rds';
import {
  globalMoveState,
  parseClusterRef,
  sameCluster,
  writerOf,
  type GlobalClusterView,
  type GlobalLag,
  type MemberClusterView,
} from '../api/runbooks/regional-failover-global';
import type { AwsClients } from './aws-clients';
import { NotStable, ResourceNotFound } from './errors';
import { abortSignal, pollUntil, resumeWait } from './poll';

/** How far back the global lag is read (Aurora publishes it every minute). */
const LAG_LOOKBACK_MINUTES = 10;

/** The RPO lag metrics, in the order they are read: RPO lag (Aurora PostgreSQL), then replication lag (both engines). */
export const GLOBAL_LAG_METRICS = ['AuroraGlobalDBRPOLag', 'AuroraGlobalDBReplicationLag'] as const;

/** DescribeGlobalClusters' answer as the run reads it. */
export function globalView(g: GlobalCluster, fallbackId: string): GlobalClusterView {
  const fs = g.FailoverState;
  return {
    id: g.GlobalClusterIdentifier ?? fallbackId,
    ...(g.GlobalClusterArn ? { arn: g.GlobalClusterArn } : {}),
    status: g.Status ?? 'unknown',
    ...(g.Engine ? { engine: g.Engine } : {}),
    members: (g.GlobalClusterMembers ?? []).map((m) => {
      const arn = m.DBClusterArn ?? '';
      const ref = parseClusterRef(arn);
      return { arn, id: ref.id, region: ref.region ?? '', isWriter: m.IsWriter === true };
    }),
    ...(fs?.Status
      ? {
          failoverState: {
            status: fs.Status,
            ...(fs.FromDbClusterArn ? { from: fs.FromDbClusterArn } : {}),
            ...(fs.ToDbClusterArn ? { to: fs.ToDbClusterArn } : {}),
            ...(fs.IsDataLossAllowed !== undefined ? { dataLossAllowed: fs.IsDataLossAllowed } : {}),
          },
        }
      : {}),
  };
}

export function createAuroraGlobalActivities(aws: AwsClients) {
  async function readGlobal(region: string, globalCluster: string): Promise<GlobalClusterView> {
    try {
      const out = await aws
        .rds(region)
        .send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalCluster }), {
          abortSignal: abortSignal(),
        });
      const found = (out.GlobalClusters ?? []).find(
        (g) => (g.GlobalClusterIdentifier ?? '').toLowerCase() === globalCluster.toLowerCase(),
      );
      if (found) return globalView(found, globalCluster);
    } catch (err) {
      if ((err as Error).name !== 'GlobalClusterNotFoundFault') throw err;
    }
    throw new ResourceNotFound(
      `Aurora global database ${globalCluster} not found (input.database.globalCluster): check the name ` +
        `(aws rds describe-global-clusters --region ${region} --query 'GlobalClusters[].GlobalClusterIdentifier')`,
    );
  }

  async function readMember(region: string, ref: string): Promise<MemberClusterView | undefined> {
    const id = parseClusterRef(ref).id;
    let cluster;
    try {
      const out = await aws
        .rds(region)
        .send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }), { abortSignal: abortSignal() });
      cluster = out.DBClusters?.[0];
    } catch (err) {
      if ((err as Error).name === 'DBClusterNotFoundFault') return undefined;
      throw err;
    }
    if (!cluster) return undefined;
    const instances = new Map<string, string>();
    let marker: string | undefined;
    do {
      const page = await aws.rds(region).send(
        new DescribeDBInstancesCommand({
          Filters: [{ Name: 'db-cluster-id', Values: [cluster.DBClusterIdentifier ?? id] }],
          ...(marker ? { Marker: marker } : {}),
        }),
        { abortSignal: abortSignal() },
      );
      for (const db of page.DBInstances ?? []) {
        if (db.DBInstanceIdentifier) instances.set(db.DBInstanceIdentifier.toLowerCase(), db.DBInstanceStatus ?? '');
      }
      marker = page.Marker;
    } while (marker);
    return {
      id: cluster.DBClusterIdentifier ?? id,
      arn: cluster.DBClusterArn ?? ref,
      region,
      status: cluster.Status ?? 'unknown',
      ...(cluster.Endpoint ? { endpoint: cluster.Endpoint } : {}),
      ...(cluster.ReaderEndpoint ? { readerEndpoint: cluster.ReaderEndpoint } : {}),
      ...(cluster.Port ? { port: cluster.Port } : {}),
      instances: (cluster.DBClusterMembers ?? []).map((m) => {
        const name = m.DBInstanceIdentifier ?? '';
        return { id: name, status: instances.get(name.toLowerCase()) ?? 'unknown', writer: m.IsClusterWriter === true };
      }),
    };
  }

  async function newestLag(
    region: string,
    cluster: string,
    metric: string,
  ): Promise<{ ms: number; at: string } | undefined> {
    const newest = await newestRdsMaximum(aws, {
      region,
      metric,
      dimension: { name: 'DBClusterIdentifier', value: cluster },
      lookbackMinutes: LAG_LOOKBACK_MINUTES,
    });
    return newest && { ms: newest.value, at: newest.at };
  }

  return {
    /** The global cluster: members (which is the writer), status, FailoverState. */
    describeGlobalCluster(input: { region: string; globalCluster: string }): Promise<GlobalClusterView> {
      return readGlobal(input.region, input.globalCluster);
    },

    /** A member cluster in its region: status, writer endpoint, instances. Not found: ResourceNotFound. */
    async describeGlobalMemberCluster(input: { region: string; cluster: string }): Promise<MemberClusterView> {
      const c = await readMember(input.region, input.cluster);
      if (!c) {
        throw new ResourceNotFound(
          `DB cluster ${parseClusterRef(input.cluster).id} not found in ${input.region} (input.database.targetCluster)`,
        );
      }
      return c;
    },

    /** The same, for a region that may be down (a `probes` activity): undefined when the cluster is not there. */
    findGlobalMemberCluster(input: { region: string; cluster: string }): Promise<MemberClusterView | undefined> {
      return readMember(input.region, input.cluster);
    },

    /**
     * The global database's lag for a secondary cluster, read in its region: the newest AuroraGlobalDBRPOLag
     * (Aurora PostgreSQL's RPO lag), else AuroraGlobalDBReplicationLag (both engines); milliseconds.
     */
    async getGlobalDbLag(input: { region: string; cluster: string }): Promise<GlobalLag> {
      const id = parseClusterRef(input.cluster).id;
      for (const metric of GLOBAL_LAG_METRICS) {
        const lag = await newestLag(input.region, id, metric);
        if (lag) return { metric, ms: lag.ms, at: lag.at, lookbackMinutes: LAG_LOOKBACK_MINUTES };
      }
      return { lookbackMinutes: LAG_LOOKBACK_MINUTES };
    },

    /**
     * Make `targetArn` the global writer: SwitchoverGlobalCluster (planned, no data loss) or FailoverGlobalCluster
     * with AllowDataLoss (the primary region is down). Check-then-act: when the target is the writer already, or a
     * move to it is under way (a retry after the call was accepted), nothing is called again.
     */
    async moveGlobalWriter(input: {
      region: string;
      globalCluster: string;
      targetArn: string;
      mode: 'switchover' | 'failover';
    }): Promise<{ requested: boolean; already?: string; failoverState?: string }> {
      const g = await readGlobal(input.region, input.globalCluster);
      const writer = writerOf(g);
      if (writer && sameCluster(input.targetArn, writer.arn) && !g.failoverState) {
        return { requested: false, already: `${writer.id} is the writer already` };
      }
      if (g.failoverState?.to && sameCluster(input.targetArn, g.failoverState.to)) {
        return { requested: false, already: `a ${g.failoverState.status} to it is under way` };
      }
      const target = { GlobalClusterIdentifier: input.globalCluster, TargetDbClusterIdentifier: input.targetArn };
      const rds = aws.rds(input.region);
      const out =
        input.mode === 'switchover'
          ? await rds.send(new SwitchoverGlobalClusterCommand(target), { abortSignal: abortSignal() })
          : await rds.send(new FailoverGlobalClusterCommand({ ...target, AllowDataLoss: true }), {
              abortSignal: abortSignal(),
            });
      const state = out.GlobalCluster?.FailoverState?.Status;
      return { requested: true, ...(state ? { failoverState: state } : {}) };
    },

    /**
     * Wait until the target is the global cluster's writer, no FailoverState is under way, and the target cluster
     * is `available` in its region; returns its writer endpoint. Heartbeats each poll; the phases seen are kept.
     */
    async waitForGlobalWriter(input: {
      region: string;
      globalCluster: string;
      targetArn: string;
      timeoutMs: number;
    }): Promise<{ writer: string; status: string; endpoint: string; waitedMs: number; phases: string }> {
      const { deadline, startedAt } = resumeWait(input.timeoutMs);
      const targetRegion = parseClusterRef(input.targetArn).region || input.region;
      const result = await pollUntil<{ g: GlobalClusterView; target?: MemberClusterView }>(
        async () => {
          const g = await readGlobal(input.region, input.globalCluster);
          const target = await readMember(targetRegion, input.targetArn);
          const state = globalMoveState(g, input.targetArn, target);
          return {
            done: state.done && !!target?.endpoint,
            value: { g, ...(target ? { target } : {}) },
            phase: state.phase,
            progress: { phase: state.phase },
          };
        },
        { deadline, startedAt, region: input.region, initialDelayMs: 2_000, maxDelayMs: 30_000 },
      );
      const { g, target } = result.value;
      if (!result.done || !target?.endpoint) {
        throw new NotStable(
          `the global database ${g.id} did not make ${parseClusterRef(input.targetArn).id} its available writer in ` +
            `time: ${globalMoveState(g, input.targetArn, target).phase} (seen: ${result.phases})`,
        );
      }
      return {
        writer: target.id,
        status: target.status,
        endpoint: target.endpoint,
        waitedMs: Date.now() - startedAt,
        phases: result.phases,
      };
    },
  };
}
