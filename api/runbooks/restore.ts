// snapshotRestore and backupVerification inputs: restore an RDS snapshot (or a point in time) to a new instance,
// check its data with real SQL, and either switch the app to it or — for verification — delete it again.
import { z } from 'zod';
import { approvalPolicy, awsRegion, healthCheck, rtoTarget, runbookCommon, runbookInput } from '../common';
import { durationString } from '../duration';
import { postSwitchWatch, type WatchSummary } from '../watch';
import type { DataCheckSummary } from '../status';
import { runbookEntry } from './entry';

export const dbInstanceId = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: 'expected an RDS DB instance identifier' });

const ecsRef = z
  .object({ cluster: z.string().min(1), service: z.string().min(1) })
  .strict()
  .describe('The ECS service that uses the database');

/** One SQL check: a query returning one number, and the bounds it must meet. */
export const dataCheck = z
  .object({
    name: z.string().min(1).max(200),
    sql: z
      .string()
      .min(1)
      .max(10_000)
      .describe('A query whose first column of the first row is a number, e.g. SELECT count(*) FROM users'),
    expect: z
      .object({ min: z.number().optional(), max: z.number().optional(), equals: z.number().optional() })
      .strict()
      .refine((e) => e.min !== undefined || e.max !== undefined || e.equals !== undefined, {
        message: 'expected at least one of min, max, equals',
      })
      // Bounds no value can meet would only fail at the check, after a restore that may take an hour.
      .superRefine((e, ctx) => {
        if (e.min !== undefined && e.max !== undefined && e.max < e.min) {
          ctx.addIssue({
            code: 'custom',
            path: ['max'],
            message: `${e.max} is below min (${e.min}): no value could pass`,
          });
        }
        if (e.equals === undefined) return;
        const outside = [
          ...(e.min !== undefined && e.equals < e.min ? [`min (${e.min})`] : []),
          ...(e.max !== undefined && e.equals > e.max ? [`max (${e.max})`] : []),
        ];
        if (outside.length) {
          ctx.addIssue({
            code: 'custom',
            path: ['equals'],
            message: `${e.equals} is outside ${outside.join(' and ')}: no value could pass`,
          });
        }
      }),
  })
  .strict();
export type DataCheckInput = z.output<typeof dataCheck>;

export const dataChecks = z
  .object({
    secretId: z.string().min(1).describe('Secrets Manager secret with the DB credentials (username, password, dbname)'),
    database: z.string().min(1).optional().describe('Database to connect to (default: dbname in the secret)'),
    checks: z
      .array(dataCheck)
      .max(50)
      .default([])
      .describe('Queries and their expected bounds (a connectivity check always runs)'),
    timeout: durationString({ min: '1s', max: '30m' }).default('2m').describe('Statement and connect timeout'),
  })
  .strict();
export type DataChecksInput = z.output<typeof dataChecks>;

const restoreSource = z.union(
  [
    z
      .object({
        snapshot: z.string().min(1).describe('A snapshot id, or "latest" (newest available, automated or manual)'),
      })
      .strict(),
    z
      .object({
        restoreTime: z.iso.datetime({ offset: true }).describe('Point in time (must be inside the restorable window)'),
      })
      .strict(),
  ],
  { error: 'expected {"snapshot": "<id>|latest"} or {"restoreTime": "2026-11-25T14:30:00Z"}' },
);

export const switchMode = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('none') }).strict(),
  z
    .object({
      mode: z.literal('task-definition-env'),
      ecs: ecsRef,
      variable: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' }),
      template: z.string().includes('{host}', { message: 'expected a template containing {host}' }).optional(),
    })
    .strict(),
  z
    .object({
      mode: z.literal('secret'),
      ecs: ecsRef,
      secretId: z.string().min(1),
      key: z
        .string()
        .min(1)
        .refine((k) => !/pass|secret|token|key$/i.test(k), { message: 'expected the key of the host field' })
        .default('host'),
    })
    .strict(),
  z.object({ mode: z.literal('rename-swap'), ecs: ecsRef }).strict(),
]);
export type SwitchMode = z.output<typeof switchMode>;

/** The name rename-swap gives the source (RDS ids are at most 63 characters). */
export const renameSwapOldId = (dbInstance: string) => `${dbInstance.slice(0, 59)}-old`;

export const snapshotRestoreInput = runbookInput(
  {
    region: awsRegion,
    dbInstance: dbInstanceId.describe('The source DB instance'),
    restore: restoreSource,
    newInstanceId: dbInstanceId
      .optional()
      .describe('Id of the restored instance (default: <source>-restored-<yyyymmddhhmmss>)'),
    instanceClass: z.string().min(1).optional().describe('Default: the source’s'),
    subnetGroup: z.string().min(1).optional().describe('Default: the source’s'),
    securityGroupIds: z.array(z.string().min(1)).max(10).optional().describe('Default: the source’s'),
    dataChecks: dataChecks.describe('Real SQL against the restored database, before anything is switched'),
    switch: switchMode.default({ mode: 'none' }).describe('How the app moves to the restored DB'),
    health: healthCheck.optional().describe('Health check of the app after the switch'),
    watch: postSwitchWatch
      .optional()
      .describe('After the switch: watch these gates for a while; a failure is reported and alerted (nothing undone)'),
    rtoTarget: rtoTarget.optional(),
    snapshotTimeout: durationString({ min: '30s', max: '2h50m' }).default('1h'),
    restoreTimeout: durationString({ min: '30s', max: '2h50m' }).default('1h'),
    stableTimeout: durationString({ min: '10s', max: '2h' }).default('15m'),
  },
  approvalPolicy(true).describe('Approval before the switch, showing the data-check results'),
  (v, ctx) => {
    if ('restoreTime' in v.restore && Date.parse(v.restore.restoreTime) > Date.now() + 60_000) {
      ctx.addIssue({ code: 'custom', path: ['restore', 'restoreTime'], message: 'is in the future' });
    }
    if (v.newInstanceId && v.newInstanceId.toLowerCase() === v.dbInstance.toLowerCase()) {
      ctx.addIssue({ code: 'custom', path: ['newInstanceId'], message: 'expected an id other than the source’s' });
    }
    const oldId = renameSwapOldId(v.dbInstance);
    if (v.switch.mode === 'rename-swap' && v.newInstanceId?.toLowerCase() === oldId.toLowerCase()) {
      ctx.addIssue({
        code: 'custom',
        path: ['newInstanceId'],
        message: `expected an id other than ${oldId}, the name rename-swap gives the source`,
      });
    }
    // Without a switch nothing went live: there is nothing to watch and no recovery to time.
    if (v.switch.mode === 'none') {
      for (const field of ['watch', 'rtoTarget'] as const) {
        if (v[field] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message:
              'applies after a switch: give switch.mode task-definition-env, secret or rename-swap, or leave it out',
          });
        }
      }
    }
  },
);

export type SnapshotRestoreInput = z.input<typeof snapshotRestoreInput>;
export type SnapshotRestoreParams = z.output<typeof snapshotRestoreInput>;

export const snapshotRestoreWorkflowId = (i: { region: string; dbInstance: string }) =>
  `restore:${i.region}/${i.dbInstance.toLowerCase()}`;

export interface SnapshotRestoreResult {
  source: { region: string; dbInstance: string };
  restoredFrom: { snapshot?: string; snapshotCreatedAt?: string; snapshotAgeSeconds?: number; restoreTime?: string };
  safetySnapshot: string;
  restored: { dbInstance: string; endpoint: string };
  dataChecks: DataCheckSummary;
  switch: { mode: SwitchMode['mode']; detail: string };
  /** After rename-swap the restored DB carries the source's id; the old source is kept as <id>-old. */
  finalInstanceIds?: { serving: string; previous: string };
  /** From the start of the run until the app was verified on the restored DB (a switch only). */
  rtoSeconds?: number;
  /** What the post-switch watch saw (input `watch`). */
  watch?: WatchSummary;
}

// ----- backupVerification -----

export const snapshotTarget = z
  .object({
    kind: z.literal('rds-snapshot').optional().describe('The default: the DB instance’s newest RDS snapshot'),
    dbInstance: dbInstanceId,
    dataChecks: dataChecks.optional().describe('Default: the input’s dataChecks'),
  })
  .strict();

/** S3 bucket names: 3–63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const s3Bucket = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'expected an S3 bucket name such as "acme-backups"' });

/**
 * A backup that is a file: the newest `pg_dump` archive under an S3 prefix, restored into a temporary database of the
 * worker's scratch PostgreSQL (RUNBOOKS_SCRATCH_PG_URL) and checked there with the same SQL checks.
 */
export const pgDumpTarget = z
  .object({
    kind: z.literal('pg_dump'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { message: 'expected letters, digits, ".", "_" or "-"' })
      .optional()
      .describe('Its name in the report and the child workflow ID (default: <bucket>/<prefix>)'),
    bucket: s3Bucket.describe('The S3 bucket holding the archives'),
    prefix: z.string().max(1024).default('').describe('Key prefix of the archives, e.g. "backups/app/"'),
    region: awsRegion.optional().describe('The bucket’s region (default: the input’s region)'),
    rpo: durationString({ min: '1m', max: '90d' })
      .optional()
      .describe('An older newest archive fails (default: the input’s maxSnapshotAge)'),
    format: z
      .enum(['custom', 'plain'])
      .optional()
      .describe(
        'custom: pg_dump -Fc, restored with pg_restore; plain: SQL, run with psql (default: told by the file; gzip is unpacked)',
      ),
    checks: z
      .array(dataCheck)
      .max(50)
      .optional()
      .describe('Queries and their bounds, run against the restored database (default: the input’s dataChecks.checks)'),
    timeout: durationString({ min: '1s', max: '30m' })
      .optional()
      .describe('Statement timeout of each check (default 2m)'),
  })
  .strict();
export type PgDumpTarget = z.output<typeof pgDumpTarget>;

export const verificationTarget = z.discriminatedUnion('kind', [snapshotTarget, pgDumpTarget], {
  error: 'expected kind "rds-snapshot" (the default: {"dbInstance": …}) or "pg_dump" ({"bucket": …, "prefix": …})',
});

/** A pg_dump target's name: its own, or <bucket>/<prefix> (without a trailing slash). */
export const pgDumpTargetName = (t: { name?: string | undefined; bucket: string; prefix?: string | undefined }) =>
  t.name ?? `${t.bucket}/${t.prefix ?? ''}`.replace(/\/+$/, '');

/** The name a database entry goes by in the report: the DB instance, or the pg_dump target's name. */
export const targetName = (t: z.output<typeof verificationTarget>) =>
  t.kind === 'pg_dump' ? pgDumpTargetName(t) : t.dbInstance;

export const backupVerificationInput = z
  .object({
    region: awsRegion,
    databases: z.array(verificationTarget).max(100).optional().describe('The databases to verify'),
    tag: z
      .object({ key: z.string().min(1), value: z.string().min(1) })
      .strict()
      .optional()
      .describe('Or: every DB instance with this tag (pg_dump archives may still be listed in databases)'),
    maxSnapshotAge: durationString({ min: '1m', max: '90d' }).default('24h').describe('An older newest snapshot fails'),
    dataChecks: dataChecks.optional().describe('Checks for databases that have none of their own'),
    maxConcurrent: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(2)
      .describe(
        'Restores running at once. A restore waits minutes on AWS: a big fleet needs more at once for the AWS API rate limits (RUNBOOKS_AWS_RATE_LIMITS) to be what bounds the run; mind the account’s DB instance quota (40 by default), which the temporary instances count against',
      ),
    instanceClass: z.string().min(1).default('db.t3.micro').describe('Class of the temporary instances'),
    subnetGroup: z.string().min(1).optional(),
    securityGroupIds: z.array(z.string().min(1)).max(10).optional(),
    restoreTimeout: durationString({ min: '30s', max: '2h50m' }).default('1h'),
    initiatedBy: runbookCommon.initiatedBy,
    initiatorProof: runbookCommon.initiatorProof,
    reason: runbookCommon.reason,
    dryRun: runbookCommon.dryRun,
    account: runbookCommon.account,
  })
  .strict()
  .superRefine((v, ctx) => {
    if (!v.databases?.length && !v.tag) {
      ctx.addIssue({ code: 'custom', path: ['databases'], message: 'expected a list of databases or a tag' });
    }
    // A tag selects RDS instances; pg_dump archives (which carry no RDS tag) may be listed next to it.
    if (v.tag && v.databases?.some((d) => d.kind !== 'pg_dump')) {
      ctx.addIssue({
        code: 'custom',
        path: ['tag'],
        message: 'give DB instances in databases or by tag, not both (pg_dump archives may be listed with a tag)',
      });
    }
    // Each database gets one child workflow (its ID names the database) and one temporary instance: a second entry
    // would collide with the first. RDS ids ignore case.
    const seen = new Map<string, number>();
    for (const [i, d] of (v.databases ?? []).entries()) {
      if (d.kind === 'pg_dump') {
        // Its own child workflow and timeline step, named after it: two entries under one name (or one name and an
        // RDS id, whose steps read alike) would collide.
        const name = pgDumpTargetName(d).toLowerCase();
        const first = seen.get(name);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['databases', i, 'name'],
            message: `listed twice (${pgDumpTargetName(d)} is also input.databases.${first}; give each a name)`,
          });
        } else {
          seen.set(name, i);
        }
        if (!d.checks && !v.dataChecks) {
          ctx.addIssue({
            code: 'custom',
            path: ['databases', i, 'checks'],
            message: 'expected checks (here or in the input’s dataChecks.checks)',
          });
        }
        continue;
      }
      const first = seen.get(d.dbInstance.toLowerCase());
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i],
          message: `listed twice (${d.dbInstance} is also input.databases.${first}; RDS ids ignore case)`,
        });
      } else {
        seen.set(d.dbInstance.toLowerCase(), i);
      }
      if (!d.dataChecks && !v.dataChecks) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'dataChecks'],
          message: 'expected data checks (here or in the input’s dataChecks)',
        });
      }
    }
    if (v.tag && !v.dataChecks) {
      ctx.addIssue({ code: 'custom', path: ['dataChecks'], message: 'expected data checks for the tagged databases' });
    }
  });

export type BackupVerificationInput = z.input<typeof backupVerificationInput>;
export type BackupVerificationParams = z.output<typeof backupVerificationInput>;

/** Scheduled runs get the schedule's own IDs; a manual run: one per region at a time. */
export const backupVerificationWorkflowId = (i: { region: string }) => `backup-verification:${i.region}`;

export interface VerifyBackupInput {
  region: string;
  dbInstance: string;
  maxSnapshotAge: string;
  dataChecks: DataChecksInput;
  instanceClass: string;
  subnetGroup?: string;
  securityGroupIds?: string[];
  restoreTimeout: string;
}

/** One pg_dump target, as its child workflow (verifyPgDump) gets it. */
export interface VerifyPgDumpInput {
  /** Its name in the report. */
  name: string;
  region: string;
  bucket: string;
  prefix: string;
  rpo: string;
  format?: 'custom' | 'plain';
  checks: DataCheckInput[];
  timeout: string;
  restoreTimeout: string;
}

export interface VerifyBackupResult {
  /** The DB instance; for a pg_dump target, its name (pgDumpTargetName). */
  dbInstance: string;
  /** Set for a pg_dump target: the newest archive under the prefix. */
  archive?: {
    bucket: string;
    key: string;
    lastModified?: string;
    ageSeconds?: number;
    sizeBytes?: number;
    /** How the file was restored (custom: pg_restore; plain: psql), and whether it was gzipped. */
    format?: string;
    gzipped?: boolean;
    /** Errors the restore reported and the run let pass (ownership, privileges of roles the scratch server lacks). */
    restoreWarnings?: string[];
  };
  /** pg_dump target: the temporary database in the worker's scratch PostgreSQL. */
  tempDatabase?: string;
  /** pg_dump target: the cleanup dropped it (or it was never created). */
  tempDatabaseDropped?: boolean;
  passed: boolean;
  reasons: string[];
  snapshot?: { id: string; type: string; createdAt?: string; ageSeconds?: number };
  /** The temporary instance's name (set once a restore was asked for). */
  tempInstance?: string;
  /** What the cleanup's delete answered: true once RDS accepted the delete of the instance this run created. */
  tempInstanceDeleted: boolean;
  /** The cleanup failed: an instance this run created may be left (delete it by hand). */
  tempInstanceLeft?: boolean;
  dataChecks?: DataCheckSummary;
  durationMs: number;
}

export interface BackupVerificationResult {
  passed: boolean;
  databases: VerifyBackupResult[];
  summary: string;
}

/** snapshotRestore in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const snapshotRestoreEntry = runbookEntry({
  type: 'snapshotRestore',
  slug: 'snapshot-restore',
  title: 'Restore an RDS snapshot or point in time to a new instance, check its data, switch the app to it',
  schema: snapshotRestoreInput,
  workflowId: snapshotRestoreWorkflowId,
});

/** backupVerification in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const backupVerificationEntry = runbookEntry({
  type: 'backupVerification',
  slug: 'backup-verification',
  title: 'Restore the newest backups to temporary instances, check their data and age, delete them',
  schema: backupVerificationInput,
  workflowId: backupVerificationWorkflowId,
});
