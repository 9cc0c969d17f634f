// regionalFailback's database side: what differs between failing back a DB instance failover (a new cross-region
// read replica of the promoted DB in the original region, promoted in turn) and an Aurora global database failover
// (a switchover back to the original cluster, workflows/lib/global-failback.ts). The runbook's body
// (workflows/regionalFailback.ts) does the rest once for both: services, DNS, plan, locks, approval, pause writes,
// repoint, restore the original service, verify, restore DNS, verify, put the secondary back, report.
import { patched } from '@temporalio/workflow';
import { compactUtc, parseDuration } from '../../api/duration';
import type {
  RegionalFailbackParams,
  RegionalFailbackResult,
  RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import type { PlannedAction } from '../../api/status';
import { enforceRpo, refuseStaleReplica } from './db-steps';
import { errorMessage, fail, isClientError } from './errors';
import { lockable, type ResourceRef } from './lock';
import type { Progress } from './operator';
import { aws, probes, waits } from './proxies';
import type { RunbookContext } from './runbook';

export type FailbackContext = RunbookContext<RegionalFailbackParams, undefined, RegionalFailbackResult>;

/** A failback's database, before anything is read: where it goes back to and the words the shared steps use. */
export interface FailbackDb {
  /** The original region (the app, DNS and services go back there) and the secondary's. */
  regions: { original: string; secondary: string };
  names: {
    preflight: string;
    /** The endpoint the original region's app is repointed at, e.g. "the new endpoint". */
    endpoint: string;
    /** The point of no return, e.g. "the promotion". */
    move: string;
    /** The checklist item of the move. */
    checklist: string;
    /** The repoint step's name for each app config mode. */
    repoint: { taskDefinition: string; secret: string };
  };
  /** The preflight's database reads and refusals (read only), before the services and DNS. */
  read(): Promise<FailbackDbRead>;
}

/** The database as the preflight found it. */
export interface FailbackDbRead {
  details(): Record<string, unknown>;
  /**
   * Plan items before the approval and the move (the point of no return), their steps not yet numbered (the body
   * numbers the plan); the endpoint the repoint step shows.
   */
  plan(): { before: PlannedAction[]; move: PlannedAction; endpoint: string };
  /** The database resources the run changes (locked before the shared ones). */
  locks(): ResourceRef[];
  /** What has to be done before the approval (e.g. create the replica and check its lag). */
  prepare(): Promise<FailbackDbPrepared>;
}

export interface FailbackDbPrepared {
  /** The approval summary's database part, up to "restore …". */
  approval: string;
  /** Done before the approval, for the checklist's "done" list. */
  notes: string[];
  /** Move the writer back (the point of no return) and wait for it. */
  move(run: { did: (detail: string) => void; progress: () => Progress }): Promise<FailbackDbMoved>;
}

export interface FailbackDbMoved {
  endpoint: string;
  /** Warnings once the services are back, about the databases left behind. */
  warnings: string[];
  incident: { impact: [string, string][]; resolution: string; tail?: string };
  newPrimary: RegionalFailbackResult['newPrimary'];
  lagSeconds: number | undefined;
}

/**
 * The new replica's default id: `<original primary>-fb-<yyyymmddhhmmss>`, the primary's id cut (and any hyphen the
 * cut leaves trimmed) so it fits RDS's 63 characters. To the second, so a failback started again right after a
 * rejection (which deleted the first replica) does not reuse its name — nor its ReplicaLag datapoints.
 */
export function failbackReplicaId(primary: string, at: Date): string {
  const suffix = `-fb-${compactUtc(at, 'second')}`;
  return `${primary.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** A DB instance failover goes back by a new read replica of the promoted DB in the original region, promoted. */
export function instanceFailbackDb(ctx: FailbackContext, fo: RegionalFailoverResult): FailbackDb {
  const p = ctx.params;
  const original = { region: fo.primary.region };
  const promotedDb = { region: fo.secondary.region, dbInstance: fo.secondary.dbInstance };
  // Runs started before the id had seconds keep the id (to the minute) they created their replica under.
  const minute = compactUtc(new Date(), 'minute');
  const defaultId = patched('failback-replica-id-seconds')
    ? failbackReplicaId(fo.primary.dbInstance, new Date())
    : `${fo.primary.dbInstance.slice(0, 63 - `-fb-${minute}`.length)}-fb-${minute}`;
  const newReplica = { region: original.region, dbInstance: p.newReplicaId ?? defaultId };
  return {
    regions: { original: original.region, secondary: fo.secondary.region },
    names: {
      preflight: 'Preflight: promoted DB, original region, services, DNS',
      endpoint: 'the new endpoint',
      move: 'the promotion',
      checklist: 'promote the new replica',
      repoint: {
        taskDefinition: 'Repoint the app: register the recorded revision with the new endpoint',
        secret: 'Repoint the app: write the new endpoint into the DB secret',
      },
    },
    async read() {
      const promoted = await aws.describeDbInstance(promotedDb);
      if (promoted.status !== 'available' || promoted.replicaSource) {
        throw fail(
          'PreconditionFailed',
          `${promoted.id} is ${promoted.status}${promoted.replicaSource ? ` and still a replica of ${promoted.replicaSource}` : ''}; it must be an available standalone DB`,
        );
      }
      let originalDb: string;
      try {
        const db = await probes.findDbInstance({ region: original.region, dbInstance: fo.primary.dbInstance });
        originalDb = db ? db.status : 'not-found';
      } catch (err) {
        if (isClientError(err)) throw err;
        throw fail(
          'PreconditionFailed',
          `the original region ${original.region} does not answer (${errorMessage(err)}); fail back once it does`,
        );
      }
      return {
        details: () => ({
          promoted: `${promoted.id} ${promoted.status} at ${promoted.endpoint}`,
          originalPrimary: `${fo.primary.dbInstance}: ${originalDb}`,
        }),
        plan: () => ({
          before: [
            {
              step: 'Create a read replica in the original region',
              action: 'rds:CreateDBInstanceReadReplica',
              params: { ...newReplica, source: promoted.arn },
            },
          ],
          move: {
            step: 'Promote the new replica (point of no return)',
            action: 'rds:PromoteReadReplica',
            params: newReplica,
          },
          endpoint: '(new replica endpoint)',
        }),
        locks: () => [lockable.dbInstance(promotedDb), lockable.dbInstance(newReplica)],
        async prepare() {
          // Create the replica in the original region and wait for it; compensated (deleted) until the point of no
          // return.
          const requestedAt = Date.now();
          const createdReplica = await ctx.change(
            'Create a read replica of the promoted DB in the original region',
            () =>
              aws.createReadReplica({
                ...newReplica,
                sourceArn: promoted.arn,
                ...(p.replicaInstanceClass ? { instanceClass: p.replicaInstanceClass } : {}),
                ...(p.replicaKmsKeyId ? { kmsKeyId: p.replicaKmsKeyId } : {}),
                ...(p.replicaSubnetGroup ? { subnetGroup: p.replicaSubnetGroup } : {}),
                ...(p.replicaSecurityGroupIds ? { securityGroupIds: p.replicaSecurityGroupIds } : {}),
              }),
            {
              params: { ...newReplica, source: promoted.id },
              details: (r) => ({ created: r.created }),
              // Only what this run created is deleted: an existing replica named in the input is left alone.
              undo: (r) =>
                r.created
                  ? {
                      name: `delete the new replica ${newReplica.dbInstance}`,
                      run: () => aws.deleteDbInstance(newReplica),
                    }
                  : undefined,
            },
          );
          const replica = await ctx.step('Wait until the new replica is available', () =>
            waits.waitForDbAvailable({
              ...newReplica,
              timeoutMs: parseDuration(p.replicaTimeout),
              label: 'new replica',
            }),
          );
          // ReplicaLag is keyed by the instance's name: datapoints from before this replica existed (a deleted one
          // of the same name, e.g. a rejected failback's) are not its lag. Lower bounds on when it came to exist:
          // RDS's creation time, and — when this run created it (or RDS does not say) — the moment the run asked.
          const bounds = [
            ...(replica.createdAt ? [Date.parse(replica.createdAt)] : []),
            ...(createdReplica.created || !replica.createdAt ? [requestedAt] : []),
          ];
          const replicaSince = new Date(Math.max(...bounds)).toISOString();
          const lag = await ctx.step(
            'Measure the new replica lag',
            () =>
              waits.waitForReplicaLag({
                ...newReplica,
                timeoutMs: parseDuration(p.replicaTimeout),
                since: replicaSince,
              }),
            { details: (l) => ({ replicaLagSeconds: l.seconds, at: l.at }) },
          );
          const rpo = (lagSeconds: number | undefined) => ({
            lagSeconds,
            limitSeconds: p.maxReplicaLagSeconds,
            subject: "the new replica's lag",
            noDatapoint: `for ${newReplica.dbInstance} since it was created (${replicaSince})`,
            acceptDataLoss: p.acceptDataLoss,
          });
          await ctx.step('Safety check: RPO', async () =>
            enforceRpo(ctx, {
              ...rpo(lag.seconds),
              refusing: 'refusing to fail back',
              then: 'Start the failback again once replication can keep up, or add "acceptDataLoss": {"reason": "…"}',
            }),
          );
          return {
            approval: `fail back to ${original.region}: promote ${newReplica.dbInstance} (lag ${lag.seconds}s), restore `,
            notes: [`created replica ${newReplica.dbInstance} in ${original.region}`],
            async move({ did, progress }) {
              const lagBefore = await ctx.step(
                'Measure replica lag before promotion',
                () => aws.getReplicaLag({ ...newReplica, since: replicaSince }),
                { details: (l) => ({ replicaLagSeconds: l.seconds ?? '(no datapoint)', at: l.at }) },
              );
              await refuseStaleReplica(ctx, {
                ...rpo(lagBefore.seconds),
                then: 'Start again once it has caught up, or with "acceptDataLoss": {"reason": "…"}',
              });
              await ctx.change('Promote the new replica', () =>
                aws.promoteReadReplica({ ...newReplica, backupRetentionDays: p.backupRetentionDays }),
              );
              ctx.pointOfNoReturn(
                `promotion of ${newReplica.dbInstance} requested; from here nothing is undone silently`,
              );
              did('requested');
              const promotedNew = await ctx.critical(
                'Wait until the new primary is available as a standalone instance',
                () =>
                  waits.waitForDbStandalone({
                    ...newReplica,
                    timeoutMs: parseDuration(p.promoteTimeout),
                    label: 'promoted new replica',
                  }),
                progress,
                { details: (d) => ({ endpoint: d.endpoint }) },
              );
              const endpoint = promotedNew.endpoint ?? replica.endpoint ?? '';
              did(`${newReplica.dbInstance} is standalone at ${endpoint}`);
              return {
                endpoint,
                warnings: [
                  `${fo.secondary.dbInstance} in ${fo.secondary.region} is a standalone DB that no longer receives writes; delete it or ` +
                    `replace it with a new cross-region replica of ${newReplica.dbInstance} to restore the DR posture.`,
                  `the old primary ${fo.primary.dbInstance} in ${original.region} (${originalDb}) is stale since the failover; ` +
                    `nothing points to it any more after this run — retire it once you no longer need it.`,
                ],
                incident: {
                  impact: [
                    [
                      'Replica lag before promotion',
                      lagBefore.seconds === undefined ? 'unknown' : `${lagBefore.seconds}s`,
                    ],
                  ],
                  resolution: `Promoted ${newReplica.dbInstance} in ${original.region} (endpoint ${endpoint}); `,
                },
                newPrimary: { ...newReplica, endpoint },
                lagSeconds: lag.seconds,
              };
            },
          };
        },
      };
    },
  };
}
