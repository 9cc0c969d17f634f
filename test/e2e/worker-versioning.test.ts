// Worker Versioning on the dev server: two builds of the worker (two processes of the same code with different
// build IDs, one Worker Deployment). A run started while build A is current is pinned to A and finishes there after
// build B has become current and taken the new runs — the upgrade docs/deploying.md describes.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { approveSignal } from '../../api/definitions';
import type { EmergencyScaleInput } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { makeService, serviceState } from '../helpers/env/aws-fixtures';
import { closeConnections, testClients, uid, waitForStatus } from '../helpers/temporal';
import { killWorkerProcesses, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

afterAll(async () => {
  killWorkerProcesses();
  await closeConnections();
});

/**
 * Make `buildId` the deployment's current version, as `temporal worker deployment set-current-version` does. The
 * server knows a version only once its worker has polled, so a refusal ("not found") is retried for a while.
 */
async function setCurrentVersion(client: Client, deploymentName: string, buildId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: client.options.namespace,
        deploymentName,
        buildId,
        identity: 'worker-versioning.test',
      });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Per workflow task and activity of a run: the build ID that completed it and the worker identity that ran it. */
async function whoRan(handle: WorkflowHandle) {
  const events = (await handle.fetchHistory()).events ?? [];
  const tasks = events
    .map((e) => e.workflowTaskCompletedEventAttributes)
    .filter((a): a is NonNullable<typeof a> => !!a)
    .map((a) => ({ buildId: a.deploymentVersion?.buildId ?? '', identity: a.identity ?? '' }));
  const activities = events.map((e) => e.activityTaskStartedEventAttributes?.identity).filter((i): i is string => !!i);
  return { tasks, activities };
}

describe('Worker Versioning', () => {
  it('a run pinned to build A finishes on A after build B becomes current; new runs go to B', async () => {
    const { client, aws } = await testClients();
    const taskQueue = uid('versioning');
    const deploymentName = uid('runbooks');
    const workers: WorkerProcess[] = [];
    /** The IDs of the runs still open on a build: the visibility query docs/deploying.md gives for draining. */
    const openOn = async (buildId: string) => {
      const ids: string[] = [];
      const query = `TemporalWorkerDeploymentVersion = '${deploymentName}:${buildId}' AND ExecutionStatus = 'Running'`;
      for await (const run of client.workflow.list({ query })) ids.push(run.workflowId);
      return ids;
    };
    const startBuild = async (buildId: string) => {
      const w = await startWorkerProcess(taskQueue, {
        env: { RUNBOOKS_DEPLOYMENT_NAME: deploymentName, RUNBOOKS_BUILD_ID: buildId },
      });
      workers.push(w);
      return w;
    };
    try {
      const [svcA, svcB] = await Promise.all([
        makeService(aws, { desiredCount: 1 }),
        makeService(aws, { desiredCount: 1 }),
      ]);
      const scale = (svc: typeof svcA): EmergencyScaleInput => ({
        region: svc.region,
        cluster: svc.cluster,
        service: svc.service,
        desiredCount: 3,
        reason: 'versioning test',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '5m' },
      });

      const workerA = await startBuild('build-a');
      await setCurrentVersion(client, deploymentName, 'build-a');
      const first = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('wv-first'),
        args: [scale(svcA)],
      });
      await waitForStatus(client, first.workflowId, (s) => s.state === 'awaiting-approval');

      // Build B is deployed alongside A and becomes current while the first run waits at its approval gate.
      const workerB = await startBuild('build-b');
      await setCurrentVersion(client, deploymentName, 'build-b');
      const second = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('wv-second'),
        args: [scale(svcB)],
      });
      await waitForStatus(client, second.workflowId, (s) => s.state === 'awaiting-approval');
      // Draining A, as an operator watches it (docs/deploying.md): the first run is open on build A, with its
      // resource-lock children (pinned with their parent: they close with it); nothing of the second run is.
      await expect
        .poll(async () => (await openOn('build-a')).includes(first.workflowId), { timeout: 10_000 })
        .toBe(true);
      const onA = await openOn('build-a');
      expect(onA.filter((id) => id.includes(svcB.service) || id === second.workflowId)).toEqual([]);
      expect((await openOn('build-b')).includes(second.workflowId)).toBe(true);

      await first.signal(approveSignal, { by: 'bob' });
      await second.signal(approveSignal, { by: 'bob' });
      const [r1, r2] = (await Promise.all([first.result(), second.result()])) as [RunbookReport, RunbookReport];
      expect(r1.outcome).toBe('succeeded');
      expect(r2.outcome).toBe('succeeded');
      expect((await serviceState(aws, svcA)).desiredCount).toBe(3);
      expect((await serviceState(aws, svcB)).desiredCount).toBe(3);

      // The first run, started on A, ran every workflow task and every activity (the scaling included) on A —
      // after B had become current; the second only on B.
      const a = await whoRan(first);
      const b = await whoRan(second);
      expect(a.tasks.length).toBeGreaterThan(2);
      expect(new Set(a.tasks.map((t) => t.buildId))).toEqual(new Set(['build-a']));
      expect(new Set(a.tasks.map((t) => t.identity))).toEqual(new Set([`worker-process-${workerA.pid}`]));
      expect(a.activities.length).toBeGreaterThan(0);
      expect(new Set(a.activities)).toEqual(new Set([`worker-process-${workerA.pid}`]));
      expect(new Set(b.tasks.map((t) => t.buildId))).toEqual(new Set(['build-b']));
      expect(new Set([...b.tasks.map((t) => t.identity), ...b.activities])).toEqual(
        new Set([`worker-process-${workerB.pid}`]),
      );

      // A drained: no run open on it any more, so its workers can be retired.
      await expect.poll(() => openOn('build-a'), { timeout: 10_000 }).toEqual([]);
      const described = await first.describe();
      expect(described.raw.workflowExecutionInfo?.versioningInfo?.behavior).toBe(
        temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      );
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
    }
  }, 90_000);
});
