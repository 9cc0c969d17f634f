// regionalFailover's Aurora Global Database alternative (issue 14, seeds 000/001 at scale): the `database` input that
// names a global cluster and the secondary cluster to make its writer, what the run reads and records about it, and
// the pure decisions on that reading — which member is the writer, whether the move is finished, whether the global
// cluster may be moved at all, the RPO lag in the run's seconds.
import { z } from 'zod';

/** `arn:aws:rds:<region>:<account>:cluster:<id>` → region and id; a plain identifier → its id alone. */
export function parseClusterRef(ref: string): { region?: string; id: string } {
  const m = /^arn:[^:]+:rds:([^:]*):[^:]*:cluster:(.+)$/.exec(ref);
  if (m) return { region: m[1] ?? '', id: (m[2] ?? '').toLowerCase() };
  return { id: ref.toLowerCase() };
}

/** Whether a cluster reference (identifier or ARN) names the cluster with this ARN. */
export function sameCluster(ref: string, arn: string): boolean {
  if (ref.toLowerCase() === arn.toLowerCase()) return true;
  const a = parseClusterRef(ref);
  const b = parseClusterRef(arn);
  return a.id === b.id && (!a.region || !b.region || a.region === b.region);
}

/** A well-formed DB cluster ARN. */
const CLUSTER_ARN = /^arn:[^:]+:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z][A-Za-z0-9-]*$/;

export const auroraGlobalDatabase = z
  .object({
    kind: z.literal('aurora-global'),
    globalCluster: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z][0-9A-Za-z-]*$/, { message: 'expected an Aurora global database identifier' })
      .describe('The Aurora global database (global cluster) identifier'),
    targetCluster: z
      .string()
      .min(1)
      .max(255)
      .refine((s) => CLUSTER_ARN.test(s) || /^[A-Za-z][A-Za-z0-9-]*$/.test(s), {
        message: 'expected a DB cluster identifier or ARN (arn:aws:rds:<region>:<account>:cluster:<id>)',
      })
      .describe('The secondary cluster (in secondary.region) to make the writer: identifier or ARN'),
    mode: z
      .enum(['switchover', 'failover'], {
        error:
          'expected "switchover" (planned, no data loss, the primary healthy) or "failover" (the primary region down)',
      })
      .describe(
        'switchover: SwitchoverGlobalCluster, planned, no data loss, needs a healthy primary; failover: ' +
          'FailoverGlobalCluster with AllowDataLoss, for a primary region that is down (RPO gate applies)',
      ),
  })
  .strict();
export type AuroraGlobalDatabase = z.output<typeof auroraGlobalDatabase>;

/** The alternatives of `database` (one so far: Aurora Global Database). */
export const failoverDatabase = z.discriminatedUnion('kind', [auroraGlobalDatabase], {
  error: 'expected {"kind": "aurora-global", "globalCluster": "…", "targetCluster": "…", "mode": "switchover"}',
});

/**
 * The rules on the instance fields and `database` together: without `database`, both DB instances are required;
 * with it, neither is given (the global cluster names the databases), and the target cluster is in secondary.region.
 */
export function databaseChecks(
  value: {
    primary: { dbInstance?: string | undefined };
    secondary: { region: string; dbInstance?: string | undefined };
    database?: AuroraGlobalDatabase | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (!value.database) {
    for (const side of ['primary', 'secondary'] as const) {
      if (value[side].dbInstance === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [side, 'dbInstance'],
          message: `required (the ${side === 'primary' ? 'primary DB instance' : 'cross-region read replica'}), unless "database" names an Aurora global database`,
        });
      }
    }
    return;
  }
  for (const side of ['primary', 'secondary'] as const) {
    if (value[side].dbInstance !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [side, 'dbInstance'],
        message: 'not with "database": the Aurora global database names the clusters; remove dbInstance',
      });
    }
  }
  const target = value.database.targetCluster;
  const region = CLUSTER_ARN.test(target) ? parseClusterRef(target).region : undefined;
  if (region && region !== value.secondary.region) {
    ctx.addIssue({
      code: 'custom',
      path: ['database', 'targetCluster'],
      message: `is in ${region}, but secondary.region is ${value.secondary.region}: the target cluster must be in the secondary region`,
    });
  }
}

/** One member of a global cluster as DescribeGlobalClusters lists it. */
export interface GlobalMember {
  arn: string;
  id: string;
  region: string;
  isWriter: boolean;
}

/** A global cluster as the run reads it (DescribeGlobalClusters). */
export interface GlobalClusterView {
  id: string;
  arn?: string;
  status: string;
  engine?: string;
  members: GlobalMember[];
  /** A switchover or failover under way: FailoverState. */
  failoverState?: { status: string; from?: string; to?: string; dataLossAllowed?: boolean };
}

/** A member cluster as the run reads it in its own region (DescribeDBClusters). */
export interface MemberClusterView {
  id: string;
  arn: string;
  region: string;
  status: string;
  endpoint?: string;
  readerEndpoint?: string;
  port?: number;
  /** Its instances: id, status, whether it is the cluster's writer instance. */
  instances: { id: string; status: string; writer: boolean }[];
}

/** The global database's RPO lag as CloudWatch last reported it for the secondary cluster. */
export interface GlobalLag {
  /** AuroraGlobalDBRPOLag (Aurora PostgreSQL) or AuroraGlobalDBReplicationLag (MySQL and PostgreSQL). */
  metric?: string;
  ms?: number;
  at?: string;
  lookbackMinutes: number;
}

/** The lag in the run's unit (maxReplicaLagSeconds): seconds, to the millisecond. */
export const lagSeconds = (lag: GlobalLag): number | undefined =>
  lag.ms === undefined ? undefined : Math.round(lag.ms) / 1000;

export const writerOf = (g: GlobalClusterView): GlobalMember | undefined => g.members.find((m) => m.isWriter);

/** The member the reference names, if it is a member. */
export const memberNamed = (g: GlobalClusterView, ref: string): GlobalMember | undefined =>
  g.members.find((m) => sameCluster(ref, m.arn));

/** FailoverState values that mean a switchover or failover is still under way. */
const MOVING = new Set(['pending', 'failing-over', 'switching-over', 'cancelling']);

/**
 * Whether the move asked for is over: the target is the global cluster's writer, no FailoverState is under way, and
 * the target cluster is available. Otherwise the phase to show (`failing-over`, `pending`, `writer <id>` …).
 */
export function globalMoveState(
  g: GlobalClusterView,
  targetArn: string,
  target: { status: string } | undefined,
): { done: boolean; phase: string } {
  const writer = writerOf(g);
  const moving = g.failoverState && MOVING.has(g.failoverState.status) ? g.failoverState.status : undefined;
  const isTarget = writer !== undefined && sameCluster(targetArn, writer.arn);
  const done = isTarget && !moving && target?.status === 'available';
  const phase = moving
    ? `${moving} (global ${g.status})`
    : !isTarget
      ? `writer ${writer?.id ?? 'none'} (global ${g.status})`
      : `writer ${writer.id}, cluster ${target?.status ?? 'unknown'}`;
  return { done, phase };
}

/**
 * Why the global cluster cannot be moved to `targetRef` now (undefined: it can): not a member, already the writer,
 * a move already under way, not available.
 */
export function globalRefusal(g: GlobalClusterView, targetRef: string, target: MemberClusterView): string | undefined {
  const member = memberNamed(g, targetRef);
  if (!member) {
    return (
      `${target.id} (${target.region}) is not a member of the global database ${g.id} ` +
      `(members: ${g.members.map((m) => `${m.id} in ${m.region}`).join(', ') || 'none'})`
    );
  }
  if (member.isWriter)
    return `${member.id} is already the writer of the global database ${g.id}; nothing to fail over to`;
  if (g.failoverState && MOVING.has(g.failoverState.status)) {
    return (
      `a ${g.failoverState.status} of the global database ${g.id} is already under way` +
      (g.failoverState.to ? ` (to ${parseClusterRef(g.failoverState.to).id})` : '') +
      '; wait for it to finish'
    );
  }
  if (g.status !== 'available') return `the global database ${g.id} is ${g.status}, not available`;
  if (target.status !== 'available') return `the target cluster ${target.id} is ${target.status}, not available`;
  if (!target.endpoint) return `the target cluster ${target.id} has no writer endpoint`;
  return undefined;
}

/** The primary cluster's health, as the run judges it: available with an available writer instance. */
export function primaryClusterHealth(
  c: MemberClusterView | { status: 'not-found' | 'unreachable'; error?: string } | undefined,
): { healthy: boolean; status: string; why: string } {
  if (!c) return { healthy: false, status: 'unknown', why: 'the global database has no writer cluster' };
  if (!('instances' in c)) {
    return {
      healthy: false,
      status: c.status,
      why:
        c.status === 'not-found' ? 'not found in its region' : `its region does not answer (${c.error ?? 'no answer'})`,
    };
  }
  if (c.status !== 'available') return { healthy: false, status: c.status, why: `the cluster is ${c.status}` };
  const writer = c.instances.find((i) => i.writer);
  if (!writer) return { healthy: false, status: c.status, why: 'the cluster has no writer instance' };
  if (writer.status !== 'available') {
    return { healthy: false, status: c.status, why: `its writer instance ${writer.id} is ${writer.status}` };
  }
  return { healthy: true, status: c.status, why: `available, writer ${writer.id} available` };
}

/** What a global failover recorded (RegionalFailoverResult.database), enough to reverse it by hand or by failback. */
export interface GlobalFailoverRecord {
  kind: 'aurora-global';
  globalCluster: string;
  mode: 'switchover' | 'failover';
  /** The writer before the run (the original primary cluster) and after (the target). */
  before: { region: string; cluster: string; arn: string; endpoint?: string; status: string };
  after: { region: string; cluster: string; arn: string; endpoint: string };
  /** The RPO lag read just before the point of no return. */
  lagMetric?: string;
}
