// auroraFailover end to end: real dev server, real worker, the emulator's Aurora clusters (read back through the SDK:
// which member is the writer), the test PostgreSQL behind the cluster endpoint (endpoint override) for the SQL probe
// and the idle-connection step, and the realistic layer's failing-over phases.
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { approveSignal } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { AuroraFailoverInput, AuroraFailoverResult } from '../../api/runbooks/aurora';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { DEMO_DB } from '../../scripts/lib/postgres';
import { makeAuroraCluster, writerOf as writerOfCluster } from '../helpers/env/aurora-env';
import { makeDbSecret } from '../helpers/env/restore-env';
import { effectiveMutations, withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

const REGION = 'us-east-1';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('aurora-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = (a: DemoApp = app) => ({ url: a.healthUrl, consecutive: 2, interval: '100ms', timeout: '3s' });

const makeCluster = (aws: AwsClients, readers: { tier: number; az: string; lagMs?: number }[]) =>
  makeAuroraCluster(aws, REGION, readers);
const writerOf = (aws: AwsClients, cluster: string) => writerOfCluster(aws, { region: REGION, id: cluster });

describe('auroraFailover', () => {
  it('after approval the chosen reader (best tier, then lowest lag) is the writer; health and SQL probe pass; RTO reported', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const c = await makeCluster(aws, [
        { tier: 1, az: 'us-east-1b', lagMs: 30 },
        { tier: 1, az: 'us-east-1c', lagMs: 10 },
        { tier: 2, az: 'us-east-1a', lagMs: 1 },
      ]);
      const [w, , best] = c.members as [string, string, string, string];
      const secretId = await makeDbSecret(aws, REGION);
      const input: AuroraFailoverInput = {
        region: REGION,
        cluster: c.id,
        maxReplicaLag: '1s',
        health: health(),
        sqlProbe: { secretId, checks: [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 1000 } }] },
        rtoTarget: '15m',
        reason: 'writer unreachable',
        initiatedBy: 'alice',
      };
      const workflowId = uid('aurora');
      const handle = await client.workflow.start('auroraFailover', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toBe(
        `fail Aurora cluster ${c.id} (us-east-1) over from writer ${w} to reader ${best}: tier 1, us-east-1c, ` +
          `replica lag 10ms — chosen: the best available reader: promotion tier 1, lowest replica lag among tier 1 ` +
          `(10ms vs ${c.members[1]} 30ms) — the writer is unavailable for about 30-60 s; a failover is not undone ` +
          `automatically — reason: writer unreachable`,
      );
      expect(waiting.pendingApproval?.plan).toEqual([
        {
          step: `Fail over to ${best}`,
          action: 'rds:FailoverDBCluster',
          params: { region: REGION, cluster: c.id, targetDBInstanceIdentifier: best, from: w },
        },
      ]);
      expect(await writerOf(aws, c.id)).toBe(w); // nothing changed before the approval

      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as RunbookReport<AuroraFailoverResult>;
      expect(report.outcome).toBe('succeeded');
      expect(await writerOf(aws, c.id)).toBe(best);
      expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: the cluster, its readers and their replica lag', 'succeeded'],
        ['Choose the reader to promote', 'succeeded'],
        ['Lock resources', 'succeeded'],
        ['Approval', 'succeeded'],
        [`Fail over to ${best}`, 'succeeded'],
        [`Wait until ${best} is the writer and the cluster available`, 'succeeded'],
        ['Verify health', 'succeeded'],
        ['SQL probe through the cluster endpoint', 'succeeded'],
      ]);
      expect(report.result).toMatchObject({
        cluster: c.id,
        writerBefore: w,
        writerAfter: best,
        target: { id: best, tier: 1, az: 'us-east-1c', lagMs: 10 },
        rto: { targetMs: 900_000, verdict: 'met' },
        health: { healthy: true },
        sqlProbe: { passed: true },
      });
      expect(report.result?.sqlProbe?.results.map((r) => [r.name, r.value, r.pass])).toEqual([
        ['session on the writer (pg_is_in_recovery() = false)', 0, true],
        ['users', 1200, true],
      ]);
      expect(report.result?.rto.text).toMatch(/^\d+(ms|s) \(target 15m: met\)$/);
      expect(report.incidentReport).toContain(`failed over from ${w} to ${best}`);
      expect(report.incidentReport).toMatch(/RTO against target.*target 15m: met/);
      expect(report.warnings).toEqual([]);
    });
  });

  it('a bad targetReader or too much lag is refused naming the field, and nothing is changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const c = await makeCluster(aws, [{ tier: 1, az: 'us-east-1b', lagMs: 4_000 }]);
      const [w, r] = c.members as [string, string];
      const run = async (extra: Partial<AuroraFailoverInput>) => {
        const workflowId = uid('aurora');
        await client.workflow.start('auroraFailover', {
          taskQueue,
          workflowId,
          args: [{ region: REGION, cluster: c.id, approval: { required: false }, ...extra }],
        });
        return expectFailure(client, workflowId);
      };
      const notMember = await run({ targetReader: 'no-such-reader' });
      expect(notMember.type).toBe(FailureType.PreconditionFailed);
      expect(notMember.message).toBe(
        `input.targetReader: no-such-reader is not a member of Aurora cluster ${c.id} (its members: ${w}, ${r}). ` +
          `Nothing was changed.`,
      );
      const theWriter = await run({ targetReader: w });
      expect(theWriter.message).toContain(`input.targetReader: ${w} is already the writer of ${c.id}`);
      const lagging = await run({ targetReader: r, maxReplicaLag: '1s' });
      expect(lagging.type).toBe(FailureType.ReplicaLagRefused);
      expect(lagging.message).toBe(
        `input.maxReplicaLag: ${r} refused: its replica lag 4s is above maxReplicaLag 1s. Nothing was changed.`,
      );
      const missing = await run({ cluster: 'no-such-cluster' });
      expect(missing.type).toBe(FailureType.ResourceNotFound);
      expect(missing.message).toContain('Aurora cluster no-such-cluster not found in us-east-1 (input.cluster)');
      for (const f of [notMember, theWriter, lagging]) {
        expect(f.report?.timeline.some((s) => s.mutating)).toBe(false);
      }
      expect(await writerOf(aws, c.id)).toBe(w);
    });
  });

  it('a dry run reads the cluster and returns the plan: no lock, no approval, the writer unchanged', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const c = await makeCluster(aws, [{ tier: 3, az: 'us-east-1b', lagMs: 7 }]);
      const [w, r] = c.members as [string, string];
      const report = (await client.workflow.execute('auroraFailover', {
        taskQueue,
        workflowId: uid('aurora'),
        args: [{ region: REGION, cluster: c.id, dryRun: true, initiatedBy: 'alice' } satisfies AuroraFailoverInput],
      })) as RunbookReport<AuroraFailoverResult>;
      expect(report.outcome).toBe('dry-run');
      expect(report.plan).toEqual([
        {
          step: `Fail over to ${r}`,
          action: 'rds:FailoverDBCluster',
          params: { region: REGION, cluster: c.id, targetDBInstanceIdentifier: r, from: w },
        },
      ]);
      expect(report.timeline.map((s) => s.name)).toEqual([
        'Preflight: the cluster, its readers and their replica lag',
        'Choose the reader to promote',
      ]);
      expect(await writerOf(aws, c.id)).toBe(w);
    });
  });

  it('terminates the idle session older than olderThan, not a younger idle one nor a busy one; no password in history', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const c = await makeCluster(aws, [{ tier: 1, az: 'us-east-1b', lagMs: 5 }]);
      const secretId = await makeDbSecret(aws, REGION);
      // The test PostgreSQL is shared with other tests: the step is narrowed to this test's application name.
      const appName = uid('idle-test');
      const connect = async () => {
        const s = new Client({ host: '127.0.0.1', port: inject('pgPort'), ...DEMO_DB, application_name: appName });
        s.on('error', () => undefined); // the terminated one
        await s.connect();
        const pid = Number((await s.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
        return { s, pid };
      };
      const old = await connect();
      await new Promise((r) => setTimeout(r, 4_000));
      const young = await connect();
      const busy = await connect();
      const busyQuery = busy.s.query('SELECT pg_sleep(25)').catch((err: Error) => err);
      try {
        const workflowId = uid('aurora');
        const handle = await client.workflow.start('auroraFailover', {
          taskQueue,
          workflowId,
          args: [
            {
              region: REGION,
              cluster: c.id,
              initiatedBy: 'alice',
              terminateIdleConnections: { secretId, olderThan: '3s', applications: [appName] },
            } satisfies AuroraFailoverInput,
          ],
        });
        const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        expect(waiting.pendingApproval?.summary).toMatch(
          new RegExp(
            `first terminate 1 connection\\(s\\) idle for longer than 3s: pid ${old.pid} app/${appName} idle \\d+s`,
          ),
        );
        expect(waiting.pendingApproval?.plan?.[0]).toMatchObject({
          step: 'Terminate idle connections',
          action: 'sql:pg_terminate_backend',
          params: { count: 1, pids: [old.pid] },
        });
        await handle.signal(approveSignal, { by: 'bob' });
        const report = (await handle.result()) as RunbookReport<AuroraFailoverResult>;
        expect(report.outcome).toBe('succeeded');
        expect(report.result?.idleConnections?.terminated.map((s) => [s.pid, s.user, s.application])).toEqual([
          [old.pid, DEMO_DB.user, appName],
        ]);
        expect(report.result?.idleConnections?.skipped).toEqual([]);
        expect(await writerOf(aws, c.id)).toBe(c.members[1]);

        // In PostgreSQL: the old session is gone; the young one answers; the busy one is still running its query.
        const observer = await connect();
        const sessions = (
          await observer.s.query('SELECT pid, state FROM pg_stat_activity WHERE application_name = $1', [appName])
        ).rows as { pid: number; state: string }[];
        const byPid = new Map(sessions.map((r) => [Number(r.pid), r.state]));
        expect(byPid.has(old.pid)).toBe(false);
        expect(byPid.get(young.pid)).toBe('idle');
        expect(byPid.get(busy.pid)).toBe('active');
        expect((await young.s.query('SELECT 1 AS one')).rows[0].one).toBe(1);
        await expect(old.s.query('SELECT 1')).rejects.toThrow();
        await observer.s.end();

        // Credentials stay in the activity: the history has no password.
        const history = JSON.stringify(await client.workflow.getHandle(workflowId).fetchHistory());
        expect(history).not.toContain(DEMO_DB.password);
      } finally {
        // Stop the busy session's sleep (a query on it would wait for the sleep to end), then close all three.
        const killer = await connect();
        await killer.s.query('SELECT pg_cancel_backend($1)', [busy.pid]);
        await busyQuery;
        for (const x of [old, young, busy, killer]) await x.s.end().catch(() => undefined);
      }
    });
  }, 90_000);

  it('a health check failing after the failover fails the run, fails nothing back, and reports the state', async () => {
    const sick = await startDemoApp('aurora-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const c = await makeCluster(aws, [{ tier: 1, az: 'us-east-1b', lagMs: 5 }]);
        const [w, r] = c.members as [string, string];
        const workflowId = uid('aurora');
        await client.workflow.start('auroraFailover', {
          taskQueue,
          workflowId,
          args: [
            {
              region: REGION,
              cluster: c.id,
              approval: { required: false },
              health: { ...health(sick), timeout: '1s' },
            } satisfies AuroraFailoverInput,
          ],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.HealthCheckFailed);
        expect(failure.message).toMatch(/^health check failed after the failover: .* not healthy after \d+ probes/);
        expect(failure.message).toContain(`FailoverDBCluster to ${r} was sent `);
        expect(failure.message).toContain('was NOT undone (no automatic failback)');
        expect(failure.message).toContain(`${c.id} now shows: ${c.id} available, aurora-postgresql`);
        expect(failure.message).toContain(`writer ${r}; readers ${w} (tier 0, us-east-1a,`);
        expect(failure.message).toContain(`The failover itself completed: ${r} is the writer`);
        expect(failure.report?.compensations).toEqual([]);
        expect(await writerOf(aws, c.id)).toBe(r); // not failed back
      });
    } finally {
      await sick.close();
    }
  });
});

describe('auroraFailover under realistic AWS', () => {
  it('waits through failing-over (writer flag held back, members rebooting) under throttling; FailoverDBCluster made once', async () => {
    await withRealisticWorker(
      // 6 s per AWS minute: the target reboots for 3.6 s, so the wait sees it even when its first probes are throttled.
      { minuteMs: 6_000, faults: [{ name: 'throttle-storm', rate: 0.2 }] },
      async ({ client, taskQueue, aws, layer }) => {
        const c = await makeCluster(aws, [
          { tier: 2, az: 'us-east-1b', lagMs: 5 },
          { tier: 1, az: 'us-east-1c', lagMs: 50 },
        ]);
        const [w, , target] = c.members as [string, string, string];
        const report = (await client.workflow.execute('auroraFailover', {
          taskQueue,
          workflowId: uid('aurora'),
          args: [{ region: REGION, cluster: c.id, approval: { required: false }, rtoTarget: '1s' }],
        })) as RunbookReport<AuroraFailoverResult>;
        expect(report.outcome).toBe('succeeded-with-warnings');
        expect(report.result?.writerAfter).toBe(target);
        // What the wait saw, phase by phase: the failover under way with the old writer still flagged and the target
        // restarting, and at the end the target as writer with everything available.
        const phases = (report.result?.phases ?? '').split(' → ');
        expect(phases[0]).toMatch(new RegExp(`^failing-over, writer ${w} \\(`));
        expect(
          phases.some((p) => p.startsWith(`failing-over, writer ${w} (`) && p.includes(`${target} rebooting`)),
        ).toBe(true);
        expect(phases.at(-1)).toMatch(new RegExp(`^available, writer ${target} @\\S+$`));
        expect(effectiveMutations(layer).filter((m) => m.startsWith('FailoverDBCluster'))).toEqual([
          `FailoverDBCluster ${target}`,
        ]);
        // The wait took the AWS time of the failover (0.75–1 AWS minute): the RTO target of 1 s is missed, and said so.
        expect(report.result?.rto.verdict).toBe('missed');
        expect(report.warnings).toEqual([expect.stringMatching(/^RTO \d+s \(target 1s: MISSED by /)]);
        expect(await writerOf(aws, c.id)).toBe(target);
      },
    );
  }, 90_000);

  it('the region stops answering during the wait: the run fails RegionUnavailable, fails nothing back, says what to do', async () => {
    await withRealisticWorker({ minuteMs: 5_000 }, async ({ client, taskQueue, aws, layer }) => {
      const c = await makeCluster(aws, [{ tier: 1, az: 'us-east-1b', lagMs: 5 }]);
      const [w, r] = c.members as [string, string];
      const workflowId = uid('aurora');
      await client.workflow.start('auroraFailover', {
        taskQueue,
        workflowId,
        args: [{ region: REGION, cluster: c.id, approval: { required: false } } satisfies AuroraFailoverInput],
      });
      // The failover was accepted and the cluster is failing-over when us-east-1 stops answering.
      await waitForStatus(client, workflowId, (s) => (s.currentStep ?? '').startsWith('Wait until'), 30_000);
      layer.setFaults([{ name: 'region-outage', region: REGION }]);
      const failure = await expectFailure(client, workflowId);
      layer.setFaults([]);
      expect(failure.type).toBe(FailureType.RegionUnavailable);
      expect(failure.message).toMatch(/^us-east-1 is not answering: \d+ polls in a row/);
      expect(failure.message).toContain(`FailoverDBCluster to ${r} was sent `);
      expect(failure.message).toContain('was NOT undone (no automatic failback)');
      expect(failure.message).toContain(`${c.id} could not be read (`);
      expect(failure.message).toContain(
        `Watch the cluster (aws rds describe-db-clusters --region us-east-1 --db-cluster-identifier ${c.id})`,
      );
      expect(failure.message).toContain(`run auroraFailover again (targetReader ${r}, or ${w} to go back)`);
      expect(failure.report?.compensations).toEqual([]);
      expect(effectiveMutations(layer).filter((m) => m.startsWith('FailoverDBCluster'))).toEqual([
        `FailoverDBCluster ${r}`,
      ]);
      expect(await writerOf(aws, c.id)).toBe(r); // AWS finished the failover on its own; nothing failed it back
    });
  }, 90_000);
});
