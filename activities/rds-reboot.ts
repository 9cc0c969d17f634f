// RDS activities of the rdsRebootFailover runbook: read a Multi-AZ instance (zones, standby, pending changes), reboot
// it with a forced failover (once, whatever the retries), and wait until it serves from the other zone.
import { DescribeDBInstancesCommand, RebootDBInstanceCommand, type DBInstance } from '@aws-sdk/client-rds';
import { failoverVerdict, type MultiAzView } from '../api/runbooks/rds-reboot';
import type { AwsClients } from './aws-clients';
import { DbInstanceFailed, NotStable, ResourceNotFound } from './errors';
import { abortSignal, pollUntil, resumeWait } from './poll';
import { TERMINAL_DB_STATES, type DbRef } from './rds';

/** AWS's PendingModifiedValues as `Name: value` lines (nested and empty values left out). */
function pendingModified(db: DBInstance): string[] {
  return Object.entries(db.PendingModifiedValues ?? {})
    .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${String(v)}`)
    .sort();
}

export function toMultiAzView(region: string, db: DBInstance): MultiAzView {
  return {
    id: db.DBInstanceIdentifier ?? '',
    region,
    status: db.DBInstanceStatus ?? 'unknown',
    engine: db.Engine ?? '',
    multiAz: db.MultiAZ === true,
    ...(db.AvailabilityZone ? { availabilityZone: db.AvailabilityZone } : {}),
    ...(db.SecondaryAvailabilityZone ? { secondaryAvailabilityZone: db.SecondaryAvailabilityZone } : {}),
    ...(db.Endpoint?.Address ? { endpoint: db.Endpoint.Address } : {}),
    ...(db.Endpoint?.Port ? { port: db.Endpoint.Port } : {}),
    ...(db.ReadReplicaSourceDBInstanceIdentifier ? { replicaSource: db.ReadReplicaSourceDBInstanceIdentifier } : {}),
    ...(db.DBClusterIdentifier ? { cluster: db.DBClusterIdentifier } : {}),
    pendingModified: pendingModified(db),
    parameterGroupsPendingReboot: (db.DBParameterGroups ?? [])
      .filter((g) => g.ParameterApplyStatus === 'pending-reboot')
      .map((g) => g.DBParameterGroupName ?? '')
      .filter(Boolean),
  };
}

export function createRdsRebootActivities(aws: AwsClients) {
  async function find(ref: DbRef): Promise<MultiAzView | undefined> {
    try {
      const out = await aws
        .rds(ref.region)
        .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: ref.dbInstance }), { abortSignal: abortSignal() });
      const db = out.DBInstances?.[0];
      return db ? toMultiAzView(ref.region, db) : undefined;
    } catch (err) {
      if ((err as Error).name === 'DBInstanceNotFoundFault') return undefined;
      throw err;
    }
  }

  async function describeMultiAz(ref: DbRef): Promise<MultiAzView> {
    const db = await find(ref);
    if (!db) {
      throw new ResourceNotFound(
        `RDS instance ${ref.dbInstance} not found in ${ref.region} (check the name and the region: ` +
          `aws rds describe-db-instances --region ${ref.region} --query 'DBInstances[].DBInstanceIdentifier')`,
      );
    }
    return db;
  }

  return {
    describeMultiAz,

    /**
     * RebootDBInstance with ForceFailover, made effective once: when the instance already reboots (a retry after the
     * call went through) or already serves from another zone than `fromZone` (the failover is over), nothing is sent.
     * A reboot refused because one is under way (InvalidDBInstanceState) is taken as that one.
     */
    async rebootWithFailover(ref: DbRef & { fromZone?: string }): Promise<{ sent: boolean; status: string }> {
      const now = await describeMultiAz(ref);
      if (now.status === 'rebooting') return { sent: false, status: now.status };
      if (ref.fromZone && now.availabilityZone && now.availabilityZone !== ref.fromZone) {
        return { sent: false, status: now.status };
      }
      try {
        const out = await aws
          .rds(ref.region)
          .send(new RebootDBInstanceCommand({ DBInstanceIdentifier: ref.dbInstance, ForceFailover: true }), {
            abortSignal: abortSignal(),
          });
        return { sent: true, status: out.DBInstance?.DBInstanceStatus ?? 'rebooting' };
      } catch (err) {
        const name = (err as Error).name;
        if (
          (name === 'InvalidDBInstanceStateFault' || name === 'InvalidDBInstanceState') &&
          /reboot/i.test(String((err as Error).message))
        ) {
          return { sent: false, status: 'rebooting' };
        }
        throw err;
      }
    },

    /**
     * Wait until the instance is `available` again and serves from another zone than `fromZone` (its standby's), with
     * heartbeats; a state it does not leave by itself (failed, storage-full …) or its disappearance ends the wait at
     * once (DbInstanceFailed). Out of time: NotStable, saying what RDS shows.
     */
    async waitForDbFailover(
      ref: DbRef & { fromZone?: string; timeoutMs: number },
    ): Promise<MultiAzView & { waitedMs: number; phases: string }> {
      const { deadline, startedAt } = resumeWait(ref.timeoutMs);
      const events = `aws rds describe-events --region ${ref.region} --source-type db-instance --source-identifier ${ref.dbInstance}`;
      const result = await pollUntil<MultiAzView>(
        async () => {
          const db = await find(ref);
          if (!db) {
            throw new DbInstanceFailed(
              `RDS instance ${ref.dbInstance} in ${ref.region} is gone during its reboot: RDS no longer finds it. See why: ${events}`,
            );
          }
          const meaning = TERMINAL_DB_STATES[db.status];
          if (meaning) {
            throw new DbInstanceFailed(
              `RDS instance ${ref.dbInstance} in ${ref.region} is ${db.status} after its reboot: ${meaning}. Waiting ` +
                `longer will not change it; see RDS's events for it: ${events}`,
            );
          }
          const zone = db.availabilityZone ?? 'zone not shown';
          return {
            done: failoverVerdict(db, { availabilityZone: ref.fromZone }) === 'done',
            value: db,
            progress: { status: db.status, availabilityZone: db.availabilityZone ?? null },
            phase: `${db.status} in ${zone}`,
          };
        },
        { deadline, startedAt, region: ref.region, initialDelayMs: 1_000, maxDelayMs: 15_000 },
      );
      const db = result.value;
      if (!result.done) {
        const stillThere = db.status === 'available' && db.availabilityZone === ref.fromZone;
        throw new NotStable(
          `RDS instance ${ref.dbInstance} (${ref.region}) did not come back in the standby's zone in time: it is ` +
            `${db.status} in ${db.availabilityZone ?? 'an unreported zone'} (seen: ${result.phases}). ` +
            (stillThere
              ? `It still serves from ${ref.fromZone}: the failover did not happen. `
              : `The reboot may still be going on. `) +
            `See RDS's events: ${events}`,
        );
      }
      return { ...db, waitedMs: Date.now() - startedAt, phases: result.phases };
    },
  };
}
