// backupVerification — seed 000 weekly "Backup Verification" and seed 002 "Backup Verification" (restore to staging,
// count rows), done as AWS Backup restore testing does it and more: for each database (child workflows, N at a time)
// find the newest snapshot and check its age (RPO), restore it to a temporary instance, run real SQL checks, and
// always delete the temporary instance — on success, failure, cancel or after a worker crash. A failed verification
// fails the run, visibly.
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { compactUtc, formatDuration, parseDuration } from '../api/duration';
import {
  type BackupVerificationInput,
  type BackupVerificationResult,
  type DataChecksInput,
  type VerifyBackupInput,
  type VerifyBackupResult,
  type VerifyPgDumpInput,
  targetName,
} from '../api/runbooks/restore';
import type { DataCheckSummary, RunbookReport } from '../api/status';
import { failedChecks, runDataChecks } from './lib/datachecks';
import { agedSnapshot } from './lib/db-steps';
import { errorMessage, fail } from './lib/errors';
import { aws, waits } from './lib/proxies';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { backupVerificationEntry } from '../api/runbooks/restore';
import { must } from './lib/must';
import { shortHash } from './lib/hash';
import { verifyPgDump } from './verifyPgDump';

export async function backupVerification(
  input: BackupVerificationInput,
): Promise<RunbookReport<BackupVerificationResult>> {
  return runRunbook(backupVerificationEntry, input, {
    target: (p) =>
      p.tag
        ? `${p.region} tag ${p.tag.key}=${p.tag.value}${p.databases?.length ? ` + ${p.databases.map(targetName).join(', ')}` : ''}`
        : `${p.region}: ${(p.databases ?? []).map(targetName).join(', ')}`,
    async execute(ctx) {
      const p = ctx.params;
      const targets = await ctx.step(
        'Find the databases to verify',
        async () => {
          // The input schema requires databases or a tag (a tag may come with pg_dump archives), and checks for every
          // database.
          const listed = (p.databases ?? []).map(
            (d): Target =>
              d.kind === 'pg_dump'
                ? // A backup that is a file: named in the report by its name (default <bucket>/<prefix>).
                  {
                    dbInstance: targetName(d),
                    pgDump: {
                      name: targetName(d),
                      region: d.region ?? p.region,
                      bucket: d.bucket,
                      prefix: d.prefix,
                      rpo: d.rpo ?? p.maxSnapshotAge,
                      ...(d.format ? { format: d.format } : {}),
                      checks: d.checks ?? must(p.dataChecks, 'dataChecks').checks,
                      timeout: d.timeout ?? p.dataChecks?.timeout ?? '2m',
                      restoreTimeout: p.restoreTimeout,
                    },
                  }
                : {
                    dbInstance: d.dbInstance,
                    dataChecks: d.dataChecks ?? must(p.dataChecks, 'dataChecks'),
                  },
          );
          if (!p.tag) return listed;
          const tag = p.tag;
          const ids = await aws.listDbInstancesByTag({ region: p.region, key: tag.key, value: tag.value });
          if (!ids.length)
            throw fail('ResourceNotFound', `no DB instance in ${p.region} has the tag ${tag.key}=${tag.value}`);
          const dataChecks = must(p.dataChecks, 'dataChecks');
          return [...ids.map((dbInstance): Target => ({ dbInstance, dataChecks })), ...listed];
        },
        { details: (t) => ({ databases: t.map((d) => d.dbInstance) }) },
      );
      if (
        ctx.planned(
          targets.map((t) =>
            t.pgDump
              ? {
                  step: `Verify ${t.dbInstance}`,
                  action:
                    's3:ListObjectsV2 + s3:GetObject + pg_restore into a temporary database of the worker’s scratch PostgreSQL + SQL checks + DROP DATABASE',
                  params: {
                    archives: `s3://${t.pgDump.bucket}/${t.pgDump.prefix}`,
                    newestArchiveMaxAge: t.pgDump.rpo,
                    tempDatabase: 'verify_pgdump_<yyyymmddhhmm>_<run>',
                    checks: t.pgDump.checks.map((c) => c.name),
                  },
                }
              : {
                  step: `Verify ${t.dbInstance}`,
                  action: 'rds:RestoreDBInstanceFromDBSnapshot + SQL checks + rds:DeleteDBInstance',
                  params: {
                    newestSnapshotMaxAge: p.maxSnapshotAge,
                    tempInstance: `verify-${t.dbInstance.slice(0, 34)}…-<yyyymmddhhmm>-<hash of database and run>`,
                    checks: t.dataChecks.checks.map((c) => c.name),
                  },
                },
          ),
        ) === 'dry-run'
      )
        return DRY_RUN;

      // No resource lock (ctx.lockResources): the run changes nothing another run changes. It only reads the
      // databases and their snapshots, and creates and deletes temporary instances under names no other run uses
      // (tempInstanceName: database, run and minute), deleting only the ones tagged with its own run. Holding the
      // databases would refuse a restore or a failover for as long as the scheduled verification runs, for nothing.

      // Children, at most maxConcurrent at a time. A parent that is cancelled asks them to cancel and waits for them
      // to clean up.
      const parentId = workflowInfo().workflowId;
      const results: VerifyBackupResult[] = new Array(targets.length);
      let next = 0;
      const lane = async () => {
        while (next < targets.length) {
          const i = next++;
          const t = must(targets[i], `target ${i}`);
          if (t.pgDump) {
            const pgDump = t.pgDump;
            results[i] = await ctx.step(
              `Verify ${t.dbInstance}`,
              () =>
                executeChild(verifyPgDump, {
                  workflowId: `${parentId}/verify-pgdump-${t.dbInstance}`,
                  args: [pgDump],
                  parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
                  cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
                }),
              {
                // It creates (and drops) a temporary database in the worker's scratch PostgreSQL.
                mutating: true,
                outcome: (r) => (r.passed ? 'succeeded' : 'failed'),
                details: (r) => ({
                  passed: r.passed,
                  ...(r.reasons.length ? { reasons: r.reasons } : {}),
                  archive: r.archive ? `s3://${r.archive.bucket}/${r.archive.key}` : undefined,
                  sizeBytes: r.archive?.sizeBytes,
                  tempDatabaseDropped: r.tempDatabase ? r.tempDatabaseDropped : undefined,
                }),
              },
            );
            continue;
          }
          const args: VerifyBackupInput = {
            region: p.region,
            dbInstance: t.dbInstance,
            maxSnapshotAge: p.maxSnapshotAge,
            dataChecks: t.dataChecks,
            instanceClass: p.instanceClass,
            ...(p.subnetGroup ? { subnetGroup: p.subnetGroup } : {}),
            ...(p.securityGroupIds ? { securityGroupIds: p.securityGroupIds } : {}),
            restoreTimeout: p.restoreTimeout,
          };
          results[i] = await ctx.step(
            `Verify ${t.dbInstance}`,
            () =>
              executeChild(verifyBackup, {
                workflowId: `${parentId}/verify-${t.dbInstance}`,
                args: [args],
                parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
                cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
              }),
            {
              // It creates (and deletes) a temporary instance; a database that fails shows as a failed step.
              mutating: true,
              outcome: (r) => (r.passed ? 'succeeded' : 'failed'),
              details: (r) => ({
                passed: r.passed,
                ...(r.reasons.length ? { reasons: r.reasons } : {}),
                snapshot: r.snapshot?.id,
                tempInstanceDeleted: r.tempInstanceDeleted,
              }),
            },
          );
        }
      };
      await Promise.all(Array.from({ length: Math.min(p.maxConcurrent, targets.length) }, lane));

      const failed = results.filter((r) => !r.passed);
      const summary = failed.length
        ? `${failed.length} of ${results.length} backup verification(s) FAILED: ${failed.map((r) => `${r.dbInstance} (${r.reasons.join('; ')})`).join('; ')}`
        : `all ${results.length} backup(s) verified: ${results.map(describeVerified).join('; ')}`;
      const result: BackupVerificationResult = { passed: failed.length === 0, databases: results, summary };
      // Children recorded before tempInstanceLeft existed: an instance not deleted counts as left.
      const leftOver = results
        .filter((r) => r.tempInstance && (r.tempInstanceLeft ?? !r.tempInstanceDeleted))
        .map((r) => r.tempInstance);
      const dbsLeft = results.filter((r) => r.tempDatabase && !r.tempDatabaseDropped).map((r) => r.tempDatabase);
      ctx.noteOnFailure(
        (leftOver.length
          ? `Temporary instances NOT deleted: ${leftOver.join(', ')} — delete them by hand.`
          : 'No temporary instance of this run is left.') +
          (dbsLeft.length
            ? ` Temporary databases NOT dropped: ${dbsLeft.join(', ')} (the next verification drops them).`
            : ''),
      );
      if (failed.length) {
        // Visible: the run fails (red in the UI, non-zero in the CLI), with every database's result in the details.
        throw ctx.failWithResult('BackupVerificationFailed', summary, result);
      }
      return result;
    },
  });
}

/** What each database entry is: an RDS instance and its checks, or a pg_dump archive source (verifyPgDump's input). */
type Target =
  | { dbInstance: string; dataChecks: DataChecksInput; pgDump?: undefined }
  | { dbInstance: string; pgDump: VerifyPgDumpInput; dataChecks?: undefined };

/** "demo-db (snapshot s1, 2h old)" or "app-backups (archive s3://b/k, 3h old, 120 kB)" */
function describeVerified(r: VerifyBackupResult): string {
  const age = (s: number | undefined) => (s !== undefined ? formatDuration(s * 1000) : '?');
  if (r.archive) {
    return `${r.dbInstance} (archive s3://${r.archive.bucket}/${r.archive.key}, ${age(r.archive.ageSeconds)} old, ${r.archive.sizeBytes ?? '?'} bytes)`;
  }
  return `${r.dbInstance} (snapshot ${r.snapshot?.id}, ${age(r.snapshot?.ageSeconds)} old)`;
}

export { shortHash };

/**
 * The temporary instance's name: `verify-<database id, cut>-<yyyymmddhhmm>-<hash>`, at most 63 characters. The hash
 * covers the whole database id and the child's run, so databases whose ids differ only past the cut (or two runs in
 * one minute) never share a name.
 */
export function tempInstanceName(dbInstance: string, run: string, at: Date): string {
  const stamp = compactUtc(at, 'minute');
  const hash = shortHash(`${dbInstance}\n${run}`);
  // RDS ids may not end in a hyphen nor hold two in a row: trim what the cut leaves.
  const prefix = `verify-${dbInstance}`.slice(0, 63 - stamp.length - hash.length - 2).replace(/-+$/, '');
  return `${prefix}-${stamp}-${hash}`;
}

/** One database: newest snapshot → age check → temporary restore → SQL checks → always delete the temporary instance. */
export async function verifyBackup(input: VerifyBackupInput): Promise<VerifyBackupResult> {
  const started = Date.now();
  const reasons: string[] = [];
  let snapshot: VerifyBackupResult['snapshot'];
  let temp: string | undefined;
  let tempInstanceDeleted = false;
  let tempInstanceLeft = false;
  let checks: DataCheckSummary | undefined;
  const ref = { region: input.region, dbInstance: input.dbInstance };
  // The temporary instance is tagged with this run, and only an instance with that tag is ever deleted.
  const runId = `${workflowInfo().workflowId}/${workflowInfo().runId}`;
  try {
    const newest = (await aws.listSnapshots(ref))[0];
    if (!newest) {
      reasons.push(`${input.dbInstance} has no available snapshot`);
    } else {
      snapshot = agedSnapshot(newest);
      const { ageSeconds } = snapshot;
      const maxAgeMs = parseDuration(input.maxSnapshotAge);
      if (ageSeconds === undefined || ageSeconds * 1000 > maxAgeMs) {
        reasons.push(
          `the newest snapshot ${newest.id} is ${ageSeconds !== undefined ? formatDuration(ageSeconds * 1000) : 'of unknown age'} old, older than maxSnapshotAge ${input.maxSnapshotAge}`,
        );
      } else {
        if (patched('verify-backup-unique-temp-name')) {
          temp = tempInstanceName(input.dbInstance, runId, new Date());
        } else {
          // Runs started before: the name they restored under (shared by ids alike in their first 43 characters).
          const stamp = compactUtc(new Date(), 'minute');
          const prefix = `verify-${input.dbInstance}`;
          temp = `${prefix.slice(0, 63 - stamp.length - 1)}-${stamp}`;
        }
        const restored = await aws.restoreFromSnapshot({
          region: input.region,
          dbInstance: temp,
          snapshotId: newest.id,
          instanceClass: input.instanceClass,
          ...(input.subnetGroup ? { subnetGroup: input.subnetGroup } : {}),
          ...(input.securityGroupIds ? { securityGroupIds: input.securityGroupIds } : {}),
          runId,
        });
        const db = await waits.waitForDbAvailable({
          region: input.region,
          dbInstance: temp,
          timeoutMs: parseDuration(input.restoreTimeout),
          label: 'temporary restored instance',
        });
        checks = await runDataChecks(
          input.region,
          { address: db.endpoint ?? restored.db.endpoint ?? '', port: db.port ?? 5432 },
          input.dataChecks,
        );
        if (!checks.passed) reasons.push(`data checks failed: ${failedChecks(checks)}`);
      }
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    reasons.push(errorMessage(err));
  } finally {
    // Always: on success, failure, cancellation (shielded from it) and after a worker crash (the run resumes here).
    if (temp) {
      const name = temp;
      await CancellationScope.nonCancellable(async () => {
        try {
          // Only what this run created: under this name there may be another run's instance (its restore refused
          // ours), which is not this run's to delete.
          const out = await aws.deleteDbInstance({ region: input.region, dbInstance: name, createdBy: runId });
          tempInstanceDeleted = out.deleted;
          if (out.notCreatedBy) {
            reasons.push(
              `the temporary instance ${name} was not created by this run (runbook-run tag: ` +
                `${out.notCreatedBy.createdBy ?? 'none'}): left alone`,
            );
          }
        } catch (err) {
          tempInstanceLeft = true;
          reasons.push(
            `the temporary instance ${name} could not be deleted: ${errorMessage(err)} — delete it by hand if its ` +
              `runbook-run tag is ${runId}`,
          );
        }
      });
    }
  }
  return {
    dbInstance: input.dbInstance,
    passed: reasons.length === 0,
    reasons,
    ...(snapshot ? { snapshot } : {}),
    ...(temp ? { tempInstance: temp } : {}),
    tempInstanceDeleted,
    ...(temp ? { tempInstanceLeft } : {}),
    ...(checks ? { dataChecks: checks } : {}),
    durationMs: Date.now() - started,
  };
}
