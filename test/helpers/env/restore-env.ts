// Building blocks for the restore runbooks' end-to-end tests (snapshotRestore, backupVerification): uniquely named
// source DB instances with manual snapshots, the DB secret the data checks read, and readers for the RDS state the
// runs leave behind. The proxy that makes chosen snapshots look old (moto stamps every snapshot "now") is
// startSnapshotAgingProxy in ../proxies/aws-proxy.ts; what a run's history says, ../history.ts.
import { DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, type DBInstance } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../../activities/aws-clients';
import { describeDb, ensureDbInstance, ensureDbSnapshot, ensureSecret } from '../../../scripts/lib/fixtures';
import { DEMO_DB } from '../../../scripts/lib/postgres';
import { uid } from '../temporal';

/** What the test PostgreSQL's `app` role needs: the data checks read these fields inside the activity. */
export const DB_SECRET = { username: DEMO_DB.user, password: DEMO_DB.password, dbname: DEMO_DB.database };

/** Checks the test PostgreSQL's data passes (1200 users, 3000 orders, none without a user). */
export const GOOD_CHECKS = [
  { name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 1000 } },
  { name: 'orders', sql: 'SELECT count(*) FROM orders', expect: { min: 1 } },
  {
    name: 'orders without a user',
    sql: 'SELECT count(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL',
    expect: { equals: 0 },
  },
];

/** The results GOOD_CHECKS give on the test data. */
export const GOOD_RESULTS = [
  { name: 'users', value: 1200, expect: '≥ 1000', pass: true },
  { name: 'orders', value: 3000, expect: '≥ 1', pass: true },
  { name: 'orders without a user', value: 0, expect: '= 0', pass: true },
];

export interface SourceDb {
  region: string;
  id: string;
  arn: string;
  endpoint: string;
  createdAt: string;
  /** Manual snapshots, oldest first. */
  snapshots: string[];
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A uniquely named PostgreSQL instance (or named `id`) with `snapshots` manual snapshots (each stamped later than the
 * one before).
 */
export async function makeSourceDb(
  aws: AwsClients,
  region: string,
  opts: { snapshots?: number; tags?: { Key: string; Value: string }[]; prefix?: string; id?: string } = {},
): Promise<SourceDb> {
  const id = opts.id ?? uid(opts.prefix ?? 'db');
  const db = await ensureDbInstance(aws, region, id, {
    masterPassword: DEMO_DB.password,
    ...(opts.tags ? { tags: opts.tags } : {}),
  });
  const snapshots: string[] = [];
  for (let i = 1; i <= (opts.snapshots ?? 1); i++) {
    await pause(20); // distinct SnapshotCreateTime (milliseconds) for each
    await ensureDbSnapshot(aws, region, id, `${id}-s${i}`);
    snapshots.push(`${id}-s${i}`);
  }
  return {
    region,
    id,
    arn: db.DBInstanceArn!,
    endpoint: db.Endpoint!.Address!,
    createdAt: db.InstanceCreateTime!.toISOString(),
    snapshots,
  };
}

/** A uniquely named DB secret (the test PostgreSQL's credentials, plus `extra` fields). */
export async function makeDbSecret(
  aws: AwsClients,
  region: string,
  extra: Record<string, string> = {},
): Promise<string> {
  const name = `test/db/${uid('secret')}`;
  await ensureSecret(aws, region, name, { ...DB_SECRET, ...extra });
  return name;
}

/** The instance as DescribeDBInstances shows it, or undefined once it is gone. */
export async function dbInstance(aws: AwsClients, region: string, id: string): Promise<DBInstance | undefined> {
  return describeDb(aws, region, id);
}

export const tagOf = (db: DBInstance | undefined, key: string) => db?.TagList?.find((t) => t.Key === key)?.Value;

/** Ids of every instance in the region whose id starts with `prefix` (all pages). */
export async function instancesWithPrefix(aws: AwsClients, region: string, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const out = await aws.rds(region).send(new DescribeDBInstancesCommand({ Marker: marker }));
    for (const db of out.DBInstances ?? []) {
      if (db.DBInstanceIdentifier?.startsWith(prefix)) ids.push(db.DBInstanceIdentifier);
    }
    marker = out.Marker;
  } while (marker);
  return ids.sort();
}

export interface SnapshotInfo {
  id: string;
  type: string;
  status: string;
  dbInstance: string;
  createdAt: string;
}

/** Every snapshot of an instance (automated and manual), as DescribeDBSnapshots lists them. */
export async function snapshotsOf(aws: AwsClients, region: string, dbId: string): Promise<SnapshotInfo[]> {
  const found: SnapshotInfo[] = [];
  let marker: string | undefined;
  do {
    const out = await aws
      .rds(region)
      .send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: dbId, Marker: marker }));
    for (const s of out.DBSnapshots ?? []) {
      found.push({
        id: s.DBSnapshotIdentifier ?? '',
        type: s.SnapshotType ?? '',
        status: s.Status ?? '',
        dbInstance: s.DBInstanceIdentifier ?? '',
        createdAt: s.SnapshotCreateTime?.toISOString() ?? '',
      });
    }
    marker = out.Marker;
  } while (marker);
  return found;
}

/** One snapshot by id, or undefined when RDS does not know it. */
export async function snapshotById(aws: AwsClients, region: string, id: string): Promise<SnapshotInfo | undefined> {
  try {
    const out = await aws.rds(region).send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }));
    const s = out.DBSnapshots?.[0];
    return s
      ? {
          id: s.DBSnapshotIdentifier ?? '',
          type: s.SnapshotType ?? '',
          status: s.Status ?? '',
          dbInstance: s.DBInstanceIdentifier ?? '',
          createdAt: s.SnapshotCreateTime?.toISOString() ?? '',
        }
      : undefined;
  } catch (err) {
    if ((err as Error).name === 'DBSnapshotNotFoundFault') return undefined;
    throw err;
  }
}

/** The largest number of [start, end) intervals that overlap at one moment. */
export function maxOverlap(intervals: { start: number; end: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  // At one instant, ends before starts: a lane that finishes and one that starts at once do not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let max = 0;
  for (const e of edges) {
    now += e.d;
    max = Math.max(max, now);
  }
  return max;
}
