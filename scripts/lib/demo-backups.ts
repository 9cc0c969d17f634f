// The demo's backups that are files (seed 002: pg_dump to S3): an S3 bucket `demo-backups` in us-east-1, and a
// `pg_dump -Fc` archive of the demo PostgreSQL's data under backups/app/, made when the stack starts — what
// docs/examples/backup-verification-pgdump.json verifies.
import { spawnSync } from 'node:child_process';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { postgresProgram } from '../../activities/pg-tools';
import type { AwsClients } from '../../activities/aws-clients';
import { compactUtc } from '../../api/duration';
import { DEMO_DB } from './postgres';

export const DEMO_BACKUPS = { region: 'us-east-1', bucket: 'demo-backups', prefix: 'backups/app/' } as const;

/** The bucket (idempotent). us-east-1 takes no location constraint. */
export async function ensureDemoBackupBucket(aws: AwsClients): Promise<void> {
  try {
    await aws.s3(DEMO_BACKUPS.region).send(new CreateBucketCommand({ Bucket: DEMO_BACKUPS.bucket }));
  } catch (err) {
    if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw err;
  }
}

/** `pg_dump` of a database (custom format unless `plain`), as bytes. */
export function pgDump(
  pg: { host: string; port: number },
  opts: { plain?: boolean; db?: { user: string; password: string; database: string } } = {},
): Buffer {
  const db = opts.db ?? DEMO_DB;
  const out = spawnSync(
    postgresProgram('pg_dump'),
    [opts.plain ? '--format=plain' : '--format=custom', '--no-owner', '--no-privileges', db.database],
    {
      env: {
        ...process.env,
        PGHOST: pg.host,
        PGPORT: String(pg.port),
        PGUSER: db.user,
        PGPASSWORD: db.password,
        PGSSLMODE: 'disable',
      },
      maxBuffer: 512 * 1024 * 1024,
    },
  );
  if (out.status !== 0) throw new Error(`pg_dump failed: ${out.stderr?.toString('utf8') || out.error?.message}`);
  return out.stdout;
}

/** Today's backup: a pg_dump archive of the demo data, as backups/app/app-<yyyymmddhhmmss>.dump. Returns its key. */
export async function uploadDemoBackup(aws: AwsClients, pg: { host: string; port: number }): Promise<string> {
  await ensureDemoBackupBucket(aws);
  const key = `${DEMO_BACKUPS.prefix}app-${compactUtc(new Date(), 'second')}.dump`;
  await aws
    .s3(DEMO_BACKUPS.region)
    .send(new PutObjectCommand({ Bucket: DEMO_BACKUPS.bucket, Key: key, Body: pgDump(pg) }));
  return key;
}
