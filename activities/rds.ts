// RDS activities: describe an instance, promote a read replica, create a cross-region replica, delete, and wait.
import {
  CreateDBInstanceReadReplicaCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  PromoteReadReplicaCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import type { AwsClients } from './aws-clients';
import { NotStable, PreconditionFailed, ResourceNotFound } from './errors';
import { abortSignal, pollUntil, resumeDeadline } from './poll';

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
  };
}

/** Does `source` (an id or ARN, as RDS reports it) name the instance `db`? */
export function sameDb(source: string, db: { id: string; arn: string }): boolean {
  return source === db.id || source === db.arn || source.split(':').pop() === db.id;
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

  async function waitFor(
    ref: DbRef & { timeoutMs: number },
    done: (db: DbState) => boolean,
    what: string,
  ): Promise<DbState & { waitedMs: number }> {
    const started = Date.now();
    const result = await pollUntil(
      async () => {
        const db = await describeDbInstance(ref);
        return { done: done(db), value: db, progress: { status: db.status, replicaSource: db.replicaSource ?? null } };
      },
      { deadline: resumeDeadline(ref.timeoutMs), initialDelayMs: 2_000, maxDelayMs: 30_000 },
    );
    if (!result.done) {
      throw new NotStable(
        `RDS instance ${ref.dbInstance} (${ref.region}) is not ${what} in time: status ${result.value.status}` +
          (result.value.replicaSource ? `, still a replica of ${result.value.replicaSource}` : ''),
      );
    }
    return { ...result.value, waitedMs: Date.now() - started };
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
    waitForDbStandalone(ref: DbRef & { timeoutMs: number }) {
      return waitFor(ref, (db) => db.status === 'available' && !db.replicaSource, 'available as a standalone instance');
    },

    waitForDbAvailable(ref: DbRef & { timeoutMs: number }) {
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

    /** Delete an instance without a final snapshot (used to remove what a run created). Gone already is fine. */
    async deleteDbInstance(ref: DbRef): Promise<{ deleted: boolean }> {
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
        throw err;
      }
    },
  };
}
