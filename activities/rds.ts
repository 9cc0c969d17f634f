// RDS activities: describe an instance, promote a read replica, create a cross-region replica, delete, and wait.
import {
  CreateDBInstanceReadReplicaCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBInstanceCommand,
  PromoteReadReplicaCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
  type DBSnapshot,
} from '@aws-sdk/client-rds';
import type { AwsClients } from './aws-clients';
import { DbInstanceFailed, NotStable, SnapshotFailed, PreconditionFailed, ResourceNotFound } from './errors';
import { abortSignal, pollUntil, resumeDeadline, resumeWait } from './poll';

export interface DbRef {
  region: string;
  dbInstance: string;
}

export interface DbState {
  id: string;
  arn: string;
  region: string;
  status: string;
  endpoint?: string;
  port?: number;
  engine: string;
  instanceClass: string;
  /** Set while the instance is a read replica: its source (id or ARN). Absent once promoted. */
  replicaSource?: string;
  replicas: string[];
  backupRetentionDays: number;
  subnetGroup?: string;
  securityGroupIds: string[];
  /** Tag `runbook-run`: the workflow that created this instance (makes restores idempotent). */
  createdBy?: string;
  /** When RDS created the instance (AWS reports it once the instance exists, not while it is being created). */
  createdAt?: string;
  latestRestorableTime?: string;
  /** AWS's `StatusInfos` (e.g. read replication `error` with a message), when it reports any. */
  statusInfos?: { type: string; status: string; normal: boolean; message?: string }[];
}

export interface SnapshotState {
  id: string;
  arn: string;
  dbInstance: string;
  type: string;
  status: string;
  createdAt?: string;
}

const toSnapshot = (s: DBSnapshot): SnapshotState => ({
  id: s.DBSnapshotIdentifier ?? '',
  arn: s.DBSnapshotArn ?? '',
  dbInstance: s.DBInstanceIdentifier ?? '',
  type: s.SnapshotType ?? '',
  status: s.Status ?? '',
  ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime.toISOString() } : {}),
});

/** A wait for an instance. */
export interface DbWaitInput extends DbRef {
  timeoutMs: number;
  /** How the run calls the instance in messages ("restored instance", "new replica"); default "RDS instance". */
  label?: string;
  /** How long "not found" is taken for "not visible yet" (default DB_NOT_FOUND_GRACE_MS). */
  notFoundGraceMs?: number;
}

/** Options shared by both kinds of restore. */
export interface RestoreOptions {
  region: string;
  dbInstance: string;
  instanceClass?: string;
  subnetGroup?: string;
  securityGroupIds?: string[];
  /** The run creating it (tagged, so a retry recognises its own instance). */
  runId: string;
}

function toState(region: string, db: DBInstance): DbState {
  return {
    id: db.DBInstanceIdentifier ?? '',
    arn: db.DBInstanceArn ?? '',
    region,
    status: db.DBInstanceStatus ?? 'unknown',
    ...(db.Endpoint?.Address ? { endpoint: db.Endpoint.Address } : {}),
    ...(db.Endpoint?.Port ? { port: db.Endpoint.Port } : {}),
    engine: db.Engine ?? '',
    instanceClass: db.DBInstanceClass ?? '',
    ...(db.ReadReplicaSourceDBInstanceIdentifier ? { replicaSource: db.ReadReplicaSourceDBInstanceIdentifier } : {}),
    replicas: db.ReadReplicaDBInstanceIdentifiers ?? [],
    backupRetentionDays: db.BackupRetentionPeriod ?? 0,
    ...(db.DBSubnetGroup?.DBSubnetGroupName ? { subnetGroup: db.DBSubnetGroup.DBSubnetGroupName } : {}),
    securityGroupIds: (db.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? '').filter(Boolean),
    ...(db.TagList?.find((t) => t.Key === 'runbook-run')?.Value
      ? { createdBy: db.TagList.find((t) => t.Key === 'runbook-run')!.Value! }
      : {}),
    ...(db.InstanceCreateTime ? { createdAt: db.InstanceCreateTime.toISOString() } : {}),
    ...(db.LatestRestorableTime ? { latestRestorableTime: db.LatestRestorableTime.toISOString() } : {}),
    ...(db.StatusInfos?.length
      ? {
          statusInfos: db.StatusInfos.map((i) => ({
            type: i.StatusType ?? '',
            status: i.Status ?? '',
            normal: i.Normal ?? true,
            ...(i.Message ? { message: i.Message } : {}),
          })),
        }
      : {}),
  };
}

/**
 * RDS instance statuses that no wait sees turn into `available` by themselves, with what each means. (`stopped` is
 * not here: someone may start it again.)
 */
export const TERMINAL_DB_STATES: Readonly<Record<string, string>> = {
  failed: 'RDS could not create it or keep it running',
  'incompatible-restore': 'AWS could not restore it',
  'restore-error': 'the restore failed',
  'incompatible-parameters': 'its DB parameter group holds values it cannot start with',
  'incompatible-network': 'its subnet group or VPC cannot host it (no free IP address, or a subnet or the VPC is gone)',
  'incompatible-option-group': 'its option group cannot be applied to it',
  'storage-full': 'it has used all of its allocated storage',
  'inaccessible-encryption-credentials': 'the KMS key it is encrypted with is disabled or cannot be reached',
  'inaccessible-encryption-credentials-recoverable':
    'the KMS key it is encrypted with is disabled or cannot be reached (re-enable the key within 7 days to recover it)',
  'insufficient-capacity': 'AWS has no capacity for its instance class in its Availability Zone',
  'delete-precheck': 'it is about to be deleted',
  deleting: 'it is being deleted',
};

/** After a create, restore, replica or rename, RDS may not find the new name for a moment: how long a wait allows. */
export const DB_NOT_FOUND_GRACE_MS = 60_000;

/** What one look at an instance means for a wait (pure: unit-tested without AWS). */
export type DbWaitVerdict =
  | { state: 'done' }
  | { state: 'waiting' }
  /** A terminal state, or gone after the wait had seen it: DbInstanceFailed with `message`. */
  | { state: 'failed'; message: string }
  /** Never found, past the grace: ResourceNotFound with `message`. */
  | { state: 'not-found'; message: string };

export function dbWaitVerdict(
  db: DbState | undefined,
  done: (db: DbState) => boolean,
  o: {
    ref: DbRef;
    /** How the run calls the instance ("restored instance"); default "RDS instance". */
    label?: string | undefined;
    elapsedMs: number;
    /** The status the wait last saw, if it has seen the instance at all. */
    lastSeen?: string | undefined;
    graceMs?: number | undefined;
  },
): DbWaitVerdict {
  const label = o.label ?? 'RDS instance';
  const { region, dbInstance: id } = o.ref;
  const events = `aws rds describe-events --region ${region} --source-type db-instance --source-identifier ${id}`;
  if (!db) {
    if (o.lastSeen !== undefined) {
      return {
        state: 'failed',
        message: `${label} ${id} in ${region} is gone: RDS no longer finds it (it was ${o.lastSeen} when last seen). See why: ${events}`,
      };
    }
    const grace = o.graceMs ?? DB_NOT_FOUND_GRACE_MS;
    if (o.elapsedMs < grace) return { state: 'waiting' };
    return {
      state: 'not-found',
      message: `RDS instance ${id} not found in ${region} (still not found ${Math.round(o.elapsedMs / 1000)}s after the wait began)`,
    };
  }
  const meaning = TERMINAL_DB_STATES[db.status];
  if (meaning) {
    const infos = (db.statusInfos ?? [])
      .filter((i) => !i.normal || i.message)
      .map((i) => `${i.type} ${i.status}${i.message ? `: ${i.message}` : ''}`);
    return {
      state: 'failed',
      message:
        `${label} ${id} in ${region} is ${db.status}: ${meaning}${infos.length ? ` (${infos.join('; ')})` : ''}. ` +
        `Waiting longer will not change it; see RDS's events for it: ${events}`,
    };
  }
  return done(db) ? { state: 'done' } : { state: 'waiting' };
}

/** Does `source` (an id or ARN, as RDS reports it) name the instance `db`? */
export function sameDb(source: string, db: { id: string; arn: string }): boolean {
  return source === db.id || source === db.arn || source.split(':').pop() === db.id;
}

function restoreOptions(o: RestoreOptions) {
  return {
    ...(o.instanceClass ? { DBInstanceClass: o.instanceClass } : {}),
    ...(o.subnetGroup ? { DBSubnetGroupName: o.subnetGroup } : {}),
    ...(o.securityGroupIds?.length ? { VpcSecurityGroupIds: o.securityGroupIds } : {}),
    Tags: [{ Key: 'runbook-run', Value: o.runId }],
  };
}

function ownedBy(db: DbState, runId: string): DbState {
  if (db.createdBy !== runId) {
    throw new PreconditionFailed(
      `an instance named ${db.id} already exists in ${db.region}${db.createdBy ? ` (created by ${db.createdBy})` : ''}; choose another id`,
    );
  }
  return db;
}

export function createRdsActivities(aws: AwsClients) {
  async function find(ref: DbRef): Promise<DbState | undefined> {
    try {
      const out = await aws
        .rds(ref.region)
        .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: ref.dbInstance }), { abortSignal: abortSignal() });
      const db = out.DBInstances?.[0];
      return db ? toState(ref.region, db) : undefined;
    } catch (err) {
      if ((err as Error).name === 'DBInstanceNotFoundFault') return undefined;
      throw err;
    }
  }

  async function describeDbInstance(ref: DbRef): Promise<DbState> {
    const db = await find(ref);
    if (!db) throw new ResourceNotFound(`RDS instance ${ref.dbInstance} not found in ${ref.region}`);
    return db;
  }

  /**
   * Poll until `done`, stopping at once at a terminal state (DbInstanceFailed) and allowing a freshly created or
   * renamed instance a grace period to be found. Throttling and 5xx answers are ridden out by pollUntil.
   */
  async function waitFor(
    ref: DbWaitInput,
    done: (db: DbState) => boolean,
    what: string,
  ): Promise<DbState & { waitedMs: number; phases: string }> {
    const { deadline, startedAt } = resumeWait(ref.timeoutMs);
    let lastSeen: string | undefined;
    const result = await pollUntil<DbState | undefined>(
      async () => {
        const db = await find(ref);
        const verdict = dbWaitVerdict(db, done, {
          ref,
          label: ref.label,
          elapsedMs: Date.now() - startedAt,
          lastSeen,
          graceMs: ref.notFoundGraceMs,
        });
        if (verdict.state === 'failed') throw new DbInstanceFailed(verdict.message);
        if (verdict.state === 'not-found') throw new ResourceNotFound(verdict.message);
        if (db) lastSeen = db.status;
        return {
          done: verdict.state === 'done',
          value: db,
          progress: db ? { status: db.status, replicaSource: db.replicaSource ?? null } : { status: 'not found yet' },
          phase: db ? `${db.status}${db.replicaSource ? ' (replica)' : ''}` : 'not found yet',
        };
      },
      { deadline, startedAt, region: ref.region, initialDelayMs: 1_000, maxDelayMs: 30_000 },
    );
    const db = result.value;
    if (!db) throw new ResourceNotFound(`RDS instance ${ref.dbInstance} not found in ${ref.region}`);
    if (!result.done) {
      throw new NotStable(
        `RDS instance ${ref.dbInstance} (${ref.region}) is not ${what} in time: status ${db.status}` +
          (db.replicaSource ? `, still a replica of ${db.replicaSource}` : '') +
          ` (seen: ${result.phases})`,
      );
    }
    return { ...db, waitedMs: Date.now() - startedAt, phases: result.phases };
  }

  /**
   * A restore to a new instance (input.dbInstance), made idempotent: an instance with that id created by this run
   * (a retry after the call went through) is taken as is, one created by anything else is refused; only when there is
   * none does `restore` call AWS.
   */
  async function restoreOnce(
    input: RestoreOptions,
    restore: () => Promise<{ DBInstance?: DBInstance | undefined }>,
  ): Promise<{ created: boolean; db: DbState }> {
    const existing = await find(input);
    if (existing) return { created: false, db: ownedBy(existing, input.runId) };
    const out = await restore();
    return { created: true, db: toState(input.region, out.DBInstance!) };
  }

  return {
    describeDbInstance,

    /** The instance if it exists; `undefined` when RDS says it does not. Other errors (region down) throw. */
    async findDbInstance(ref: DbRef): Promise<DbState | undefined> {
      return find(ref);
    },

    /**
     * Promote a read replica to a standalone instance. Idempotent: an instance that is no longer a replica (a retry
     * after the call went through) is not promoted again.
     */
    async promoteReadReplica(ref: DbRef & { backupRetentionDays: number }): Promise<{ alreadyStandalone: boolean }> {
      const db = await describeDbInstance(ref);
      if (!db.replicaSource) return { alreadyStandalone: true };
      try {
        await aws.rds(ref.region).send(
          new PromoteReadReplicaCommand({
            DBInstanceIdentifier: ref.dbInstance,
            BackupRetentionPeriod: ref.backupRetentionDays,
          }),
          { abortSignal: abortSignal() },
        );
      } catch (err) {
        // A promotion already under way answers InvalidDBInstanceState: the wait that follows covers it.
        if ((err as Error).name !== 'InvalidDBInstanceStateFault') throw err;
      }
      return { alreadyStandalone: false };
    },

    /** Wait until the instance is `available` and no longer a replica (what AWS shows once a promotion finished). */
    waitForDbStandalone(ref: DbWaitInput) {
      return waitFor(ref, (db) => db.status === 'available' && !db.replicaSource, 'available as a standalone instance');
    },

    waitForDbAvailable(ref: DbWaitInput) {
      return waitFor(ref, (db) => db.status === 'available', 'available');
    },

    /**
     * Create a cross-region read replica of `source` (given as ARN) in `region`. Idempotent: an existing replica of
     * that source with that id is taken as is; an unrelated instance with the id is refused.
     */
    async createReadReplica(
      input: DbRef & {
        sourceArn: string;
        instanceClass?: string;
        kmsKeyId?: string;
        subnetGroup?: string;
        securityGroupIds?: string[];
      },
    ): Promise<{ created: boolean; db: DbState }> {
      const existing = await find(input);
      if (existing) {
        if (
          existing.replicaSource &&
          sameDb(existing.replicaSource, { id: input.sourceArn.split(':').pop()!, arn: input.sourceArn })
        ) {
          return { created: false, db: existing };
        }
        throw new PreconditionFailed(
          `an instance named ${input.dbInstance} already exists in ${input.region} and is not a replica of ${input.sourceArn}; choose another id`,
        );
      }
      const out = await aws.rds(input.region).send(
        new CreateDBInstanceReadReplicaCommand({
          DBInstanceIdentifier: input.dbInstance,
          SourceDBInstanceIdentifier: input.sourceArn,
          ...(input.instanceClass ? { DBInstanceClass: input.instanceClass } : {}),
          ...(input.kmsKeyId ? { KmsKeyId: input.kmsKeyId } : {}),
          ...(input.subnetGroup ? { DBSubnetGroupName: input.subnetGroup } : {}),
          ...(input.securityGroupIds ? { VpcSecurityGroupIds: input.securityGroupIds } : {}),
        }),
        { abortSignal: abortSignal() },
      );
      return { created: true, db: toState(input.region, out.DBInstance!) };
    },

    /** Instances carrying a tag (key = value), e.g. every database enrolled in backup verification. */
    async listDbInstancesByTag(input: { region: string; key: string; value: string }): Promise<string[]> {
      const ids: string[] = [];
      let marker: string | undefined;
      do {
        const out = await aws
          .rds(input.region)
          .send(new DescribeDBInstancesCommand({ Marker: marker }), { abortSignal: abortSignal() });
        for (const db of out.DBInstances ?? []) {
          if ((db.TagList ?? []).some((t) => t.Key === input.key && t.Value === input.value))
            ids.push(db.DBInstanceIdentifier!);
        }
        marker = out.Marker;
      } while (marker);
      return ids.sort();
    },

    /** Available snapshots of an instance, automated and manual, newest first. */
    async listSnapshots(ref: DbRef): Promise<SnapshotState[]> {
      const found: SnapshotState[] = [];
      let marker: string | undefined;
      do {
        const out = await aws
          .rds(ref.region)
          .send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: ref.dbInstance, Marker: marker }), {
            abortSignal: abortSignal(),
          });
        found.push(...(out.DBSnapshots ?? []).map(toSnapshot));
        marker = out.Marker;
      } while (marker);
      return found
        .filter((s) => s.status === 'available')
        .sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
    },

    async describeSnapshot(input: { region: string; snapshotId: string }): Promise<SnapshotState> {
      try {
        const out = await aws
          .rds(input.region)
          .send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: input.snapshotId }), {
            abortSignal: abortSignal(),
          });
        const snap = out.DBSnapshots?.[0];
        if (snap) return toSnapshot(snap);
      } catch (err) {
        if ((err as Error).name !== 'DBSnapshotNotFoundFault') throw err;
      }
      throw new ResourceNotFound(`DB snapshot ${input.snapshotId} not found in ${input.region}`);
    },

    /** Take a manual snapshot. Idempotent: an existing snapshot with that id of that instance is taken as is. */
    async createDbSnapshot(input: DbRef & { snapshotId: string }): Promise<SnapshotState> {
      const rds = aws.rds(input.region);
      try {
        const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: input.snapshotId }), {
          abortSignal: abortSignal(),
        });
        const snap = out.DBSnapshots?.[0];
        if (snap) {
          if (snap.DBInstanceIdentifier !== input.dbInstance) {
            throw new PreconditionFailed(`snapshot ${input.snapshotId} exists but is of ${snap.DBInstanceIdentifier}`);
          }
          return toSnapshot(snap);
        }
      } catch (err) {
        if ((err as Error).name !== 'DBSnapshotNotFoundFault') throw err;
      }
      const out = await rds.send(
        new CreateDBSnapshotCommand({ DBInstanceIdentifier: input.dbInstance, DBSnapshotIdentifier: input.snapshotId }),
        { abortSignal: abortSignal() },
      );
      return toSnapshot(out.DBSnapshot!);
    },

    async waitForSnapshotAvailable(input: {
      region: string;
      snapshotId: string;
      timeoutMs: number;
    }): Promise<SnapshotState & { phases: string }> {
      const result = await pollUntil(
        async () => {
          const out = await aws
            .rds(input.region)
            .send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: input.snapshotId }), {
              abortSignal: abortSignal(),
            });
          const snap = toSnapshot(out.DBSnapshots![0]!);
          if (['failed', 'error', 'deleting', 'deleted'].includes(snap.status)) {
            throw new SnapshotFailed(
              `RDS snapshot ${input.snapshotId} in ${input.region} is ${snap.status}: it will not become available. ` +
                `See why: aws rds describe-events --region ${input.region} --source-type db-snapshot ` +
                `--source-identifier ${input.snapshotId}`,
            );
          }
          return { done: snap.status === 'available', value: snap, progress: snap.status, phase: snap.status };
        },
        {
          deadline: resumeDeadline(input.timeoutMs),
          region: input.region,
          initialDelayMs: 2_000,
          maxDelayMs: 30_000,
        },
      );
      if (!result.done) {
        throw new NotStable(`snapshot ${input.snapshotId} is still ${result.value.status} (seen: ${result.phases})`);
      }
      return { ...result.value, phases: result.phases };
    },

    /** The window a point-in-time restore may use. */
    async getRestoreWindow(ref: DbRef): Promise<{ earliest?: string; latest?: string }> {
      const out = await aws
        .rds(ref.region)
        .send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: ref.dbInstance }), {
          abortSignal: abortSignal(),
        });
      const w = out.DBInstanceAutomatedBackups?.[0]?.RestoreWindow;
      if (w?.EarliestTime && w.LatestTime)
        return { earliest: w.EarliestTime.toISOString(), latest: w.LatestTime.toISOString() };
      // Without a reported window: the oldest automated snapshot to the instance's latest restorable time.
      const db = await describeDbInstance(ref);
      const snaps = await aws
        .rds(ref.region)
        .send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: ref.dbInstance, SnapshotType: 'automated' }), {
          abortSignal: abortSignal(),
        });
      const oldest = (snaps.DBSnapshots ?? [])
        .map((s) => s.SnapshotCreateTime?.toISOString())
        .filter((t): t is string => !!t)
        .sort()[0];
      return {
        ...(oldest ? { earliest: oldest } : {}),
        ...(db.latestRestorableTime ? { latest: db.latestRestorableTime } : {}),
      };
    },

    /** Restore a snapshot to a new instance. Idempotent (restoreOnce): a retry takes the instance it created. */
    async restoreFromSnapshot(
      input: RestoreOptions & { snapshotId: string },
    ): Promise<{ created: boolean; db: DbState }> {
      return restoreOnce(input, () =>
        aws.rds(input.region).send(
          new RestoreDBInstanceFromDBSnapshotCommand({
            DBInstanceIdentifier: input.dbInstance,
            DBSnapshotIdentifier: input.snapshotId,
            ...restoreOptions(input),
          }),
          { abortSignal: abortSignal() },
        ),
      );
    },

    /** Restore an instance as it was at `restoreTime` to a new instance. Idempotent as restoreFromSnapshot. */
    async restoreToPointInTime(
      input: RestoreOptions & { source: string; restoreTime: string },
    ): Promise<{ created: boolean; db: DbState }> {
      return restoreOnce(input, () =>
        aws.rds(input.region).send(
          new RestoreDBInstanceToPointInTimeCommand({
            SourceDBInstanceIdentifier: input.source,
            TargetDBInstanceIdentifier: input.dbInstance,
            RestoreTime: new Date(input.restoreTime),
            ...restoreOptions(input),
          }),
          { abortSignal: abortSignal() },
        ),
      );
    },

    /** Rename an instance. Idempotent: done already (new name exists, old does not) is fine. */
    async renameDbInstance(input: { region: string; from: string; to: string }): Promise<{ renamed: boolean }> {
      const to = await find({ region: input.region, dbInstance: input.to });
      const from = await find({ region: input.region, dbInstance: input.from });
      if (to && !from) return { renamed: false };
      if (to && from) throw new PreconditionFailed(`cannot rename ${input.from} to ${input.to}: ${input.to} exists`);
      if (!from) throw new ResourceNotFound(`RDS instance ${input.from} not found in ${input.region}`);
      await aws.rds(input.region).send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: input.from,
          NewDBInstanceIdentifier: input.to,
          ApplyImmediately: true,
        }),
        { abortSignal: abortSignal() },
      );
      return { renamed: true };
    },

    /**
     * Delete an instance without a final snapshot (used to remove what a run created). Gone already is fine
     * (`deleted: false`). With `createdBy`, only an instance tagged `runbook-run` = `createdBy` is deleted; any other
     * instance under that name is left alone and reported (`notCreatedBy`): a cleanup never removes what another run
     * or a person made.
     */
    async deleteDbInstance(
      ref: DbRef & { createdBy?: string },
    ): Promise<{ deleted: boolean; notCreatedBy?: { createdBy: string | null } }> {
      if (ref.createdBy !== undefined) {
        const db = await find(ref);
        if (!db) return { deleted: false };
        if (db.createdBy !== ref.createdBy)
          return { deleted: false, notCreatedBy: { createdBy: db.createdBy ?? null } };
      }
      try {
        await aws.rds(ref.region).send(
          new DeleteDBInstanceCommand({
            DBInstanceIdentifier: ref.dbInstance,
            SkipFinalSnapshot: true,
            DeleteAutomatedBackups: true,
          }),
          { abortSignal: abortSignal() },
        );
        return { deleted: true };
      } catch (err) {
        if ((err as Error).name === 'DBInstanceNotFoundFault') return { deleted: false };
        // A retry after RDS accepted the delete: it is already going.
        if (
          (err as Error).name === 'InvalidDBInstanceStateFault' &&
          /being deleted|deleting/i.test((err as Error).message)
        ) {
          return { deleted: true };
        }
        throw err;
      }
    },
  };
}
