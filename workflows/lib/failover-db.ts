// regionalFailover's database side: what differs between failing over a DB instance to its cross-region read replica
// and moving an Aurora global database's writer (workflows/lib/global-failover.ts). The runbook's body
// (workflows/regionalFailover.ts) does the rest once for both: secondary service, DNS, approval, pause writes,
// repoint, scale, verify, switch DNS, verify, RTO, incident, watch, result. A side reads, checks, plans, locks and
// moves its database; the body calls it in the order the committed histories recorded.
import { parseDuration } from '../../api/duration';
import {
  instanceFailover,
  type RegionalFailoverParams,
  type RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { GlobalFailoverRecord } from '../../api/runbooks/regional-failover-global';
import type { PlannedAction } from '../../api/status';
import { enforceRpo, refuseStaleReplica } from './db-steps';
import { errorMessage, fail, isClientError } from './errors';
import { lockable, type ResourceRef } from './lock';
import { must } from './must';
import type { Progress } from './operator';
import { aws, probes, waits } from './proxies';
import type { RunbookContext } from './runbook';

export type FailoverContext = RunbookContext<RegionalFailoverParams, undefined, RegionalFailoverResult>;

/** A failover's database, before anything is read: the words the shared steps use for it. */
export interface FailoverDb {
  names: {
    preflight: string;
    safety: string;
    /** The endpoint the app is repointed at, e.g. "the promoted endpoint". */
    endpoint: string;
    /** The point of no return, e.g. "the promotion". */
    move: string;
    /** The checklist item of the move. */
    checklist: string;
    /** The repoint step's name for each app config mode. */
    repoint: { taskDefinition: string; secret: string };
    /** What the post-switch watch follows, e.g. "the failover". */
    watch: string;
  };
  /**
   * The preflight's database reads (read only). `primaryService` reads the primary region's service: it is called
   * between the database's reads, where the runbook has always read it.
   */
  read<T>(primaryService: () => Promise<T>): Promise<{ db: FailoverDbRead; primaryService: T }>;
}

/** The database as the preflight found it: its checks, plan, locks and move. */
export interface FailoverDbRead {
  /** The preflight step's details about the database. */
  details(): Record<string, unknown>;
  /** The safety checks past the secondary service's: throws the refusal; returns the step's details. */
  check(): Record<string, unknown>;
  /** The replica lag (seconds) the preflight read: the result's replicaLagSeconds. */
  lagSeconds: number | undefined;
  /** The endpoint the app will be repointed at, as far as known before the move (the plan shows it). */
  endpoint(): string;
  plan(): { preflight: Record<string, unknown>; move: PlannedAction };
  /** The database resources the run changes (locked before the shared ones). */
  locks(): ResourceRef[];
  /** The approval summary's database part. */
  approval(): string;
  /** Measure the lag, refuse a stale secondary, move (the point of no return), wait for the new writer. */
  move(run: { did: (detail: string) => void; progress: () => Progress }): Promise<FailoverDbMoved>;
}

/** What the move did: the new writer endpoint and the incident's and result's database parts. */
export interface FailoverDbMoved {
  endpoint: string;
  dataLossEstimateSeconds: number | undefined;
  incident: {
    title: string;
    /** Impact lines before the RTO. */
    before: [string, string][];
    dataLoss: string;
    /** The resolution's first sentence part, up to the app config's. */
    resolution: string;
  };
  primary: { region: string; dbInstance: string; dbStatus: string; endpoint?: string };
  secondary: { region: string; dbInstance: string };
  database?: GlobalFailoverRecord;
}

/** The stale-lag rule of a failover: the limit and what to add to go on anyway. */
export const rpoOf =
  (p: RegionalFailoverParams, subject: string) => (lagSeconds: number | undefined, noDatapoint: string) => ({
    lagSeconds,
    limitSeconds: p.maxReplicaLagSeconds,
    subject,
    noDatapoint,
  });

/** A DB instance failing over to its cross-region read replica, which is promoted. */
export function instanceFailoverDb(ctx: FailoverContext): FailoverDb {
  const p = instanceFailover(ctx.params);
  const primaryDb = { region: p.primary.region, dbInstance: p.primary.dbInstance };
  const replicaDb = { region: p.secondary.region, dbInstance: p.secondary.dbInstance };
  const rpo = rpoOf(p, 'replica lag');
  return {
    names: {
      preflight: 'Preflight: primary, replica, replica lag, secondary service, DNS',
      safety: 'Safety checks: replica, RPO, primary health',
      endpoint: 'the promoted endpoint',
      move: 'the promotion',
      checklist: 'promote the replica',
      repoint: {
        taskDefinition: 'Repoint the app: register a task definition with the promoted endpoint',
        secret: 'Repoint the app: write the promoted endpoint into the DB secret',
      },
      watch: 'the failover',
    },
    async read(primaryService) {
      // The primary's region may be down: that is reported, not fatal.
      let primary: { status: string; endpoint?: string; arn?: string; error?: string };
      try {
        const db = await probes.findDbInstance(primaryDb);
        primary = db
          ? { status: db.status, arn: db.arn, ...(db.endpoint ? { endpoint: db.endpoint } : {}) }
          : { status: 'not-found' };
      } catch (err) {
        // A region that does not answer is what a failover is for; a refused call (permissions, bad input) is not.
        if (isClientError(err)) throw err;
        primary = { status: 'unreachable', error: errorMessage(err) };
      }
      const primaryEcs = await primaryService();
      const replica = await aws.describeDbInstance(replicaDb);
      const lag = await aws.getReplicaLag(replicaDb);
      const db: FailoverDbRead = {
        details: () => ({
          primaryStatus: primary.status,
          ...(primary.error ? { primaryError: primary.error } : {}),
          replicaStatus: replica.status,
          replicaSource: replica.replicaSource ?? '(none: not a replica)',
          replicaLagSeconds: lag.seconds ?? '(no datapoint)',
          replicaLagAt: lag.at,
        }),
        check() {
          const r = replica;
          if (!r.replicaSource) {
            throw fail(
              'PreconditionFailed',
              `${r.id} is not a read replica (already promoted?); nothing to fail over to`,
            );
          }
          const source = r.replicaSource;
          if (
            source !== p.primary.dbInstance &&
            source.split(':').pop() !== p.primary.dbInstance &&
            source !== primary.arn
          ) {
            throw fail('PreconditionFailed', `${r.id} is a replica of ${source}, not of ${p.primary.dbInstance}`);
          }
          if (r.status !== 'available')
            throw fail('PreconditionFailed', `replica ${r.id} is ${r.status}, not available`);
          if (!r.endpoint) throw fail('PreconditionFailed', `replica ${r.id} has no endpoint yet`);
          enforceRpo(ctx, {
            ...rpo(lag.seconds, `for ${r.id} in the last ${lag.lookbackMinutes} minutes`),
            acceptDataLoss: p.acceptDataLoss,
            refusing: 'refusing to fail over',
            then: 'To proceed anyway, add "acceptDataLoss": {"reason": "…"}',
          });
          if (primary.status === 'available') {
            if (!p.plannedSwitchover) {
              throw fail(
                'PrimaryHealthy',
                `refusing to fail over: the primary ${p.primary.dbInstance} is available. For a drill or planned move, add ` +
                  `"plannedSwitchover": {"reason": "…"}`,
              );
            }
            ctx.warn(`planned switchover of a healthy primary (${p.plannedSwitchover.reason})`);
          }
          return { lagSeconds: lag.seconds, primaryStatus: primary.status };
        },
        lagSeconds: lag.seconds,
        endpoint: () => must(replica.endpoint, "the replica's endpoint"),
        plan: () => ({
          preflight: { primaryStatus: primary.status, replicaLagSeconds: lag.seconds },
          move: {
            step: '4. Promote the replica (point of no return)',
            action: 'rds:PromoteReadReplica',
            params: { ...replicaDb, backupRetentionDays: p.backupRetentionDays },
          },
        }),
        locks: () => [lockable.dbInstance(replicaDb)],
        approval: () =>
          `fail over ${p.primary.dbInstance} (${p.primary.region}, ${primary.status}) to ${p.secondary.dbInstance} ` +
          `(${p.secondary.region}); replica lag ${lag.seconds ?? 'unknown'}s (limit ${p.maxReplicaLagSeconds}s)`,
        async move({ did, progress }) {
          // The lag read just before is the run's data-loss estimate.
          const lagBefore = await ctx.step('Measure replica lag before promotion', () => aws.getReplicaLag(replicaDb), {
            details: (l) => ({ replicaLagSeconds: l.seconds ?? '(no datapoint)', at: l.at }),
          });
          const dataLossEstimateSeconds = lagBefore.seconds ?? lag.seconds;
          // The approval may have taken a while: the RPO must still hold now (before the point of no return, a
          // refusal here undoes the paused writes).
          await refuseStaleReplica(ctx, {
            ...rpo(lagBefore.seconds, `for ${p.secondary.dbInstance} in the last ${lagBefore.lookbackMinutes} minutes`),
            acceptDataLoss: p.acceptDataLoss,
            then: 'To proceed anyway, start again with "acceptDataLoss": {"reason": "…"}',
          });
          await ctx.change(
            'Promote the replica',
            () => aws.promoteReadReplica({ ...replicaDb, backupRetentionDays: p.backupRetentionDays }),
            { params: { backupRetentionDays: p.backupRetentionDays, dataLossEstimateSeconds } },
          );
          ctx.pointOfNoReturn(`promotion of ${p.secondary.dbInstance} requested; from here nothing is undone silently`);
          did(`${p.secondary.dbInstance} promotion requested`);
          const promoted = await ctx.critical(
            'Wait until the promoted DB is available as a standalone instance',
            () =>
              waits.waitForDbStandalone({
                ...replicaDb,
                timeoutMs: parseDuration(p.promoteTimeout),
                label: 'promoted replica',
              }),
            progress,
            { details: (d) => ({ status: d.status, endpoint: d.endpoint, waitedMs: d.waitedMs }) },
          );
          const endpoint = promoted.endpoint ?? db.endpoint();
          did(`${p.secondary.dbInstance} is standalone at ${endpoint}`);
          return {
            endpoint,
            dataLossEstimateSeconds,
            incident: {
              title: `regional failover of ${p.primary.dbInstance}`,
              before: [],
              dataLoss:
                dataLossEstimateSeconds === undefined
                  ? 'unknown (no replica lag datapoint)'
                  : `up to ${dataLossEstimateSeconds}s of writes (replica lag just before promotion)`,
              resolution: `Promoted ${p.secondary.dbInstance} in ${p.secondary.region} (endpoint ${endpoint}); `,
            },
            primary: {
              ...primaryDb,
              dbStatus: primary.status,
              ...(primary.endpoint ? { endpoint: primary.endpoint } : {}),
            },
            secondary: replicaDb,
          };
        },
      };
      return { db, primaryService: primaryEcs };
    },
  };
}
