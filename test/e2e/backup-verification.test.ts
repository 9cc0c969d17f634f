// backupVerification end to end: real dev server, real worker (in process, or a child process that is killed), the
// AWS emulator and a real PostgreSQL behind every RDS endpoint. Each test works in an AWS region of its own: a
// manual run holds `backup-verification:<region>`, and the region's `verify-…` instances are then this test's
// alone, so "no temporary instance is left" is read from the whole region through the SDK.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { CancelledFailure, WorkflowFailedError, type Client } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { BackupVerificationInput, BackupVerificationResult } from '../../api/runbooks/restore';
import type { RunbookReport } from '../../api/status';
import { applySchedule } from '../../client/schedules';
import { ensureDbInstance } from '../../scripts/lib/fixtures';
import {
  DB_SECRET,
  GOOD_CHECKS,
  GOOD_RESULTS,
  dbInstance,
  instancesWithPrefix,
  makeDbSecret,
  makeSourceDb,
  maxOverlap,
  tagOf,
  type SourceDb,
} from '../helpers/env/restore-env';
import { activityInputs, activityRuns, childWorkflowsStarted, workerIdentities } from '../helpers/history';
import { startSnapshotAgingProxy } from '../helpers/proxies/aws-proxy';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import {
  closeConnections,
  expectFailure,
  testClients,
  testDbOverrides,
  uid,
  waitForStatus,
  withWorker,
} from '../helpers/temporal';

afterAll(closeConnections);

type Report = RunbookReport<BackupVerificationResult>;
type Activities = ReturnType<typeof createActivities>;
type WaitInput = Parameters<Activities['waitForDbAvailable']>[0];

/** Temporary restores that take 1.5 s (on AWS they take minutes), counting how many are in flight at once. */
function slowTempRestores(inFlight: { now: number; max: number }) {
  return (real: Activities) => ({
    ...real,
    async waitForDbAvailable(input: WaitInput) {
      if (!input.dbInstance.startsWith('verify-')) return real.waitForDbAvailable(input);
      inFlight.now++;
      inFlight.max = Math.max(inFlight.max, inFlight.now);
      try {
        await sleep(1_500);
        return await real.waitForDbAvailable(input);
      } finally {
        inFlight.now--;
      }
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` source databases with one manual snapshot each, and the DB secret their checks read. */
async function makeDatabases(region: string, n: number, opts: { tags?: { Key: string; Value: string }[] } = {}) {
  const { aws } = await testClients();
  const dbs: SourceDb[] = [];
  for (let i = 0; i < n; i++) dbs.push(await makeSourceDb(aws, region, opts));
  const secretId = await makeDbSecret(aws, region);
  return { dbs, secretId };
}

function verifyInput(
  region: string,
  secretId: string,
  dbs: SourceDb[],
  over: Partial<BackupVerificationInput> = {},
): BackupVerificationInput {
  return {
    region,
    databases: dbs.map((d) => ({ dbInstance: d.id })),
    dataChecks: { secretId, checks: GOOD_CHECKS, timeout: '10s' },
    maxSnapshotAge: '1h',
    maxConcurrent: 2,
    restoreTimeout: '30s',
    reason: 'e2e: restore test of the RDS backups',
    ...over,
  };
}

async function start(client: Client, taskQueue: string, input: BackupVerificationInput) {
  const workflowId = uid('verify');
  const handle = await client.workflow.start('backupVerification', { taskQueue, workflowId, args: [input] });
  return { workflowId, handle };
}

/** The `verify-…` temporary instances of a region (each test has a region of its own). */
const tempInstances = async (region: string) => instancesWithPrefix((await testClients()).aws, region, 'verify-');

/** One database's result when its backup passed: its manual snapshot, young; the temporary instance deleted. */
function expectPassed(result: BackupVerificationResult['databases'][number] | undefined, db: SourceDb) {
  expect(result).toMatchObject({
    dbInstance: db.id,
    passed: true,
    reasons: [],
    snapshot: { id: db.snapshots[0], type: 'manual' },
    tempInstanceDeleted: true,
    dataChecks: { connected: true, passed: true, results: GOOD_RESULTS },
  });
  expect(result?.snapshot?.ageSeconds).toBeGreaterThanOrEqual(0);
  expect(result?.snapshot?.ageSeconds).toBeLessThan(120);
  expect(result?.tempInstance).toMatch(tempNamePattern(db.id));
}

/**
 * `verify-<db id, cut to fit>-<yyyymmddhhmm>-<8 hex>`: the hex is a hash of the database and the child run, so two
 * databases (or two runs) never share a temporary instance, however alike their ids.
 */
const tempNamePattern = (dbId: string) =>
  new RegExp(`^verify-${dbId.slice(0, 34).replace(/-+$/, '')}-\\d{12}-[0-9a-f]{8}$`);

describe('backupVerification', () => {
  it('three databases, two at a time: all pass, each reports its snapshot and age, no temporary instance is left', async () => {
    const region = 'eu-central-1';
    const { dbs, secretId } = await makeDatabases(region, 3);
    // Each temporary restore takes 1.5 s longer than the emulator's instant one, so that restores overlap for real;
    // the wrapper counts how many are in flight at once.
    const inFlight = { now: 0, max: 0 };
    const { aws } = await testClients();
    await withWorker(
      async ({ client, taskQueue }) => {
        const { handle } = await start(client, taskQueue, verifyInput(region, secretId, dbs));
        // Meanwhile, what RDS shows: the most temporary instances that existed at one time.
        let sampling = true;
        let seenAtOnce = 0;
        const sampler = (async () => {
          while (sampling) {
            seenAtOnce = Math.max(seenAtOnce, (await instancesWithPrefix(aws, region, 'verify-')).length);
            await sleep(100);
          }
        })();
        const report = (await handle.result().finally(() => (sampling = false))) as Report;
        await sampler;

        expect(report.outcome).toBe('succeeded');
        const r = report.result!;
        expect(r.passed).toBe(true);
        expect(r.summary).toMatch(/^all 3 backup\(s\) verified: /);
        expect(r.databases.map((d) => d.dbInstance)).toEqual(dbs.map((d) => d.id));
        dbs.forEach((db, i) => expectPassed(r.databases[i], db));

        // At most two at once, by every measure: the parent's steps, the activities, and RDS itself.
        const steps = report.timeline.filter((s) => s.name.startsWith('Verify '));
        expect(steps.map((s) => [s.name, s.outcome])).toEqual(dbs.map((d) => [`Verify ${d.id}`, 'succeeded']));
        expect(maxOverlap(steps.map((s) => ({ start: Date.parse(s.startedAt), end: Date.parse(s.endedAt!) })))).toBe(2);
        expect(inFlight.max).toBe(2);
        expect(seenAtOnce).toBeGreaterThan(0);
        expect(seenAtOnce).toBeLessThanOrEqual(2);

        expect(await tempInstances(region)).toEqual([]);
        for (const db of dbs) expect((await dbInstance(aws, region, db.id))?.DBInstanceStatus).toBe('available');
      },
      { activities: slowTempRestores(inFlight) },
    );
  });

  it('one database’s check fails: the run fails BackupVerificationFailed naming it, with every result attached', async () => {
    const region = 'eu-west-3';
    const { dbs, secretId } = await makeDatabases(region, 3);
    const bad = dbs[1]!;
    const input = verifyInput(region, secretId, dbs);
    input.databases = dbs.map((d) =>
      d === bad
        ? {
            dbInstance: d.id,
            dataChecks: {
              secretId,
              checks: [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: { equals: 5 } }],
            },
          }
        : { dbInstance: d.id },
    );
    await withWorker(async ({ client, taskQueue }) => {
      const { workflowId } = await start(client, taskQueue, input);
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.BackupVerificationFailed);
      expect(failure.message).toContain(
        `1 of 3 backup verification(s) FAILED: ${bad.id} (data checks failed: users = 1200, expected = 5).`,
      );
      const result = failure.report?.result as BackupVerificationResult | undefined;
      expect(result?.passed).toBe(false);
      expect(result?.databases.map((d) => [d.dbInstance, d.passed])).toEqual([
        [dbs[0]!.id, true],
        [bad.id, false],
        [dbs[2]!.id, true],
      ]);
      expectPassed(result?.databases[0], dbs[0]!);
      expectPassed(result?.databases[2], dbs[2]!);
      expect(result?.databases[1]).toMatchObject({
        reasons: ['data checks failed: users = 1200, expected = 5'],
        snapshot: { id: bad.snapshots[0] },
        tempInstanceDeleted: true,
        dataChecks: { passed: false, results: [{ name: 'users', value: 1200, expect: '= 5', pass: false }] },
      });
      expect(await tempInstances(region)).toEqual([]);
    });
  });

  it('cancelled while two restores are in progress: the run ends cancelled and both temporary instances are deleted', async () => {
    const region = 'ap-southeast-2';
    const { dbs, secretId } = await makeDatabases(region, 3);
    const held = new Set<string>();
    await withWorker(
      async ({ client, taskQueue }) => {
        const { workflowId, handle } = await start(client, taskQueue, verifyInput(region, secretId, dbs));
        const deadline = Date.now() + 20_000;
        while (held.size < 2 && Date.now() < deadline) await sleep(100);
        expect(held.size).toBe(2);
        expect(await tempInstances(region)).toHaveLength(2); // the restores did happen

        await handle.cancel();
        const err = await handle.result().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(WorkflowFailedError);
        expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
        expect(await tempInstances(region)).toEqual([]);

        const status = await handle.query(statusQuery);
        expect(status.state).toBe('failed');
        expect(status.error).toMatch(/^cancelled\./);
        // The two children were cancelled (after cleaning up); the third database was never started.
        for (const db of dbs.slice(0, 2)) {
          const child = await client.workflow.getHandle(`${workflowId}/verify-${db.id}`).describe();
          expect(child.status.name).toBe('CANCELLED');
        }
        await expect(client.workflow.getHandle(`${workflowId}/verify-${dbs[2]!.id}`).describe()).rejects.toThrow();
      },
      {
        // The temporary restore never becomes available: the wait holds (heartbeating) until it is cancelled.
        activities: (real) => ({
          ...real,
          async waitForDbAvailable(input: WaitInput) {
            if (!input.dbInstance.startsWith('verify-')) return real.waitForDbAvailable(input);
            held.add(input.dbInstance);
            const ctx = Context.current();
            const beat = setInterval(() => ctx.heartbeat(), 200);
            try {
              await ctx.cancelled;
            } finally {
              clearInterval(beat);
            }
            throw new Error('unreachable: ctx.cancelled only rejects');
          },
        }),
      },
    );
  });

  // The worker dies after RestoreDBInstanceFromDBSnapshot went through but before Temporal heard back. The activity
  // is retried on the new worker once its start-to-close timeout (30s) has passed: the retry finds the instance this
  // run created and takes it as is; the checks run, the instance is deleted.
  it('the worker is killed after the restore call and another started: the run completes, no temporary instance is left', async () => {
    const region = 'ap-northeast-1';
    const { dbs, secretId } = await makeDatabases(region, 1);
    const db = dbs[0]!;
    const { client } = await testClients();
    const taskQueue = uid('tq');
    const workers: WorkerProcess[] = [];
    try {
      workers.push(await startWorkerProcess(taskQueue, { env: { TEST_HOLD_AFTER_ACTIVITY: 'restoreFromSnapshot' } }));
      const { workflowId, handle } = await start(client, taskQueue, verifyInput(region, secretId, dbs));
      const deadline = Date.now() + 20_000;
      while (!workers[0]!.output().includes('held restoreFromSnapshot') && Date.now() < deadline) await sleep(100);
      expect(workers[0]!.output()).toContain('held restoreFromSnapshot');
      const temp = await tempInstances(region);
      expect(temp).toHaveLength(1);
      await workers[0]!.kill();

      workers.push(await startWorkerProcess(taskQueue));
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      expectPassed(report.result?.databases[0], db);
      expect(report.result?.databases[0]?.tempInstance).toBe(temp[0]);
      expect(await tempInstances(region)).toEqual([]);

      // One restore activity, completed on its second attempt without creating another instance.
      const child = client.workflow.getHandle(`${workflowId}/verify-${db.id}`);
      const restores = await activityRuns(child, 'restoreFromSnapshot');
      expect(restores.attempts).toEqual([2]);
      expect(restores.results).toMatchObject([{ created: false, db: { id: temp[0] } }]);
      // Both workers ran the child's workflow tasks: the second one took over from the history.
      expect(await workerIdentities(child)).toEqual(new Set(workers.map((w) => `worker-process-${w.pid}`)));
    } finally {
      for (const w of workers) await w.kill();
    }
  }, 90_000);

  // moto stamps every snapshot "now" and has no way to back-date one; a proxy in front of it shifts the
  // SnapshotCreateTime of one database's snapshots two hours back, so its newest snapshot is older than 1m.
  it('a snapshot older than maxSnapshotAge: that database fails with the age in the reason, without a restore', async () => {
    const region = 'ca-central-1';
    const { dbs, secretId } = await makeDatabases(region, 2);
    const [stale, fresh] = [dbs[0]!, dbs[1]!];
    const proxy = await startSnapshotAgingProxy(inject('awsEndpoint'), {
      dbInstances: [stale.id],
      ageMs: 2 * 3_600_000,
    });
    const aged = createAwsClients({ endpoint: proxy.endpoint });
    try {
      await withWorker(
        async ({ client, taskQueue }) => {
          const { workflowId } = await start(
            client,
            taskQueue,
            verifyInput(region, secretId, dbs, { maxSnapshotAge: '1m' }),
          );
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.BackupVerificationFailed);
          const reason = new RegExp(
            `^the newest snapshot ${stale.snapshots[0]} is 2h(\\d+s)? old, older than maxSnapshotAge 1m$`,
          );
          expect(failure.message).toContain(`1 of 2 backup verification(s) FAILED: ${stale.id} (the newest snapshot`);
          const result = failure.report?.result as BackupVerificationResult | undefined;
          const staleResult = result?.databases[0];
          expect(staleResult).toMatchObject({ dbInstance: stale.id, passed: false, tempInstanceDeleted: false });
          expect(staleResult?.reasons).toHaveLength(1);
          expect(staleResult?.reasons[0]).toMatch(reason);
          expect(staleResult?.snapshot?.ageSeconds).toBeGreaterThanOrEqual(7_200);
          expect(staleResult?.tempInstance).toBeUndefined(); // too old: not restored at all
          expectPassed(result?.databases[1], fresh);
          expect(await tempInstances(region)).toEqual([]);
        },
        { activities: () => createActivities({ aws: aged, dbEndpointOverrides: testDbOverrides() }) },
      );
      expect(proxy.rewritten).toBeGreaterThan(0);
    } finally {
      aged.destroy();
      await proxy.close();
    }
  });

  it('dry run: plans one verification per database (restore, checks, delete) and starts none', async () => {
    const region = 'ap-northeast-2';
    const { dbs, secretId } = await makeDatabases(region, 2);
    await withWorker(async ({ client, taskQueue }) => {
      const { handle } = await start(client, taskQueue, { ...verifyInput(region, secretId, dbs), dryRun: true });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('dry-run');
      expect(report.result).toBeUndefined();
      expect(report.plan?.map((p) => [p.step, p.action])).toEqual(
        dbs.map((d) => [`Verify ${d.id}`, 'rds:RestoreDBInstanceFromDBSnapshot + SQL checks + rds:DeleteDBInstance']),
      );
      expect(await childWorkflowsStarted(handle)).toEqual([]);
      expect(await tempInstances(region)).toEqual([]);
    });
  });

  it('tag mode: verifies exactly the databases carrying the tag', async () => {
    const region = 'sa-east-1';
    const tag = { key: 'backup-verify', value: uid('enrolled') };
    const { dbs: tagged, secretId } = await makeDatabases(region, 2, { tags: [{ Key: tag.key, Value: tag.value }] });
    const { aws } = await testClients();
    const other = await makeSourceDb(aws, region, { tags: [{ Key: tag.key, Value: 'some-other-value' }] });
    await withWorker(async ({ client, taskQueue }) => {
      const { databases: _unused, ...rest } = verifyInput(region, secretId, []);
      const { handle } = await start(client, taskQueue, { ...rest, tag });
      const report = (await handle.result()) as Report;
      expect(report.outcome).toBe('succeeded');
      expect(report.target).toBe(`${region} tag ${tag.key}=${tag.value}`);
      const ids = tagged.map((d) => d.id).sort();
      expect(report.timeline.find((s) => s.name === 'Find the databases to verify')?.details).toEqual({
        databases: ids,
      });
      expect(report.result?.databases.map((d) => d.dbInstance)).toEqual(ids);
      for (const db of tagged)
        expectPassed(
          report.result?.databases.find((d) => d.dbInstance === db.id),
          db,
        );
      expect(report.result?.databases.map((d) => d.dbInstance)).not.toContain(other.id);
      expect(await tempInstances(region)).toEqual([]);
    });
  });

  it('schedule: applying twice leaves one schedule; a trigger starts a run that completes', async () => {
    const region = 'eu-north-1';
    const { dbs, secretId } = await makeDatabases(region, 1);
    const scheduleId = uid('backup-verification');
    const inputFile = path.join(os.tmpdir(), `${scheduleId}.json`);
    await withWorker(async ({ client, taskQueue }) => {
      writeFileSync(inputFile, JSON.stringify(verifyInput(region, secretId, dbs)));
      const handle = client.schedule.getHandle(scheduleId);
      try {
        expect(await applySchedule(client, { id: scheduleId, inputFile, taskQueue })).toBe('created');
        expect(await applySchedule(client, { id: scheduleId, inputFile, taskQueue, every: '12h' })).toBe('updated');

        const matching = async () => {
          const ids: string[] = [];
          for await (const s of client.schedule.list()) if (s.scheduleId === scheduleId) ids.push(s.scheduleId);
          return ids;
        };
        let listed = await matching();
        for (let i = 0; i < 50 && listed.length === 0; i++) {
          await sleep(200);
          listed = await matching();
        }
        expect(listed).toEqual([scheduleId]);
        const described = await handle.describe();
        expect(described.action).toMatchObject({
          type: 'startWorkflow',
          workflowType: 'backupVerification',
          taskQueue,
        });
        expect(described.spec.intervals).toMatchObject([{ every: 12 * 3_600_000 }]); // the update took

        await handle.trigger();
        let workflowId: string | undefined;
        for (let i = 0; i < 100 && !workflowId; i++) {
          const d = await handle.describe();
          workflowId = d.info.recentActions[0]?.action.workflow.workflowId;
          if (!workflowId) await sleep(100);
        }
        expect(workflowId).toMatch(new RegExp(`^${scheduleId}-`));
        const report = (await client.workflow.getHandle(workflowId!).result()) as Report;
        expect(report.outcome).toBe('succeeded');
        expectPassed(report.result?.databases[0], dbs[0]!);
        expect(await tempInstances(region)).toEqual([]);
      } finally {
        await handle.delete().catch(() => undefined);
      }
    });
  });

  // Seen on call: two ids alike in their first 43 characters gave both children one temporary name; the second
  // restore was refused, and its cleanup deleted the first child's instance while that one ran its checks.
  it('two databases whose ids share their first 43 characters: each restores to a name of its own and deletes only that', async () => {
    const region = 'ap-northeast-3';
    const { aws } = await testClients();
    const base = `${uid('orders')}-analytics-reporting-primary-pg-eu-cluster`;
    const dbs = [
      await makeSourceDb(aws, region, { id: `${base}-01` }),
      await makeSourceDb(aws, region, { id: `${base}-02` }),
    ];
    expect(dbs[0]!.id.slice(0, 43)).toBe(dbs[1]!.id.slice(0, 43));
    const secretId = await makeDbSecret(aws, region);
    // Restores take minutes on AWS: here each temporary restore takes 1.5 s, so both children hold one at once.
    const inFlight = { now: 0, max: 0 };
    await withWorker(
      async ({ client, taskQueue }) => {
        const { workflowId, handle } = await start(client, taskQueue, verifyInput(region, secretId, dbs));
        const report = (await handle.result()) as Report;
        expect(report.outcome).toBe('succeeded');
        const results = report.result!.databases;
        dbs.forEach((db, i) => expectPassed(results[i], db));
        expect(inFlight.max).toBe(2);
        const names = results.map((r) => r.tempInstance!);
        expect(new Set(names).size).toBe(2);
        for (const name of names) expect(name.length).toBeLessThanOrEqual(63);
        // Each child restored to its own name and deleted that one only; none is left.
        for (const [i, db] of dbs.entries()) {
          const child = client.workflow.getHandle(`${workflowId}/verify-${db.id}`);
          expect(await activityInputs(child, 'restoreFromSnapshot')).toMatchObject([{ dbInstance: names[i] }]);
          expect(await activityInputs(child, 'deleteDbInstance')).toMatchObject([{ dbInstance: names[i] }]);
        }
        expect(await tempInstances(region)).toEqual([]);
        for (const db of dbs) expect((await dbInstance(aws, region, db.id))?.DBInstanceStatus).toBe('available');
      },
      { activities: slowTempRestores(inFlight) },
    );
  });

  it('the temporary name is taken by an instance this run did not create: refused, and the cleanup leaves it alone', async () => {
    const region = 'eu-west-2';
    const { dbs, secretId } = await makeDatabases(region, 1);
    const { aws } = await testClients();
    const someoneElse = `${uid('verify-other')}/run`;
    let taken: string | undefined;
    await withWorker(
      async ({ client, taskQueue }) => {
        const { workflowId } = await start(client, taskQueue, verifyInput(region, secretId, dbs));
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.BackupVerificationFailed);
        // The other instance is still there, as it was.
        expect(tagOf(await dbInstance(aws, region, taken!), 'runbook-run')).toBe(someoneElse);
        expect(await tempInstances(region)).toEqual([taken]);
        expect(taken).toMatch(tempNamePattern(dbs[0]!.id));
        const result = (failure.report?.result as BackupVerificationResult | undefined)?.databases[0];
        expect(result).toMatchObject({ dbInstance: dbs[0]!.id, passed: false, tempInstanceDeleted: false });
        expect(result?.reasons).toEqual([
          `an instance named ${taken} already exists in ${region} (created by ${someoneElse}); choose another id`,
          `the temporary instance ${taken} was not created by this run (runbook-run tag: ${someoneElse}): left alone`,
        ]);
        // Not this run's: neither deleted nor named as left over for someone to delete by hand.
        expect(failure.message).toContain('No temporary instance of this run is left.');
      },
      {
        // Someone else's instance appears under the temporary name just before the restore.
        activities: (real) => ({
          ...real,
          async restoreFromSnapshot(input: Parameters<Activities['restoreFromSnapshot']>[0]) {
            taken = input.dbInstance;
            await ensureDbInstance(aws, region, input.dbInstance, {
              masterPassword: DB_SECRET.password,
              tags: [{ Key: 'runbook-run', Value: someoneElse }],
            });
            return real.restoreFromSnapshot(input);
          },
        }),
      },
    );
  });

  it('a database listed twice: InvalidInput naming the second entry, no child started', async () => {
    const region = 'ap-south-1';
    await withWorker(async ({ client, taskQueue }) => {
      const checks = { secretId: 'unused', checks: GOOD_CHECKS };
      const { workflowId } = await start(client, taskQueue, {
        region,
        dataChecks: checks,
        databases: [{ dbInstance: 'db-a' }, { dbInstance: 'DB-A' }, { dbInstance: 'db-b' }],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.InvalidInput);
      expect(failure.message).toBe(
        'invalid input: input.databases.1: listed twice (DB-A is also input.databases.0; RDS ids ignore case). ' +
          'Nothing was changed.',
      );
      const status = await waitForStatus(client, workflowId, (s) => s.state === 'failed');
      expect(status.steps).toEqual([]);
    });
  });

  it('bad input (neither databases nor tag; both): InvalidInput naming the field', async () => {
    const region = 'ap-south-1';
    await withWorker(async ({ client, taskQueue }) => {
      const checks = { secretId: 'unused', checks: GOOD_CHECKS };
      const neither = await start(client, taskQueue, { region, dataChecks: checks });
      const f1 = await expectFailure(client, neither.workflowId);
      expect(f1.type).toBe(FailureType.InvalidInput);
      expect(f1.message).toBe(
        'invalid input: input.databases: expected a list of databases or a tag. Nothing was changed.',
      );
      const both = await start(client, taskQueue, {
        region,
        dataChecks: checks,
        databases: [{ dbInstance: 'db-a' }],
        tag: { key: 'backup-verify', value: 'true' },
      });
      const f2 = await expectFailure(client, both.workflowId);
      expect(f2.type).toBe(FailureType.InvalidInput);
      expect(f2.message).toBe(
        'invalid input: input.tag: give DB instances in databases or by tag, not both (pg_dump archives may be listed ' +
          'with a tag). Nothing was changed.',
      );
      const status = await waitForStatus(client, both.workflowId, (s) => s.state === 'failed');
      expect(status.steps).toEqual([]);
    });
  });
});
