// backupVerification of backups that are files (seed 002: pg_dump to S3), end to end: real dev server and worker, the
// AWS emulator's S3 holding real `pg_dump` archives of the test PostgreSQL's data, and that PostgreSQL as the worker's
// scratch server (RUNBOOKS_SCRATCH_PG_URL), where each run restores into a temporary database and must drop it. Each
// test has a bucket of its own; temporary databases are read from pg_database, downloaded files from the temp folder.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CancelledFailure, WorkflowFailedError, type Client as TemporalClient } from '@temporalio/client';
import { Client } from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { downloadFolders } from '../../activities/pgdump';
import { FailureType } from '../../api/failures';
import type { BackupVerificationInput, BackupVerificationResult } from '../../api/runbooks/restore';
import type { RunbookReport } from '../../api/status';
import { pgDump } from '../../scripts/lib/demo-backups';
import { SCRATCH_DB, scratchPgUrl } from '../../scripts/lib/postgres';
import { GOOD_CHECKS, GOOD_RESULTS } from '../helpers/env/restore-env';
import { activityRuns } from '../helpers/history';
import { startForwardingProxy } from '../helpers/proxies/http-proxy';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import { withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, testClients, uid, withWorker } from '../helpers/temporal';

// The worker's scratch PostgreSQL: the activities run in this process.
process.env.RUNBOOKS_SCRATCH_PG_URL = scratchPgUrl('127.0.0.1', inject('pgPort'));

afterAll(closeConnections);

type Report = RunbookReport<BackupVerificationResult>;
// A region of its own: backupVerification runs hold `backup-verification:<region>`, and the examples test verifies the
// demo's archive in us-east-1 at the same time.
const REGION = 'eu-south-1';
/** Every run of this file starts its workflow ID with this. */
const RUN_PREFIX = 'pgdump-e2e';
const PREFIX = 'backups/app/';
const pg = () => ({ host: '127.0.0.1', port: inject('pgPort') });
/** One real archive of the test data, made once. */
let archive: Buffer | undefined;
const customArchive = () => (archive ??= pgDump(pg()));

async function scratch<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ ...pg(), user: SCRATCH_DB.user, password: SCRATCH_DB.password, database: 'postgres' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * The temporary databases of this file's runs that exist now (by the run named in their comment: other test files
 * may restore into the same server at the same time).
 */
const tempDatabases = () =>
  scratch(async (c) =>
    (
      await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'verify\\_pgdump\\_%' AND shobj_description(oid, 'pg_database') LIKE $1`,
        [`{"run":"${RUN_PREFIX}-%`],
      )
    ).rows.map((r) => r.datname),
  );

const databaseExists = (name: string) =>
  scratch(async (c) => ((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0);

/** This process's download folders (the in-process worker's). */
const ownFiles = () => downloadFolders(process.pid);

/** A bucket of the test's own holding `objects` (key → bytes), put in order, a second apart when `spaced`. */
async function makeBucket(objects: [string, Buffer | string][], opts: { spaced?: boolean } = {}): Promise<string> {
  const { aws } = await testClients();
  const bucket = uid('pgdump').toLowerCase();
  await aws
    .s3(REGION)
    .send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  for (const [i, [key, body]] of objects.entries()) {
    // S3's LastModified has second resolution: a second apart, the newest is unambiguous.
    if (opts.spaced && i > 0) await new Promise((r) => setTimeout(r, 1_100));
    await aws.s3(REGION).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }
  return bucket;
}

function input(bucket: string, over: Record<string, unknown> = {}): BackupVerificationInput {
  return {
    region: REGION,
    databases: [{ kind: 'pg_dump', name: 'app', bucket, prefix: PREFIX, rpo: '26h', checks: GOOD_CHECKS, ...over }],
    reason: 'e2e: restore test of the pg_dump archives',
  } as BackupVerificationInput;
}

async function run(client: TemporalClient, taskQueue: string, i: BackupVerificationInput) {
  const workflowId = uid(RUN_PREFIX);
  const handle = await client.workflow.start('backupVerification', { taskQueue, workflowId, args: [i] });
  return { workflowId, handle, child: client.workflow.getHandle(`${workflowId}/verify-pgdump-app`) };
}

/** Between a worker and S3: GetObject of `bucket`'s objects answered 1 kB every 200 ms (a big archive, a slow link). */
async function startDripProxy(bucket: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const upstream = new URL(inject('awsEndpoint'));
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const drip = req.method === 'GET' && url.startsWith(`/${bucket}/`) && !url.includes('list-type');
    const headers = { ...req.headers, host: upstream.host };
    const up = http.request(
      { hostname: upstream.hostname, port: upstream.port, path: url, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (!drip) return void answer.pipe(res);
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          const body = Buffer.concat(parts);
          let at = 0;
          const timer = setInterval(() => {
            res.write(body.subarray(at, (at += 1024)));
            if (at >= body.length) {
              clearInterval(timer);
              res.end();
            }
          }, 200);
          res.on('close', () => clearInterval(timer));
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('backupVerification of pg_dump archives in S3', () => {
  it('the newest archive verifies in a temporary database, which is dropped, as is a crashed run’s leftover; no file is left', async () => {
    // The older object is not an archive at all: restoring it instead of the newest would fail.
    const bucket = await makeBucket(
      [
        [`${PREFIX}app-1.dump`, 'not an archive'],
        [`${PREFIX}app-2.dump`, customArchive()],
      ],
      { spaced: true },
    );
    // What a run that was terminated mid-restore leaves: a temporary database whose run Temporal no longer knows.
    const leftover = 'verify_pgdump_202001010000_deadbeef';
    await scratch(async (c) => {
      await c.query(`CREATE DATABASE ${leftover}`);
      await c.query(
        `COMMENT ON DATABASE ${leftover} IS '{"run":"gone-workflow/00000000-0000-0000-0000-000000000000"}'`,
      );
    });
    await withWorker(async ({ client, taskQueue }) => {
      const { handle, child } = await run(client, taskQueue, input(bucket));
      // Meanwhile, what the scratch server shows: the run's temporary database exists while it is checked.
      let sampling = true;
      const seen = new Set<string>();
      const sampler = (async () => {
        while (sampling) {
          for (const d of await tempDatabases()) seen.add(d);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const report = (await handle.result().finally(() => (sampling = false))) as Report;
      await sampler;

      expect(report.outcome).toBe('succeeded');
      const r = report.result!.databases[0]!;
      expect(r).toMatchObject({
        dbInstance: 'app',
        passed: true,
        reasons: [],
        archive: {
          bucket,
          key: `${PREFIX}app-2.dump`,
          sizeBytes: customArchive().length,
          format: 'custom',
          gzipped: false,
        },
        tempDatabaseDropped: true,
        dataChecks: { connected: true, passed: true, results: GOOD_RESULTS },
      });
      expect(r.archive?.ageSeconds).toBeLessThan(120);
      expect(r.tempDatabase).toMatch(/^verify_pgdump_\d{12}_[0-9a-f]{8}$/);
      expect(r.dataChecks?.target).toContain(`/${r.tempDatabase}`);
      expect(report.result!.summary).toMatch(
        new RegExp(
          `^all 1 backup\\(s\\) verified: app \\(archive s3://${bucket}/${PREFIX}app-2.dump, \\d+s old, \\d+ bytes\\)`,
        ),
      );
      expect(seen).toContain(r.tempDatabase);
      // Nothing left: neither this run's database nor the leftover, nor a downloaded file.
      expect(await tempDatabases()).toEqual([]);
      expect(await databaseExists(r.tempDatabase!)).toBe(false);
      expect(await databaseExists(leftover)).toBe(false);
      expect(ownFiles()).toEqual([]);
      expect((await activityRuns(child, 'dropScratchDatabase')).results).toEqual([{ dropped: true }]);
    });
  });

  it('a plain SQL dump, gzipped (latest.sql.gz, as seed 002 keeps it), is unpacked and restored with psql', async () => {
    const sqlGz = gzipSync(pgDump(pg(), { plain: true }));
    const bucket = await makeBucket([[`${PREFIX}latest.sql.gz`, sqlGz]]);
    await withWorker(async ({ client, taskQueue }) => {
      const { handle } = await run(client, taskQueue, input(bucket));
      const report = (await handle.result()) as Report;
      expect(report.result!.databases[0]).toMatchObject({
        passed: true,
        archive: { key: `${PREFIX}latest.sql.gz`, sizeBytes: sqlGz.length, format: 'plain', gzipped: true },
        tempDatabaseDropped: true,
        dataChecks: { connected: true, passed: true, results: GOOD_RESULTS },
      });
    });
    expect(await tempDatabases()).toEqual([]);
    expect(ownFiles()).toEqual([]);
  });

  it('an archive older than the RPO fails, naming its age, and restores nothing', async () => {
    const bucket = await makeBucket([[`${PREFIX}app-old.dump`, customArchive()]]);
    // S3 stamps every object "now": a proxy makes this bucket's objects 30 hours old in what ListObjectsV2 answers.
    const proxy = await startForwardingProxy({
      upstream: inject('awsEndpoint'),
      onRequest: (req) =>
        req.method === 'GET' && (req.url ?? '').startsWith(`/${bucket}`) && (req.url ?? '').includes('list-type=2')
          ? {
              onResponse: (up) => {
                const xml = up.body
                  .toString('utf8')
                  .replace(
                    /<LastModified>([^<]+)<\/LastModified>/g,
                    (_, t: string) =>
                      `<LastModified>${new Date(Date.parse(t) - 30 * 3600_000).toISOString()}</LastModified>`,
                  );
                return {
                  status: up.status,
                  headers: { ...up.headers, 'content-length': String(Buffer.byteLength(xml)) },
                  body: xml,
                };
              },
            }
          : undefined,
    });
    const aged = createAwsClients({ endpoint: proxy.endpoint });
    const { client: temporal } = await testClients();
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const { workflowId, child } = await run(client, taskQueue, input(bucket));
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.BackupVerificationFailed);
          expect(failure.message).toMatch(
            new RegExp(
              `1 of 1 backup verification\\(s\\) FAILED: app \\(the newest archive s3://${bucket}/${PREFIX}app-old.dump is 1d6h(\\d+s)? old, older than the RPO 26h\\)`,
            ),
          );
          const r = (failure.report?.result as BackupVerificationResult).databases[0]!;
          expect(r.archive?.ageSeconds).toBeGreaterThanOrEqual(30 * 3600);
          expect(r.tempDatabase).toBeUndefined();
          expect((await activityRuns(child, 'restorePgDumpArchive')).attempts).toEqual([]);
        },
        { activities: () => createActivities({ aws: aged, temporal }) },
      );
    } finally {
      aged.destroy();
      await proxy.close();
    }
    expect(await tempDatabases()).toEqual([]);
  });

  it.each([
    [
      'cut short (an upload that broke off)',
      () => customArchive().subarray(0, Math.floor(customArchive().length / 2)),
      /: pg_restore: error: could not read from input file: end of file\)/,
    ],
    [
      // pg_restore 15 crashes on this one (SIGSEGV): a crash reads as the archive's fault, not a retryable blip.
      'overwritten after its header',
      () => Buffer.concat([customArchive().subarray(0, 200), Buffer.alloc(4000, 0x5a)]),
      /: pg_restore: error: /,
    ],
  ] as const)(
    'a corrupt archive, %s, fails with pg_restore’s error, is not retried, and its temporary database is dropped',
    async (_, corrupt, reason) => {
      const bucket = await makeBucket([[`${PREFIX}app-broken.dump`, corrupt()]]);
      await withWorker(async ({ client, taskQueue }) => {
        const { workflowId, child } = await run(client, taskQueue, input(bucket));
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.BackupVerificationFailed);
        expect(failure.message).toContain(
          `1 of 1 backup verification(s) FAILED: app (pg_restore could not restore s3://${bucket}/${PREFIX}app-broken.dump: `,
        );
        expect(failure.message).toMatch(reason);
        const r = (failure.report?.result as BackupVerificationResult).databases[0]!;
        expect(r.tempDatabase).toMatch(/^verify_pgdump_/);
        expect(r.tempDatabaseDropped).toBe(true);
        expect((await activityRuns(child, 'restorePgDumpArchive')).attempts).toEqual([1]);
      });
      expect(await tempDatabases()).toEqual([]);
      expect(ownFiles()).toEqual([]);
    },
  );

  it('checks that fail (too few rows) fail the run naming the check and value; the database is dropped', async () => {
    const bucket = await makeBucket([[`${PREFIX}app.dump`, customArchive()]]);
    const checks = [
      { name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 5000 } },
      { name: 'orders', sql: 'SELECT count(*) FROM orders', expect: { min: 1 } },
    ];
    await withWorker(async ({ client, taskQueue }) => {
      const { workflowId } = await run(client, taskQueue, input(bucket, { checks }));
      const failure = await expectFailure(client, workflowId);
      expect(failure.message).toContain(
        '1 of 1 backup verification(s) FAILED: app (data checks failed: users = 1200, expected ≥ 5000)',
      );
      const r = (failure.report?.result as BackupVerificationResult).databases[0]!;
      expect(r.dataChecks?.results.map((c) => [c.name, c.value, c.pass])).toEqual([
        ['users', 1200, false],
        ['orders', 3000, true],
      ]);
      expect(r.tempDatabaseDropped).toBe(true);
    });
    expect(await tempDatabases()).toEqual([]);
  });

  it('S3 faults: a 503 SlowDown, then a download cut off midway: the restore is retried and verifies, nothing is left', async () => {
    const bucket = await makeBucket([[`${PREFIX}app.dump`, customArchive()]]);
    const upstream = new URL(inject('awsEndpoint'));
    let gets = 0;
    // Between the worker and S3: GetObject of the archive is answered 503 SlowDown once (the SDK retries that
    // itself), then cut off after half its body (the activity fails; Temporal retries it), then passed through.
    const server = http.createServer((req, res) => {
      const isGet =
        req.method === 'GET' && (req.url ?? '').startsWith(`/${bucket}/`) && !(req.url ?? '').includes('list-type');
      const n = isGet ? ++gets : 0;
      if (n === 1) {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
        );
        return;
      }
      const up = http.request(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          if (n !== 2) return void answer.pipe(res);
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const body = Buffer.concat(parts);
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 50));
          });
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const faulty = createAwsClients({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const { client: temporal } = await testClients();
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const { handle, child } = await run(client, taskQueue, input(bucket));
          const report = (await handle.result()) as Report;
          expect(report.outcome).toBe('succeeded');
          expect(report.result!.databases[0]).toMatchObject({
            passed: true,
            archive: { sizeBytes: customArchive().length },
            tempDatabaseDropped: true,
          });
          expect(gets).toBe(3);
          // History records the start of the attempt that completed: the second.
          expect((await activityRuns(child, 'restorePgDumpArchive')).attempts).toEqual([2]);
        },
        { activities: () => createActivities({ aws: faulty, temporal }) },
      );
    } finally {
      faulty.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    expect(await tempDatabases()).toEqual([]);
    expect(ownFiles()).toEqual([]);
  });

  it('through the realistic AWS layer, under a throttling storm on S3: retried until it verifies, nothing left', async () => {
    const bucket = await makeBucket([[`${PREFIX}app.dump`, customArchive()]]);
    await withRealisticWorker(
      { faults: [{ name: 'throttle-storm', rate: 1 }] },
      async ({ client, taskQueue, layer }) => {
        const { handle } = await run(client, taskQueue, input(bucket));
        // Every S3 call is refused (Throttling, or 503) for 2 s, as under a storm; then S3 answers again.
        await new Promise((r) => setTimeout(r, 2_000));
        layer.setFaults([]);
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('succeeded');
        expect(report.result!.databases[0]).toMatchObject({
          passed: true,
          archive: { key: `${PREFIX}app.dump`, sizeBytes: customArchive().length },
          tempDatabaseDropped: true,
        });
        const s3 = layer.calls().filter((c) => c.service === 's3');
        expect(s3.filter((c) => c.fault === 'throttle-storm').length).toBeGreaterThan(0);
        expect(s3.filter((c) => !c.fault && c.status === 200).length).toBeGreaterThanOrEqual(2); // list, get
      },
    );
    expect(await tempDatabases()).toEqual([]);
    expect(ownFiles()).toEqual([]);
  });

  it('cancelled mid-download and mid-check: the run ends cancelled, the file is deleted and the database dropped', async () => {
    const slow = await makeBucket([[`${PREFIX}app.dump`, customArchive()]]);
    const other = await makeBucket([[`${PREFIX}app.dump`, customArchive()]]);
    const drip = await startDripProxy(slow);
    const dripping = createAwsClients({ endpoint: drip.endpoint });
    const { client: temporal } = await testClients();
    const i: BackupVerificationInput = {
      region: REGION,
      databases: [
        { kind: 'pg_dump', name: 'slow', bucket: slow, prefix: PREFIX, checks: GOOD_CHECKS },
        // A check that takes 30 s: the run is cancelled while it runs.
        {
          kind: 'pg_dump',
          name: 'busy',
          bucket: other,
          prefix: PREFIX,
          checks: [{ name: 'slow', sql: 'SELECT 1 FROM pg_sleep(30)', expect: { equals: 1 } }],
        },
      ],
      reason: 'e2e: cancelled verification',
    };
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const workflowId = uid(RUN_PREFIX);
          const handle = await client.workflow.start('backupVerification', { taskQueue, workflowId, args: [i] });
          const deadline = Date.now() + 20_000;
          // Until `slow` downloads (its file only) while `busy` is restored and being checked (its database only).
          while (Date.now() < deadline && (ownFiles().length !== 1 || (await tempDatabases()).length !== 1)) {
            await new Promise((r) => setTimeout(r, 100));
          }
          expect(ownFiles()).toHaveLength(1); // `slow` is still downloading
          expect(await tempDatabases()).toHaveLength(1); // `busy` is being checked

          const cancelledAt = Date.now();
          await handle.cancel();
          const err = await handle.result().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(WorkflowFailedError);
          expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
          expect(Date.now() - cancelledAt).toBeLessThan(15_000); // not after the 30-s check
          // Each child ends cancelled, after its cleanup (the parent may end first: the children's parent close
          // policy asks them to cancel, and each still cleans up).
          for (const name of ['slow', 'busy']) {
            const child = client.workflow.getHandle(`${workflowId}/verify-pgdump-${name}`);
            const until = Date.now() + 15_000;
            while ((await child.describe()).status.name === 'RUNNING' && Date.now() < until) {
              await new Promise((r) => setTimeout(r, 100));
            }
            expect((await child.describe()).status.name).toBe('CANCELLED');
          }
          expect(
            (await activityRuns(client.workflow.getHandle(`${workflowId}/verify-pgdump-busy`), 'dropScratchDatabase'))
              .results,
          ).toEqual([{ dropped: true }]);
        },
        { activities: () => createActivities({ aws: dripping, temporal }) },
      );
    } finally {
      dripping.destroy();
      await drip.close();
    }
    expect(await tempDatabases()).toEqual([]);
    expect(ownFiles()).toEqual([]);
  });

  it('the worker dies mid-download and another takes over: the run verifies, the dead worker’s file is removed', async () => {
    const bucket = await makeBucket([[`${PREFIX}app.dump`, customArchive()]]);
    const drip = await startDripProxy(bucket);
    const { client } = await testClients();
    const taskQueue = uid('tq');
    const workers: WorkerProcess[] = [];
    try {
      // The first worker reaches S3 through the slow link (the SDK's per-service endpoint variable).
      workers.push(
        await startWorkerProcess(taskQueue, { env: { AWS_ENDPOINT_URL_S3: drip.endpoint, TEST_WORKER_NO_CACHE: '1' } }),
      );
      const { handle, child } = await run(client, taskQueue, input(bucket));
      const deadline = Date.now() + 20_000;
      const files = () => downloadFolders(workers[0]!.pid);
      while (!files().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(files()).toHaveLength(1);
      await workers[0]!.kill(); // SIGKILL mid-download: its file stays behind, for now

      workers.push(await startWorkerProcess(taskQueue));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      expect(report.result!.databases[0]).toMatchObject({ passed: true, tempDatabaseDropped: true });
      // The restore was retried on the second worker after the first one's heartbeats stopped.
      expect((await activityRuns(child, 'restorePgDumpArchive')).attempts).toEqual([2]);
      // The second worker's restore removed the dead one's file, and deleted its own.
      expect(files()).toEqual([]);
      expect(downloadFolders(workers[1]!.pid)).toEqual([]);
      expect(await tempDatabases()).toEqual([]);
    } finally {
      for (const w of workers) await w.kill();
      await drip.close();
    }
  }, 90_000);
});
