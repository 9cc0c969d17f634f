// backupVerification's backups that are files: the newest pg_dump archive under an S3 prefix, downloaded to the
// worker, restored into a temporary database of the worker's scratch PostgreSQL (RUNBOOKS_SCRATCH_PG_URL, a role that
// may create databases), checked with the same SQL checks as a restored RDS instance, and dropped again.
//
// Where things live: the downloaded file exists only inside one attempt of restorePgDumpArchive (it is deleted in
// that attempt's `finally`), so no other activity needs this worker's disk. The temporary database outlives it: the
// workflow drops it (dropScratchDatabase) whatever happens. Each temporary database carries a comment naming the run
// that made it; one left by a run that can no longer drop it (terminated, or its drop failed) is dropped by the next
// restore, once Temporal says that run is closed. A file left by a worker process that died is removed the same way
// (its folder names the process).
import { spawn } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { Client as TemporalClient } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { Client, type ClientConfig } from 'pg';
import type { AwsClients } from './aws-clients';
import { checkDatabase, type DataCheck, type DataCheckReport } from './datachecks';
import { PreconditionFailed, ResourceNotFound } from './errors';
import { beat } from './heartbeat';
import { postgresProgram } from './pg-tools';
import { abortSignal, activityContext } from './poll';

/** Every temporary database's name starts with this (and nothing else of ours does): `verify_pgdump_<stamp>_<hash>`. */
export const SCRATCH_DB_PREFIX = 'verify_pgdump_';
const SCRATCH_NAME = /^verify_pgdump_(\d{12})_[0-9a-f]{8}$/;
/** The worker's download folders: `runbooks-pgdump-<pid>-<random>` in the temp folder. */
const FILE_DIR_PREFIX = 'runbooks-pgdump-';
/** Without a Temporal client to ask, a temporary database older than this counts as left over. */
const ORPHAN_AGE_MS = 24 * 3600_000;

export interface BackupObject {
  key: string;
  lastModified?: string;
  sizeBytes: number;
  /** How many objects the prefix holds. */
  objects: number;
}

export interface RestoredArchive {
  database: string;
  sizeBytes: number;
  format: 'custom' | 'plain';
  gzipped: boolean;
  restoreWarnings: string[];
  /** Temporary databases and download folders of earlier runs that this restore found left over and removed. */
  removedLeftovers: string[];
}

/** The scratch PostgreSQL the worker is configured with: RUNBOOKS_SCRATCH_PG_URL (postgres://user:pw@host:port/db). */
export function scratchConnection(url = process.env.RUNBOOKS_SCRATCH_PG_URL): ClientConfig & {
  host: string;
  port: number;
  user: string;
} {
  if (!url) {
    throw new PreconditionFailed(
      'this worker has no scratch PostgreSQL to restore pg_dump archives into: set RUNBOOKS_SCRATCH_PG_URL ' +
        '(postgres://<role that may create databases>:<password>@<host>:<port>/postgres) and restart the worker',
    );
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PreconditionFailed(
      'RUNBOOKS_SCRATCH_PG_URL is not a URL such as postgres://user:password@host:5432/postgres',
    );
  }
  const sslmode = u.searchParams.get('sslmode');
  return {
    host: decodeURIComponent(u.hostname) || '127.0.0.1',
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    ...(sslmode && sslmode !== 'disable' ? { ssl: { rejectUnauthorized: sslmode === 'verify-full' } } : {}),
  };
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

function assertScratchName(name: string): void {
  // Only names this module makes are ever created or dropped: never a database of anyone else's.
  if (!SCRATCH_NAME.test(name)) {
    throw new PreconditionFailed(
      `${name} is not a temporary database name (${SCRATCH_DB_PREFIX}<yyyymmddhhmm>_<hash>)`,
    );
  }
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ ...scratchConnection(), connectionTimeoutMillis: 15_000 });
  client.on('error', () => undefined); // a broken connection rejects the query in progress instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Download folders whose worker process is gone (it died mid-download or mid-restore). */
function removeDeadWorkersFiles(): string[] {
  const removed: string[] = [];
  const tmp = os.tmpdir();
  let names: string[] = [];
  try {
    names = readdirSync(tmp).filter((n) => n.startsWith(FILE_DIR_PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
      if (pid > 0 && processAlive(pid)) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      /* being set up right now, or not ours to remove */
    }
  }
  return removed;
}

/** Is the run that made a temporary database (its comment: {"run": "<workflow ID>/<run ID>"}) still open? */
async function ownerRunOpen(temporal: TemporalClient | undefined, comment: string | null, stamp: string) {
  let run: string | undefined;
  try {
    run = (JSON.parse(comment ?? '{}') as { run?: string }).run;
  } catch {
    /* no comment of ours */
  }
  if (temporal && run) {
    const cut = run.lastIndexOf('/');
    try {
      const d = await temporal.workflow.getHandle(run.slice(0, cut), run.slice(cut + 1)).describe();
      return d.status.name === 'RUNNING';
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') return false;
      return true; // Temporal did not answer: keep it, the next run asks again
    }
  }
  // No way to ask: by its age (the name's UTC minute).
  const at = Date.UTC(
    +stamp.slice(0, 4),
    +stamp.slice(4, 6) - 1,
    +stamp.slice(6, 8),
    +stamp.slice(8, 10),
    +stamp.slice(10, 12),
  );
  return Date.now() - at < ORPHAN_AGE_MS;
}

async function dropDatabase(c: Client, name: string): Promise<boolean> {
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  // FORCE: a check or a restore of a cancelled attempt may still hold a connection.
  await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  return (exists.rowCount ?? 0) > 0;
}

/** Runs a PostgreSQL program against the scratch server; resolves with its exit code and stderr. */
function runProgram(
  program: 'pg_restore' | 'psql',
  args: string[],
  database: string,
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string }> {
  const conn = scratchConnection();
  const sslmode = conn.ssl ? 'require' : 'disable';
  const cancelled = abortSignal();
  return new Promise((resolve, reject) => {
    const child = spawn(postgresProgram(program), args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        PGHOST: conn.host,
        PGPORT: String(conn.port),
        PGUSER: conn.user,
        PGPASSWORD: String(conn.password ?? ''),
        PGDATABASE: database,
        PGSSLMODE: sslmode,
        PGCONNECT_TIMEOUT: '15',
      },
    });
    let stopped: string | undefined;
    const stop = (why: string) => {
      stopped = why;
      child.kill('SIGTERM');
    };
    const timer = setTimeout(() => stop(`ran out of its time (${Math.round(timeoutMs / 1000)} s)`), timeoutMs);
    const onCancel = () => stop('was cancelled');
    cancelled?.addEventListener('abort', onCancel);
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 200_000) stderr += c.toString('utf8');
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      cancelled?.removeEventListener('abort', onCancel);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new PreconditionFailed(
            `${program} is not installed on this worker (set PG_BIN, or install PostgreSQL's client programs)`,
          ),
        );
      } else reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      cancelled?.removeEventListener('abort', onCancel);
      if (stopped) reject(new Error(`${program} ${stopped}`));
      // Killed by a signal nobody here sent: it crashed on what it read (pg_restore does, on some corrupt archives).
      else if (signal)
        resolve({ code: null, stderr: `${stderr}\n${program}: error: crashed (${signal}) reading the file` });
      else resolve({ code, stderr });
    });
  });
}

/**
 * Errors a restore may report that say nothing about the backup: the archive names roles, owners and grants of its
 * source server that the scratch server does not have (restored with --no-owner --no-privileges, they mostly go).
 */
const HARMLESS = [
  /role "[^"]+" does not exist/,
  /must be (owner|member of role|superuser)/,
  /permission denied to (set|grant|change)/,
  /must be owner of (extension|schema)/,
  /schema "public" already exists/,
  /errors ignored on restore/,
  /while PROCESSING TOC|from TOC entry|Command was:/,
];

function restoreErrors(stderr: string): { fatal: string[]; warnings: string[] } {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /(^|: )(error|ERROR|FATAL)[: ]/.test(l));
  const fatal = lines.filter((l) => !HARMLESS.some((re) => re.test(l)));
  const warnings = lines.filter((l) => HARMLESS.some((re) => re.test(l)) && !/errors ignored on restore/.test(l));
  return { fatal, warnings: warnings.slice(0, 20) };
}

/** The first bytes of a file. */
async function head(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export function createPgDumpActivities(aws: AwsClients, temporal?: TemporalClient) {
  return {
    /** The newest object under the prefix (ListObjectsV2, every page), or undefined when there is none. */
    async findNewestBackupObject(input: {
      region: string;
      bucket: string;
      prefix: string;
    }): Promise<BackupObject | undefined> {
      let newest: BackupObject | undefined;
      let newestAt = Number.NEGATIVE_INFINITY;
      let objects = 0;
      try {
        const pages = paginateListObjectsV2(
          { client: aws.s3(input.region), pageSize: 1000 },
          { Bucket: input.bucket, Prefix: input.prefix },
          { abortSignal: abortSignal() },
        );
        for await (const page of pages) {
          for (const o of page.Contents ?? []) {
            if (!o.Key || o.Key.endsWith('/')) continue; // a "folder" marker, not a backup
            objects++;
            const at = o.LastModified?.getTime() ?? Number.NEGATIVE_INFINITY;
            if (!newest || at > newestAt || (at === newestAt && o.Key > newest.key)) {
              newestAt = at;
              newest = {
                key: o.Key,
                ...(o.LastModified ? { lastModified: o.LastModified.toISOString() } : {}),
                sizeBytes: o.Size ?? 0,
                objects: 0,
              };
            }
          }
        }
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'NoSuchBucket')
          throw new ResourceNotFound(`the S3 bucket ${input.bucket} does not exist in ${input.region}`);
        if (name === 'AccessDenied' || name === 'PermanentRedirect') {
          throw new PreconditionFailed(
            `s3://${input.bucket}/${input.prefix} cannot be listed from ${input.region}: ${(err as Error).message}`,
          );
        }
        throw err;
      }
      return newest ? { ...newest, objects } : undefined;
    },

    /**
     * Download the archive (streaming, heartbeating its progress), create the temporary database, restore into it
     * (pg_restore for pg_dump's custom format, psql for plain SQL; gzip unpacked), delete the file. A restore that
     * fails drops the database again before it reports. A corrupt archive is not retried (PreconditionFailed); a
     * download that breaks off is (the next attempt starts over).
     */
    async restorePgDumpArchive(input: {
      region: string;
      bucket: string;
      key: string;
      database: string;
      /** `<workflow ID>/<run ID>` of the run: written on the database, so a leftover can be told from a live one. */
      run: string;
      format?: 'custom' | 'plain';
      timeoutMs: number;
    }): Promise<RestoredArchive> {
      assertScratchName(input.database);
      const ctx = activityContext();
      const deadline = Date.now() + input.timeoutMs;
      const removedLeftovers = removeDeadWorkersFiles();
      // Temporary databases that runs which can no longer drop them left behind.
      await withAdmin(async (c) => {
        const rows = await c.query<{ datname: string; comment: string | null }>(
          `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE $1`,
          [`${SCRATCH_DB_PREFIX.replace(/_/g, '\\_')}%`],
        );
        for (const r of rows.rows) {
          const m = SCRATCH_NAME.exec(r.datname);
          if (!m) continue;
          // An earlier attempt of this very restore (its worker died): start over.
          if (r.datname === input.database) {
            await dropDatabase(c, r.datname);
            continue;
          }
          if (await ownerRunOpen(temporal, r.comment, m[1]!)) continue;
          if (await dropDatabase(c, r.datname)) removedLeftovers.push(r.datname);
        }
      });

      const dir = mkdtempSync(path.join(os.tmpdir(), `${FILE_DIR_PREFIX}${process.pid}-`));
      await writeFile(path.join(dir, 'pid'), String(process.pid));
      let created = false;
      try {
        // 1. Download, counting bytes and heartbeating them.
        const raw = path.join(dir, 'archive');
        const got = await aws
          .s3(input.region)
          .send(new GetObjectCommand({ Bucket: input.bucket, Key: input.key }), { abortSignal: abortSignal() })
          .catch((err: Error) => {
            if (err.name === 'NoSuchKey')
              throw new ResourceNotFound(`s3://${input.bucket}/${input.key} is gone (deleted since it was listed)`);
            throw err;
          });
        const expected = got.ContentLength;
        let bytes = 0;
        let lastBeat = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            if (Date.now() - lastBeat > 1_000) {
              lastBeat = Date.now();
              beat(ctx, { phase: 'download', bytes, of: expected });
            }
            done(null, chunk);
          },
        });
        const signal = abortSignal();
        await pipeline(got.Body as Readable, counter, createWriteStream(raw), ...(signal ? [{ signal }] : []));
        if (expected !== undefined && bytes !== expected) {
          throw new Error(
            `the download of s3://${input.bucket}/${input.key} broke off at ${bytes} of ${expected} bytes`,
          );
        }
        // 2. gzip (a .sql.gz, or a compressed custom archive someone gzipped again): unpack it.
        let file = raw;
        const gzipped = (await head(raw, 2)).equals(Buffer.from([0x1f, 0x8b]));
        if (gzipped) {
          file = path.join(dir, 'archive.unpacked');
          try {
            await pipeline(createReadStream(raw), createGunzip(), createWriteStream(file));
          } catch (err) {
            throw new PreconditionFailed(
              `s3://${input.bucket}/${input.key} looks gzipped but does not unpack: ${(err as Error).message}`,
            );
          }
          rmSync(raw, { force: true });
        }
        const isCustom = (await head(file, 5)).toString('latin1') === 'PGDMP';
        const format = input.format ?? (isCustom ? 'custom' : 'plain');
        if (format === 'custom' && !isCustom) {
          throw new PreconditionFailed(
            `s3://${input.bucket}/${input.key} is not a pg_dump custom-format archive (it does not start with PGDMP): corrupt, or not made with pg_dump -Fc`,
          );
        }
        if (format === 'plain' && isCustom) {
          throw new PreconditionFailed(
            `s3://${input.bucket}/${input.key} is a custom-format archive, not plain SQL: give format "custom"`,
          );
        }
        // 3. The temporary database, with the run that made it.
        beat(ctx, { phase: 'restore', bytes });
        await withAdmin(async (c) => {
          await c.query(`CREATE DATABASE ${quoteIdent(input.database)}`);
          created = true;
          const comment = JSON.stringify({ run: input.run, archive: `s3://${input.bucket}/${input.key}` });
          await c.query(`COMMENT ON DATABASE ${quoteIdent(input.database)} IS '${comment.replace(/'/g, "''")}'`);
        });
        // 4. Restore. Ownership and grants name roles of the source server: left out.
        const left = Math.max(1_000, deadline - Date.now());
        const out =
          format === 'custom'
            ? await runProgram(
                'pg_restore',
                ['--no-owner', '--no-privileges', '--dbname', input.database, file],
                input.database,
                left,
              )
            : await runProgram('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=0', '-f', file], input.database, left);
        const { fatal, warnings } = restoreErrors(out.stderr);
        if (fatal.length || (format === 'custom' && out.code !== 0 && !warnings.length)) {
          const first = fatal[0] ?? out.stderr.trim().split('\n').slice(-1)[0] ?? `exit code ${out.code}`;
          throw new PreconditionFailed(
            `${format === 'custom' ? 'pg_restore' : 'psql'} could not restore s3://${input.bucket}/${input.key}: ${first}` +
              (fatal.length > 1 ? ` (and ${fatal.length - 1} more error(s))` : ''),
          );
        }
        return {
          database: input.database,
          sizeBytes: bytes,
          format,
          gzipped,
          restoreWarnings: warnings,
          removedLeftovers,
        };
      } catch (err) {
        // Not left for the workflow's drop alone: a failed restore holds a half-filled database until then.
        if (created) await withAdmin((c) => dropDatabase(c, input.database)).catch(() => undefined);
        // Cancelled: the download or pg_restore was stopped for it; say so, rather than report it as a failure.
        if (abortSignal()?.aborted) throw new CancelledFailure('the restore was cancelled');
        throw err;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    /** The same SQL checks as a restored RDS instance gets, read-only, in the temporary database. */
    async runScratchDataChecks(input: {
      database: string;
      checks: DataCheck[];
      timeoutMs: number;
    }): Promise<DataCheckReport> {
      assertScratchName(input.database);
      const conn = scratchConnection();
      const signal = abortSignal();
      const cancelled = () => new CancelledFailure('the data checks were cancelled');
      const report = await checkDatabase(
        { ...conn, database: input.database },
        `scratch PostgreSQL ${conn.host}:${conn.port}/${input.database}`,
        input.checks,
        input.timeoutMs,
        signal,
      ).catch((err: unknown) => {
        throw signal?.aborted ? cancelled() : err;
      });
      // Cancelled mid-check: the connection was closed under it; what it read is not a verdict.
      if (signal?.aborted) throw cancelled();
      return report;
    },

    /** Drop a temporary database (if it exists: idempotent). `dropped`: it existed and is gone. */
    async dropScratchDatabase(input: { database: string }): Promise<{ dropped: boolean }> {
      assertScratchName(input.database);
      return { dropped: await withAdmin((c) => dropDatabase(c, input.database)) };
    },
  };
}

/** The download folders in the temp folder now (of the worker process `pid`, or of every worker). */
export function downloadFolders(pid?: number): string[] {
  const prefix = pid === undefined ? FILE_DIR_PREFIX : `${FILE_DIR_PREFIX}${pid}-`;
  try {
    return readdirSync(os.tmpdir())
      .filter((n) => n.startsWith(prefix))
      .map((n) => path.join(os.tmpdir(), n))
      .filter((d) => existsSync(d));
  } catch {
    return [];
  }
}
