// backupVerification's child for a backup that is a file (seed 002: pg_dump to S3, "restore to staging, count
// rows"): the newest archive under the S3 prefix → its age against the RPO → download and restore into a temporary
// database of the worker's scratch PostgreSQL → the same SQL checks → always drop the temporary database, on success,
// failure, cancellation or after a worker crash (the run resumes in the `finally`). The downloaded file never outlives
// the restore activity (activities/pgdump.ts).
import {
  ActivityCancellationType,
  CancellationScope,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { compactUtc, formatDuration, parseDuration } from '../api/duration';
import type { VerifyBackupResult, VerifyPgDumpInput } from '../api/runbooks/restore';
import type { DataCheckSummary } from '../api/status';
import { failedChecks } from './lib/datachecks';
import { errorMessage } from './lib/errors';
import { shortHash } from './lib/hash';
import { aws, NON_RETRYABLE_ERRORS } from './lib/proxies';

/**
 * The download-and-restore and the checks: hours at most, heartbeating (the `waits` class), except that a cancelled
 * run waits for the activity to stop — pg_restore killed, the file deleted — before it drops the database, so that
 * no restore can still be creating it after the drop.
 */
const restores = proxyActivities<Pick<Activities, 'restorePgDumpArchive' | 'runScratchDataChecks'>>({
  startToCloseTimeout: '3h',
  heartbeatTimeout: '20s',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
});

/**
 * `verify_pgdump_<yyyymmddhhmm>_<hash of the child's workflow ID and run ID>`: one per run and entry (run IDs alone
 * are time-ordered UUIDs: two children started together share their first digits), found by its prefix.
 */
export function scratchDatabaseName(workflowId: string, runId: string, at: Date): string {
  return `verify_pgdump_${compactUtc(at, 'minute')}_${shortHash(`${workflowId}\n${runId}`)}`;
}

export async function verifyPgDump(input: VerifyPgDumpInput): Promise<VerifyBackupResult> {
  const started = Date.now();
  const reasons: string[] = [];
  const where = `s3://${input.bucket}/${input.prefix}`;
  let archive: VerifyBackupResult['archive'];
  let temp: string | undefined;
  let dropped = false;
  let checks: DataCheckSummary | undefined;
  const run = `${workflowInfo().workflowId}/${workflowInfo().runId}`;
  try {
    const newest = await aws.findNewestBackupObject({
      region: input.region,
      bucket: input.bucket,
      prefix: input.prefix,
    });
    if (!newest) {
      reasons.push(`${where} holds no archive`);
    } else {
      const ageSeconds = newest.lastModified
        ? Math.max(0, Math.round((Date.now() - Date.parse(newest.lastModified)) / 1000))
        : undefined;
      archive = {
        bucket: input.bucket,
        key: newest.key,
        ...(newest.lastModified ? { lastModified: newest.lastModified } : {}),
        ...(ageSeconds !== undefined ? { ageSeconds } : {}),
        sizeBytes: newest.sizeBytes,
      };
      if (ageSeconds === undefined || ageSeconds * 1000 > parseDuration(input.rpo)) {
        reasons.push(
          `the newest archive s3://${input.bucket}/${newest.key} is ${ageSeconds !== undefined ? formatDuration(ageSeconds * 1000) : 'of unknown age'} old, older than the RPO ${input.rpo}`,
        );
      } else {
        temp = scratchDatabaseName(workflowInfo().workflowId, workflowInfo().runId, new Date());
        const restored = await restores.restorePgDumpArchive({
          region: input.region,
          bucket: input.bucket,
          key: newest.key,
          database: temp,
          run,
          ...(input.format ? { format: input.format } : {}),
          timeoutMs: parseDuration(input.restoreTimeout),
        });
        archive = {
          ...archive,
          sizeBytes: restored.sizeBytes,
          format: restored.format,
          gzipped: restored.gzipped,
          ...(restored.restoreWarnings.length ? { restoreWarnings: restored.restoreWarnings } : {}),
        };
        checks = await restores.runScratchDataChecks({
          database: temp,
          checks: input.checks,
          timeoutMs: parseDuration(input.timeout),
        });
        if (!checks.passed) reasons.push(`data checks failed: ${failedChecks(checks)}`);
      }
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    reasons.push(errorMessage(err));
  } finally {
    // Always, shielded from cancellation. Idempotent: a database the restore never created (or dropped itself after
    // a failure) is simply not there.
    if (temp) {
      const name = temp;
      await CancellationScope.nonCancellable(async () => {
        try {
          await aws.dropScratchDatabase({ database: name });
          dropped = true;
        } catch (err) {
          reasons.push(
            `the temporary database ${name} could not be dropped: ${errorMessage(err)} — the next verification drops ` +
              `it, or drop it by hand (DROP DATABASE ${name})`,
          );
        }
      });
    }
  }
  return {
    dbInstance: input.name,
    passed: reasons.length === 0,
    reasons,
    ...(archive ? { archive } : {}),
    ...(temp ? { tempDatabase: temp, tempDatabaseDropped: dropped } : {}),
    tempInstanceDeleted: false,
    ...(checks ? { dataChecks: checks } : {}),
    durationMs: Date.now() - started,
  };
}
