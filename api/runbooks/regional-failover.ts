// regionalFailover / regionalFailback inputs: promote a cross-region read replica, repoint and scale the app in the
// secondary region, switch DNS — and the reverse, seeded from what the failover recorded.
import { z } from 'zod';
import { approvalPolicy, awsRegion, healthCheck, rtoTarget, runbookInput } from '../common';
import type { HealthResult } from '../common';
import { durationString } from '../duration';
import { postSwitchWatch, type WatchSummary } from '../watch';
import { dnsRecordRef, dnsTarget, type RecordSet } from './dns-failover';
import {
  databaseChecks,
  failoverDatabase,
  parseClusterRef,
  type GlobalFailoverRecord,
} from './regional-failover-global';
import { runbookEntry } from './entry';

const dbInstanceId = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: 'expected an RDS DB instance identifier' });

const ecsRef = z
  .object({
    cluster: z.string().min(1).describe('ECS cluster name or ARN'),
    service: z.string().min(1).describe('ECS service name or ARN'),
  })
  .strict();

const whyRequired = (what: string) =>
  z
    .object({
      reason: z
        .string()
        .trim()
        .min(1, { message: `expected a reason for ${what}` })
        .max(2000),
    })
    .strict();

/** How the application learns the database endpoint. */
export const appConfig = z.union(
  [
    z
      .object({
        mode: z.literal('task-definition-env'),
        variable: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' })
          .describe('Container environment variable that holds the DB endpoint'),
        template: z
          .string()
          .includes('{host}', { message: 'expected a template containing {host}' })
          .optional()
          .describe(
            'Value to write, with {host} replaced by the endpoint (e.g. "postgresql://{host}:5432/app"); default: the host alone',
          ),
      })
      .strict(),
    z
      .object({
        mode: z.literal('secret'),
        secretId: z.string().min(1).describe('Secrets Manager secret (name or ARN) holding the connection as JSON'),
        key: z
          .string()
          .min(1)
          .refine((k) => !/pass|secret|token|key$/i.test(k), {
            message: 'expected the key of the host field; the runbook never reads or writes credentials',
          })
          .default('host')
          .describe('JSON key in the secret that holds the DB host'),
      })
      .strict(),
  ],
  {
    error:
      'expected {"mode": "task-definition-env", "variable": "…"} or {"mode": "secret", "secretId": "…", "key": "host"}',
  },
);
export type AppConfig = z.output<typeof appConfig>;

export const regionalFailoverInput = runbookInput(
  {
    primary: z
      .object({
        region: awsRegion,
        dbInstance: dbInstanceId
          .optional()
          .describe('The primary DB instance (the source of the replica); not with `database`'),
        ecs: ecsRef.optional().describe('The primary-region service whose writes are paused (scaled to 0)'),
      })
      .strict(),
    secondary: z
      .object({
        region: awsRegion,
        dbInstance: dbInstanceId.optional().describe('The cross-region read replica to promote; not with `database`'),
        ecs: ecsRef
          .extend({ desiredCount: z.number().int().min(1).max(1000).describe('Tasks to run after failover') })
          .strict(),
      })
      .strict(),
    database: failoverDatabase
      .optional()
      .describe(
        'Instead of primary/secondary dbInstance: an Aurora global database, its secondary cluster made the writer ' +
          '(docs/runbooks/regional-failover.md "Aurora Global Database")',
      ),
    appConfig: appConfig.describe('How the app learns the DB endpoint: task-definition env variable or a secret'),
    dns: z
      .object({
        hostedZone: z.string().min(1).describe('Hosted zone name or id'),
        record: dnsRecordRef,
        target: dnsTarget.describe('What the record must point to after failover'),
      })
      .strict(),
    health: z
      .object({
        secondaryApp: healthCheck.describe('The app in the secondary region, checked before DNS moves'),
        publicEndpoint: healthCheck.describe('The public endpoint, checked after DNS moved'),
      })
      .strict(),
    maxReplicaLagSeconds: z.number().min(0).max(86_400).default(300).describe('RPO: refuse when the replica lags more'),
    acceptDataLoss: whyRequired('accepting data loss')
      .optional()
      .describe('Proceed although the lag is above the limit or unknown'),
    plannedSwitchover: whyRequired('a planned switchover')
      .optional()
      .describe('Proceed although the primary looks healthy (a drill or planned move)'),
    pausePrimaryWrites: z
      .boolean()
      .default(true)
      .describe('Scale the primary-region service to 0 first (skipped anyway when its region does not answer)'),
    backupRetentionDays: z.number().int().min(0).max(35).default(7).describe('Backup retention of the promoted DB'),
    promoteTimeout: durationString({ min: '30s', max: '2h' }).default('45m'),
    stableTimeout: durationString({ min: '10s', max: '2h' }).default('15m'),
    insyncTimeout: durationString({ min: '10s', max: '1h' }).default('10m'),
    detectedAt: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('When the outage was detected (RTO is measured from it)'),
    rtoTarget: rtoTarget.optional(),
    watch: postSwitchWatch
      .optional()
      .describe(
        'After DNS is switched: watch these gates (e.g. error rates for 1h); a failure is reported and alerted',
      ),
  },
  approvalPolicy(true),
  databaseChecks,
);

export type RegionalFailoverInput = z.input<typeof regionalFailoverInput>;
export type RegionalFailoverParams = z.output<typeof regionalFailoverInput>;
/** The parameters of a failover of a DB instance to its cross-region read replica (no `database`). */
export type InstanceFailoverParams = RegionalFailoverParams & {
  primary: { dbInstance: string };
  secondary: { dbInstance: string };
  database?: undefined;
};

/** The instance failover's parameters, once the input has been validated (databaseChecks requires both ids). */
export function instanceFailover(p: RegionalFailoverParams): InstanceFailoverParams {
  if (p.database || p.primary.dbInstance === undefined || p.secondary.dbInstance === undefined) {
    throw new Error('internal error: not an instance failover');
  }
  return p as InstanceFailoverParams;
}

/**
 * RDS identifiers are case-insensitive, so the lock is on the lower-cased id. An Aurora global database has one
 * open failover at a time, whichever secondary it moves to: `failover:global/<global cluster>`.
 */
export const regionalFailoverWorkflowId = (i: {
  secondary: { region: string; dbInstance?: string | undefined };
  database?: { kind: 'aurora-global'; globalCluster: string } | undefined;
}) =>
  i.database
    ? `failover:global/${i.database.globalCluster.toLowerCase()}`
    : `failover:${i.secondary.region}/${(i.secondary.dbInstance ?? '').toLowerCase()}`;

/** What RunbookTarget shows: the replica it promotes, or the secondary cluster it makes the global writer. */
export const regionalFailoverTarget = (p: {
  secondary: { region: string; dbInstance?: string | undefined };
  database?: { targetCluster: string } | undefined;
}) => `${p.secondary.region}/${p.database ? parseClusterRef(p.database.targetCluster).id : p.secondary.dbInstance}`;

/** What a failover did, in enough detail for regionalFailback to reverse it. */
export interface RegionalFailoverResult {
  primary: {
    region: string;
    dbInstance: string;
    dbStatus: string;
    endpoint?: string;
    ecs?: { cluster: string; service: string; previousCount?: number; taskDefinition?: string; paused: boolean };
  };
  secondary: {
    region: string;
    dbInstance: string;
    endpoint: string;
    ecs: {
      cluster: string;
      service: string;
      previousCount: number;
      previousTaskDefinition: string;
      desiredCount: number;
      taskDefinition: string;
    };
  };
  appConfig: AppConfig & { previousSecretVersionId?: string; secretVersionId?: string; secretRegion?: string };
  dns: {
    hostedZoneId: string;
    name: string;
    type: string;
    setIdentifier?: string;
    previousRecordSets: RecordSet[];
    newRecordSet: RecordSet;
  };
  replicaLagSeconds?: number;
  dataLossEstimateSeconds?: number;
  acceptedDataLoss?: string;
  plannedSwitchover?: string;
  rtoSeconds: number;
  rtoFrom: 'detectedAt' | 'start';
  health: { secondaryApp: HealthResult; publicEndpoint: HealthResult };
  /** What the post-switch watch saw (input `watch`). */
  watch?: WatchSummary;
  /**
   * An Aurora global database run (input `database`): the writer cluster before and after. `primary.dbInstance` and
   * `secondary.dbInstance` then hold the clusters' identifiers.
   */
  database?: GlobalFailoverRecord;
}

export const regionalFailbackInput = runbookInput(
  {
    failoverWorkflowId: z.string().min(1).describe('Workflow ID of the completed regionalFailover to reverse'),
    failoverRunId: z
      .string()
      .min(1)
      .optional()
      .describe('Run ID of that failover (default: the newest completed run under the workflow ID)'),
    originalServiceDesiredCount: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'Tasks for the original-region service when the failover could not record its count (its region was down); default: what the secondary runs now',
      ),
    newReplicaId: dbInstanceId
      .optional()
      .describe('Id of the replica created in the original region (default: <original primary>-fb-<yyyymmddhhmmss>)'),
    replicaInstanceClass: z
      .string()
      .optional()
      .describe('Instance class of the new replica (default: the promoted DB’s)'),
    replicaKmsKeyId: z
      .string()
      .min(1)
      .optional()
      .describe('KMS key in the original region (AWS requires one for an encrypted DB)'),
    replicaSubnetGroup: z
      .string()
      .min(1)
      .optional()
      .describe('DB subnet group for the new replica in the original region'),
    replicaSecurityGroupIds: z
      .array(z.string().min(1))
      .max(10)
      .optional()
      .describe('VPC security groups for the new replica'),
    maxReplicaLagSeconds: z.number().min(0).max(86_400).default(300),
    acceptDataLoss: whyRequired('accepting data loss').optional(),
    health: z
      .object({ primaryApp: healthCheck, publicEndpoint: healthCheck })
      .strict()
      .describe('Health checks of the app in the original region and of the public endpoint'),
    backupRetentionDays: z.number().int().min(0).max(35).default(7),
    // At most 2h50m: each wait activity attempt is bounded at 3h.
    replicaTimeout: durationString({ min: '30s', max: '2h50m' })
      .default('2h')
      .describe('How long the new replica may take'),
    promoteTimeout: durationString({ min: '30s', max: '2h' }).default('45m'),
    stableTimeout: durationString({ min: '10s', max: '2h' }).default('15m'),
    insyncTimeout: durationString({ min: '10s', max: '1h' }).default('10m'),
  },
  approvalPolicy(true),
);

export type RegionalFailbackInput = z.input<typeof regionalFailbackInput>;
export type RegionalFailbackParams = z.output<typeof regionalFailbackInput>;

export const regionalFailbackWorkflowId = (i: { failoverWorkflowId: string }) => `failback:${i.failoverWorkflowId}`;

export interface RegionalFailbackResult {
  failoverWorkflowId: string;
  newPrimary: { region: string; dbInstance: string; endpoint: string };
  replicaLagSeconds?: number;
  restoredRecordSets: RecordSet[];
  primaryEcs?: { cluster: string; service: string; desiredCount: number; taskDefinition: string };
  secondaryEcs: { cluster: string; service: string; desiredCount: number; taskDefinition: string };
  health: { primaryApp: HealthResult; publicEndpoint: HealthResult };
  rtoSeconds: number;
}

/** regionalFailover in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const regionalFailoverEntry = runbookEntry({
  type: 'regionalFailover',
  slug: 'regional-failover',
  title: 'Fail a database and its app over to the secondary region: promote the replica, repoint, scale, switch DNS',
  schema: regionalFailoverInput,
  workflowId: regionalFailoverWorkflowId,
});

/** regionalFailback in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const regionalFailbackEntry = runbookEntry({
  type: 'regionalFailback',
  slug: 'regional-failback',
  title: 'Reverse a completed regionalFailover, from what it recorded',
  schema: regionalFailbackInput,
  workflowId: regionalFailbackWorkflowId,
});
