// rdsRebootFailover input, result and the pure rules of the runbook: seed 000's last resort for an unavailable
// database, `aws rds reboot-db-instance --force-failover` on a Multi-AZ instance — RDS restarts the database on its
// standby in the other Availability Zone. Which instances it refuses, what the approval says, when the failover is
// over: pure functions, unit-tested without AWS, used by the activities and the workflow alike.
import type { z } from 'zod';
import { approvalPolicy, awsRegion, healthCheck, rtoTarget, runbookInput, type HealthResult } from '../common';
import { durationString } from '../duration';
import type { DataCheckSummary } from '../status';
import { dataChecks, dbInstanceId } from './restore';
import { runbookEntry } from './entry';

export const rdsRebootFailoverInput = runbookInput(
  {
    region: awsRegion,
    dbInstance: dbInstanceId.describe('The Multi-AZ DB instance to reboot with a failover to its standby'),
    health: healthCheck.optional().describe('Health check of the app after the failover'),
    sqlProbe: dataChecks
      .optional()
      .describe(
        'SQL against the instance after the failover, through its endpoint (credentials from Secrets Manager): a ' +
          'connection always, and the given checks',
      ),
    rtoTarget: rtoTarget
      .optional()
      .describe(
        'Recovery-time target, e.g. "15m" (seed 000): the RTO measured from the reboot request until the database ' +
          'answers again and the checks pass is compared with it in the report and the notification (a miss is a warning)',
      ),
    failoverTimeout: durationString({ min: '30s', max: '2h' })
      .default('30m')
      .describe('How long to wait for the instance to be available again in the standby’s zone'),
  },
  approvalPolicy(true).describe('Approval before the reboot, showing which Availability Zone serves now and after'),
);
export type RdsRebootFailoverInput = z.input<typeof rdsRebootFailoverInput>;
export type RdsRebootFailoverParams = z.output<typeof rdsRebootFailoverInput>;

export const rdsRebootFailoverWorkflowId = (i: { region: string; dbInstance: string }) =>
  `rds-reboot-failover:${i.region}/${i.dbInstance}`;

/** What the runbook reads of a DB instance (activities/rds-reboot.ts describeMultiAz). */
export interface MultiAzView {
  id: string;
  region: string;
  status: string;
  engine: string;
  multiAz: boolean;
  /** Where the instance serves from (AvailabilityZone). */
  availabilityZone?: string;
  /** Where its standby runs (SecondaryAvailabilityZone; AWS reports it for a Multi-AZ instance). */
  secondaryAvailabilityZone?: string;
  endpoint?: string;
  port?: number;
  /** Set for a read replica: its source. */
  replicaSource?: string;
  /** Set for an Aurora instance: its cluster. */
  cluster?: string;
  /** AWS's PendingModifiedValues, one `Name: value` each (applied at the maintenance window or on apply). */
  pendingModified: string[];
  /** DB parameter groups whose changes wait for a reboot (ParameterApplyStatus `pending-reboot`): it applies them. */
  parameterGroupsPendingReboot: string[];
}

const plainReboot = (db: { id: string; region: string }) =>
  `aws rds reboot-db-instance --region ${db.region} --db-instance-identifier ${db.id}`;

/**
 * Why this instance cannot be failed over by a reboot, or undefined when it can (pure: unit-tested). `field` says
 * whether the input named the wrong instance (`dbInstance`: Single-AZ, a replica, an Aurora member — the run must be
 * started on another) or the instance is not ready (`state`: not `available` now).
 */
export function rebootFailoverRefusal(db: MultiAzView): { field: 'dbInstance' | 'state'; message: string } | undefined {
  const where = `${db.id} (${db.region})`;
  if (db.cluster) {
    return {
      field: 'dbInstance',
      message:
        `${where} is an instance of the Aurora cluster ${db.cluster}: Aurora fails over between cluster members, not ` +
        `with a reboot; use the auroraFailover runbook (aws rds failover-db-cluster --db-cluster-identifier ${db.cluster})`,
    };
  }
  if (db.replicaSource) {
    return {
      field: 'dbInstance',
      message:
        `${where} is a read replica of ${db.replicaSource}: a reboot with failover of a replica does not move the ` +
        `database the app writes to; start the run on the primary (${db.replicaSource.split(':').pop()}), or promote ` +
        `the replica (regionalFailover)`,
    };
  }
  if (!db.multiAz) {
    return {
      field: 'dbInstance',
      message:
        `${where} is Single-AZ (MultiAZ false): a reboot with failover needs a standby; use a plain reboot ` +
        `(${plainReboot(db)}), or make it Multi-AZ first (aws rds modify-db-instance --region ${db.region} ` +
        `--db-instance-identifier ${db.id} --multi-az --apply-immediately) and run this again once it is available`,
    };
  }
  if (db.status !== 'available') {
    return {
      field: 'state',
      message:
        `${where} is ${db.status}, not available: RDS reboots only an available instance. Wait until it is ` +
        `available (aws rds wait db-instance-available --region ${db.region} --db-instance-identifier ${db.id}) ` +
        `and start the run again`,
    };
  }
  return undefined;
}

/** The move in words (pure): `us-east-1a → us-east-1b (the standby's zone)`. */
export function describeAzMove(db: Pick<MultiAzView, 'availabilityZone' | 'secondaryAvailabilityZone'>): string {
  const now = db.availabilityZone ?? 'an unreported zone';
  return db.secondaryAvailabilityZone
    ? `${now} → ${db.secondaryAvailabilityZone} (the standby's zone)`
    : `${now} → the standby's zone (RDS does not report it)`;
}

/**
 * What one look at the instance during the failover means (pure: unit-tested). Done: `available` again and serving
 * from another zone than before. Waiting otherwise: right after the call RDS may still show `available` in the old
 * zone for a moment, then `rebooting`.
 */
export function failoverVerdict(
  db: Pick<MultiAzView, 'status' | 'availabilityZone'>,
  before: { availabilityZone?: string | undefined },
): 'done' | 'waiting' {
  return db.status === 'available' && !!db.availabilityZone && db.availabilityZone !== before.availabilityZone
    ? 'done'
    : 'waiting';
}

export interface RdsRebootFailoverResult {
  region: string;
  dbInstance: string;
  engine: string;
  /** The zone that served before the reboot, and its standby's. */
  before: { availabilityZone?: string; secondaryAvailabilityZone?: string };
  /** The zone that serves after it (the former standby's), and the new standby's. */
  after: { availabilityZone?: string; secondaryAvailabilityZone?: string };
  /** When RDS accepted the reboot, and when the instance was available again in the other zone (ISO). */
  rebootedAt: string;
  availableAt: string;
  /** What the wait saw: `rebooting @0s → available @1m2s`. */
  phases: string;
  /** The reboot request until the database answered again and the checks passed. */
  rtoMs: number;
  /** e.g. `1m4s (target 15m: met)`. */
  rto: string;
  rtoTarget?: string;
  rtoVerdict?: 'met' | 'missed';
  pendingModified: string[];
  parameterGroupsApplied: string[];
  sqlProbe?: DataCheckSummary;
  health?: HealthResult;
}

/** rdsRebootFailover in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const rdsRebootFailoverEntry = runbookEntry({
  type: 'rdsRebootFailover',
  slug: 'rds-reboot-failover',
  title: 'Reboot a Multi-AZ RDS instance with a failover to its standby, wait, verify, report the AZs and the RTO',
  schema: rdsRebootFailoverInput,
  workflowId: rdsRebootFailoverWorkflowId,
});
