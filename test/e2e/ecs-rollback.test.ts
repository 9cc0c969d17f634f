// ecsRollback end to end: real dev server, real worker, the service's task definition read back through the SDK.
import { DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { approveUpdate, rejectUpdate, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { EcsRollbackInput, EcsRollbackResult } from '../../api/runbooks/ecs-rollback';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { deploymentControllerOf, makeService, serviceState } from '../helpers/env/aws-fixtures';
import { withInterceptingWorker, withPrimaryDeploymentFailed } from '../helpers/proxies/aws-proxy';
import { withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('rb-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = (a: DemoApp = app) => ({ url: a.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });

/** `text` as a literal in a RegExp. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A DescribeServices answer (JSON) whose services' PRIMARY deployment began at `at` (epoch ms; AWS sends epoch
 * seconds), or shows no createdAt when `at` is undefined. The emulator's deployments begin when the service is created.
 */
function withPrimaryCreatedAt(json: string, at: number | undefined): string {
  const out = JSON.parse(json) as { services?: { deployments?: Record<string, unknown>[] }[] };
  for (const svc of out.services ?? []) {
    for (const d of svc.deployments ?? []) {
      if (d.status !== 'PRIMARY') continue;
      if (at === undefined) delete d.createdAt;
      else d.createdAt = at / 1000;
    }
  }
  return JSON.stringify(out);
}

/** Every message in an error's cause chain (WorkflowUpdateFailedError → ApplicationFailure → …). */
function causeMessages(err: unknown): string[] {
  const out: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.message) out.push(e.message);
  }
  return out;
}

describe('ecsRollback', () => {
  it('rolls back to the previous revision once a second person approves (update), then verifies health', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws); // revisions 1 and 2, on 2
      const [rev1, rev2] = svc.revisions as [string, string];
      expect((await serviceState(aws, svc)).taskDefinition).toBe(rev2);
      const input: EcsRollbackInput = {
        ...svc.ref,
        reason: 'bad deploy',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
        health: health(),
      };
      const workflowId = uid('rb');
      const handle = await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain(`from ${svc.family}:2 to ${svc.family}:1`);
      expect(waiting.pendingApproval?.plan[0]).toMatchObject({
        action: 'ecs:UpdateService',
        params: { taskDefinition: rev1, from: rev2 },
      });
      expect((await serviceState(aws, svc)).taskDefinition).toBe(rev2); // nothing changed before approval

      const probesBefore = app.probes;
      const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      expect(ack).toMatchObject({ accepted: true, decision: 'approve', gateState: 'approved', approvals: 1 });
      expect(ack.message).toMatch(/^approved/);

      const report = (await handle.result()) as RunbookReport<EcsRollbackResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.warnings).toEqual([]);
      expect(report.result).toMatchObject({ fromTaskDefinition: rev2, toTaskDefinition: rev1, healthy: true });
      expect(report.approvals).toMatchObject([{ by: 'bob', decision: 'approve', via: 'update', accepted: true }]);

      const steps = report.timeline.map((s) => [s.name, s.outcome]);
      expect(steps).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: find the revision to roll back to', 'succeeded'],
        ['Lock resources', 'succeeded'],
        ['Approval', 'succeeded'],
        ['Update service to the previous revision', 'succeeded'],
        ['Wait until the service is stable', 'succeeded'],
        ['Verify health', 'succeeded'],
      ]);
      for (const step of report.timeline) {
        expect(Date.parse(step.startedAt)).not.toBeNaN();
        expect(Date.parse(step.endedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(step.startedAt));
      }
      expect(report.timeline.find((s) => s.name === 'Update service to the previous revision')?.mutating).toBe(true);
      expect(app.probes - probesBefore).toBeGreaterThanOrEqual(2); // the health check really reached the app

      // AWS, read through the SDK: the service is on revision 1 now.
      const after = await serviceState(aws, svc);
      expect(after.taskDefinition).toBe(rev1);
      expect(after.desiredCount).toBe(2);
    });
  });

  it('rolls back to an explicit toRevision (family:1 when on 3 of 3)', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { revisions: 3 });
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[2]);
      const handle = await client.workflow.start('ecsRollback', {
        taskQueue,
        workflowId: uid('rb'),
        args: [{ ...svc.ref, toRevision: `${svc.family}:1`, reason: 'back to the last known good' }],
      });
      const report = (await handle.result()) as RunbookReport<EcsRollbackResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.result?.toTaskDefinition).toBe(svc.revisions[0]);
      expect(report.timeline.find((s) => s.name === 'Approval')?.outcome).toBe('skipped');
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[0]);
    });
  });

  it('health failing after the rollback completes with a warning and leaves the service on the rollback revision', async () => {
    const sick = await startDemoApp('rb-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws);
        const handle = await client.workflow.start('ecsRollback', {
          taskQueue,
          workflowId: uid('rb'),
          args: [{ ...svc.ref, health: { ...health(sick), timeout: '1s' } }],
        });
        const report = (await handle.result()) as RunbookReport<EcsRollbackResult>;
        expect(report.outcome).toBe('succeeded-with-warnings');
        expect(report.result?.healthy).toBe(false);
        expect(report.warnings).toHaveLength(1);
        expect(report.warnings[0]).toContain('health check failed after the rollback');
        expect(report.warnings[0]).toContain(`left on ${svc.family}:1`);
        expect(report.warnings[0]).toContain('not rolled forward');
        expect(report.timeline.find((s) => s.name === 'Verify health')?.details).toMatchObject({ healthy: false });
        // The step that found the service unhealthy is a failed step, in status and in the report.
        const status = await handle.query(statusQuery);
        expect(status.steps.find((s) => s.name === 'Verify health')?.outcome).toBe('failed');
        expect(report.timeline.find((s) => s.name === 'Verify health')?.outcome).toBe('failed');
        expect(report.incidentReport).toContain('| Verify health: failed (');
        expect(report.incidentReport).toContain(
          '- **Status:** Resolved with warnings: health check failed after the rollback',
        );
        expect(report.compensations).toEqual([]);
        expect(sick.probes).toBeGreaterThan(0);
        // Not rolled forward: the service stays on revision 1.
        expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[0]);
      });
    } finally {
      await sick.close();
    }
  });

  it("refuses a toRevision of another family (another application's task definition), naming both, changing nothing", async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const api = await makeService(aws); // the service to roll back, on its family's revision 2
      const web = await makeService(aws, { revisions: 1 }); // another application: its family's revision 1
      const before = await serviceState(aws, api);
      const workflowId = uid('rb');
      await client.workflow.start('ecsRollback', {
        taskQueue,
        workflowId,
        args: [{ ...api.ref, toRevision: `${web.family}:1`, approval: { required: false } }],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toContain(
        `toRevision ${web.family}:1 is a revision of ${web.family}, not of ${api.family} ` +
          `(${api.service} runs ${api.family}:2)`,
      );
      expect(failure.message).toContain('"allowOtherFamily": {"reason": "<why>"}');
      expect(failure.message).toContain('Nothing was changed');
      expect(failure.report?.timeline.find((s) => s.name.startsWith('Preflight'))?.outcome).toBe('failed');
      expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
      expect(await serviceState(aws, api)).toEqual(before);
    });
  });

  it('rolls back to another family when the input says so with a reason (allowOtherFamily), and records it', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const api = await makeService(aws);
      const web = await makeService(aws, { revisions: 1 });
      const input: EcsRollbackInput = {
        ...api.ref,
        toRevision: `${web.family}:1`,
        allowOtherFamily: { reason: 'the family was renamed; the old one is the last good build' },
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
      };
      const workflowId = uid('rb');
      const handle = await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      // The approver sees that the revision is of another family, and why that is allowed.
      expect(waiting.pendingApproval?.summary).toContain(
        `another family (${web.family}, not ${api.family}), allowed: the family was renamed`,
      );
      expect(waiting.steps.find((s) => s.name.startsWith('Preflight'))?.details).toMatchObject({
        otherFamily: { runs: api.family, rollbackTo: web.family, reason: input.allowOtherFamily?.reason },
      });
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      const report = (await handle.result()) as RunbookReport<EcsRollbackResult>;
      expect(report.outcome).toBe('succeeded');
      expect((await serviceState(aws, api)).taskDefinition).toBe(web.revisions[0]);
    });
  });

  it('fails with a clear message when there is no earlier revision, changing nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { revisions: 1 });
      const before = await serviceState(aws, svc);
      const workflowId = uid('rb');
      await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [{ ...svc.ref }] });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toContain(`no ACTIVE revision of ${svc.family} older than 1`);
      expect(failure.message).toContain('give toRevision');
      expect(failure.message).toContain('Nothing was changed');
      expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
      expect(await serviceState(aws, svc)).toEqual(before);
    });
  });

  it('refuses an approval update from the initiator, records the refusal, and still accepts a second person', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const workflowId = uid('rb');
      const handle = await client.workflow.start('ecsRollback', {
        taskQueue,
        workflowId,
        args: [{ ...svc.ref, initiatedBy: 'alice', approval: { required: true, timeout: '1m' } }],
      });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');

      const err = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeDefined();
      const messages = causeMessages(err).join(' | ');
      expect(messages).toContain('refused');
      expect(messages).toContain('second person');

      const status = await handle.query(statusQuery);
      expect(status.state).toBe('awaiting-approval');
      expect(status.approvals).toHaveLength(1);
      expect(status.approvals[0]).toMatchObject({ by: 'alice', decision: 'approve', via: 'update', accepted: false });
      expect(status.approvals[0]?.refusal).toContain('second person is required');
      expect(status.pendingApproval?.approvedBy).toEqual([]);
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);

      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      const report = (await handle.result()) as RunbookReport<EcsRollbackResult>;
      expect(report.approvals.map((a) => [a.by, a.accepted])).toEqual([
        ['alice', false],
        ['bob', true],
      ]);
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[0]);
    });
  });

  it('a rejection changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const before = await serviceState(aws, svc);
      const workflowId = uid('rb');
      const handle = await client.workflow.start('ecsRollback', {
        taskQueue,
        workflowId,
        args: [{ ...svc.ref, initiatedBy: 'alice', approval: { required: true, timeout: '1m' } }],
      });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      const ack = await handle.executeUpdate(rejectUpdate, { args: [{ by: 'bob', reason: 'the deploy is fine' }] });
      expect(ack.gateState).toBe('rejected');
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ApprovalRejected);
      expect(failure.message).toContain('rejected by bob: the deploy is fine');
      expect(failure.message).toContain('Nothing was changed');
      expect(await serviceState(aws, svc)).toEqual(before);
    });
  });

  it('no approval within the timeout fails the run and changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const before = await serviceState(aws, svc);
      const workflowId = uid('rb');
      await client.workflow.start('ecsRollback', {
        taskQueue,
        workflowId,
        args: [{ ...svc.ref, initiatedBy: 'alice', approval: { required: true, timeout: '2s' } }],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ApprovalTimedOut);
      expect(failure.message).toContain('no approval within 2s');
      expect(failure.message).toContain('Nothing was changed');
      expect(failure.report?.outcome).toBe('failed');
      expect(await serviceState(aws, svc)).toEqual(before);
    });
  });
});

describe('ecsRollback: what AWS says', () => {
  it("the rollback deployment FAILED: fails at once naming AWS's reason, not after stableTimeout", async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws); // revisions 1 and 2, on 2
    // AWS's answers once the rollback is deployed: its PRIMARY deployment FAILED (the emulator never fails one).
    let updated = false;
    await withInterceptingWorker(
      (call) => {
        if (call.operation === 'UpdateService') updated = true;
        return call.operation === 'DescribeServices' && updated
          ? {
              rewrite: (text) =>
                withPrimaryDeploymentFailed(text, 'ECS deployment circuit breaker: tasks failed to start.'),
            }
          : undefined;
      },
      async ({ client, taskQueue }) => {
        const workflowId = uid('rb');
        const started = Date.now();
        await client.workflow.start('ecsRollback', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, stableTimeout: '30m' }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(failure.type).toBe(FailureType.ServiceDeploymentFailed);
        expect(failure.message).toMatch(
          new RegExp(
            `^ECS service ${svc.service} \\(us-east-1/${svc.cluster}\\): deployment ecs-svc/\\d+ of ${svc.family}:1 FAILED: ` +
              `"ECS deployment circuit breaker: tasks failed to start\\."\\. See its events: aws ecs describe-services`,
          ),
        );
        const wait = failure.report?.timeline.find((s) => s.name === 'Wait until the service is stable');
        expect(wait?.outcome).toBe('failed');
        // No rollback of the rollback: the service is left on revision 1, as the run said.
        expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[0]);
      },
    );
  });

  it('a service deployed by CodeDeploy (or an external controller) is refused before any change', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      for (const controller of ['CODE_DEPLOY', 'EXTERNAL'] as const) {
        const svc = await makeService(aws, { deploymentController: controller });
        expect(await deploymentControllerOf(aws, svc)).toBe(controller);
        const before = await serviceState(aws, svc);
        const workflowId = uid('rb');
        await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [{ ...svc.ref }] });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toContain(
          `service ${svc.service} (us-east-1/${svc.cluster}/${svc.service}) uses the ${controller} deployment controller, ` +
            `and AWS refuses a task-definition change or a forced deployment through UpdateService for such a service: ` +
            `this runbook would roll it back from ${svc.family}:2 to an earlier task definition.`,
        );
        expect(failure.message).toContain(
          controller === 'CODE_DEPLOY'
            ? 'deploy it through CodeDeploy (aws deploy create-deployment'
            : 'aws ecs create-task-set',
        );
        expect(failure.message).toContain('or run this runbook on an ECS-controlled service. Nothing was changed.');
        expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
        expect(await serviceState(aws, svc)).toEqual(before);
      }
    });
  });
});

describe('ecsRollback: rollback that checks first (seed 004)', () => {
  it('onlyIfDeployedWithin: a revision deployed longer ago is refused naming its age, as is an unknown deployment time; nothing changed', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws); // revisions 1 and 2, on 2
    const before = await serviceState(aws, svc);
    // AWS's answers say the PRIMARY deployment (of revision 2) began 3 hours ago; then that they do not say when.
    const threeHoursAgo = Math.floor((Date.now() - 3 * 3_600_000) / 1000) * 1000;
    let createdAt: number | undefined = threeHoursAgo;
    await withInterceptingWorker(
      (call) =>
        call.operation === 'DescribeServices'
          ? { rewrite: (text) => withPrimaryCreatedAt(text, createdAt) }
          : undefined,
      async ({ client, taskQueue }) => {
        // A real run and a dry run are refused alike, in the preflight.
        for (const dryRun of [false, true]) {
          const workflowId = uid('rb');
          await client.workflow.start('ecsRollback', {
            taskQueue,
            workflowId,
            args: [{ ...svc.ref, onlyIfDeployedWithin: '2h', dryRun }],
          });
          const failure = await expectFailure(client, workflowId);
          expect(failure.type).toBe(FailureType.PreconditionFailed);
          expect(failure.message).toMatch(
            new RegExp(
              `^refusing to roll back: ${svc.service} has run ${svc.family}:2 for 3h(\\d+s)? ` +
                `\\(deployed ${literal(new Date(threeHoursAgo).toISOString())}\\), longer than onlyIfDeployedWithin ` +
                `\\(2h\\): the problem is probably not the last deployment \\(seed 004\\)\\. `,
            ),
          );
          expect(failure.message).toContain('drop onlyIfDeployedWithin from the input to roll back anyway');
          expect(failure.message).toMatch(/Nothing was changed\.$/);
          expect(failure.report?.timeline.find((s) => s.name.startsWith('Preflight'))?.outcome).toBe('failed');
          expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
        }

        createdAt = undefined;
        const workflowId = uid('rb');
        await client.workflow.start('ecsRollback', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, onlyIfDeployedWithin: '2h' }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toMatch(
          new RegExp(
            `^refusing to roll back: when ${svc.service} began to run ${svc.family}:2 is unknown \\(ECS shows its ` +
              `PRIMARY deployment ecs-svc/\\d+ without a createdAt\\), so onlyIfDeployedWithin \\(2h\\) cannot be checked\\.`,
          ),
        );
        expect(failure.message).toContain(
          `aws ecs describe-services --region us-east-1 --cluster ${svc.cluster} --services ${svc.service} ` +
            `--query 'services[0].deployments'`,
        );
        expect(failure.message).toContain('drop onlyIfDeployedWithin from the input to roll back anyway');
      },
    );
    // AWS, read directly: the service is still on revision 2.
    expect(await serviceState(aws, svc)).toEqual(before);
  });

  it('onlyIfDeployedWithin: a revision deployed within the window is rolled back', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws); // its deployment began now (the emulator's createdAt)
      const started = Date.now();
      const report = (await client.workflow.execute('ecsRollback', {
        taskQueue,
        workflowId: uid('rb'),
        args: [{ ...svc.ref, onlyIfDeployedWithin: '1h' }],
      })) as RunbookReport<EcsRollbackResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.warnings).toEqual([]);
      const details = report.timeline.find((s) => s.name.startsWith('Preflight'))?.details;
      expect(details).toMatchObject({ onlyIfDeployedWithin: '1h' });
      expect(Math.abs(Date.parse(String(details?.deployedAt)) - started)).toBeLessThan(5 * 60_000);
      expect(report.result).toMatchObject({ fromTaskDefinition: svc.revisions[1], toTaskDefinition: svc.revisions[0] });
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[0]);
    });
  });

  it('a deployment still IN_PROGRESS (realistic AWS: its tasks keep failing) is refused; with stopInProgress the rollback replaces it', async () => {
    await withRealisticWorker({ faults: [{ name: 'tasks-crash-loop' }] }, async ({ client, taskQueue, aws, layer }) => {
      const svc = await makeService(aws, { onRevision: 1 });
      const [rev1, rev2] = svc.revisions as [string, string];
      // The deploy that broke the service: revision 2, through the layer (which saw the service on 1 first). Its
      // tasks keep failing: ECS shows the deployment IN_PROGRESS, 0 of 2 running, the old one still serving.
      const deployer = createAwsClients({ endpoint: layer.endpoint });
      try {
        const ecs = deployer.ecs(svc.region);
        await ecs.send(new DescribeServicesCommand({ cluster: svc.cluster, services: [svc.service] }));
        await ecs.send(new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, taskDefinition: rev2 }));
      } finally {
        deployer.destroy();
      }
      const before = await serviceState(aws, svc);
      expect(before.taskDefinition).toBe(rev2);

      // Without stopInProgress: refused, naming the deployment (a dry run alike); nothing changed.
      for (const dryRun of [false, true]) {
        const workflowId = uid('rb');
        await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [{ ...svc.ref, dryRun }] });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.PreconditionFailed);
        expect(failure.message).toMatch(
          new RegExp(
            `^refusing to roll back: ${svc.service} has a deployment in progress: ecs-svc/\\d+ of ${svc.family}:2, ` +
              `started \\w+ ago \\(\\S+\\), 0 of 2 tasks running, rolloutState IN_PROGRESS ` +
              `\\(other deployments: ACTIVE ${svc.family}:1, 2 of 2 tasks running\\)\\. ` +
              `A rollback now would replace it mid-way\\.`,
          ),
        );
        expect(failure.message).toContain('"stopInProgress": {"reason": "<why>"}');
        expect(failure.message).toMatch(/Nothing was changed\.$/);
        expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
      }
      expect(await serviceState(aws, svc)).toEqual(before);

      // With it: the approver sees what is replaced; the rollback goes through and the run says what it stopped.
      const reason = 'the 2.0 deploy crash-loops (INC-7)';
      const input: EcsRollbackInput = {
        ...svc.ref,
        stopInProgress: { reason },
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
      };
      const workflowId = uid('rb');
      const handle = await client.workflow.start('ecsRollback', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain(
        `back from ${svc.family}:2 to ${svc.family}:1 — replaces the deployment in progress of ${svc.family}:2 ` +
          `(stopInProgress: ${reason})`,
      );
      expect(waiting.pendingApproval?.plan[0]).toMatchObject({
        action: 'ecs:UpdateService',
        params: { taskDefinition: rev1, from: rev2, replacesInProgress: `${svc.family}:2`, stopInProgress: reason },
      });
      expect(waiting.steps.find((s) => s.name.startsWith('Preflight'))?.details).toMatchObject({
        replacesInProgress: { status: 'PRIMARY', rolloutState: 'IN_PROGRESS', taskDefinition: rev2, reason },
      });
      expect(await serviceState(aws, svc)).toEqual(before); // nothing changed before approval
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
      const report = (await handle.result()) as RunbookReport<EcsRollbackResult>;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(report.warnings).toHaveLength(1);
      expect(report.warnings[0]).toMatch(
        new RegExp(
          `^in-progress deployment of ${svc.family}:2 replaced by the rollback \\(${literal(reason)}\\); it was ` +
            `ecs-svc/\\d+ of ${svc.family}:2, started \\w+ ago \\(\\S+\\), 0 of 2 tasks running, rolloutState IN_PROGRESS$`,
        ),
      );
      expect(report.result).toMatchObject({ fromTaskDefinition: rev2, toTaskDefinition: rev1 });
      // AWS, read directly: the service is on revision 1, at its desired count.
      const after = await serviceState(aws, svc);
      expect(after.taskDefinition).toBe(rev1);
      expect(after.desiredCount).toBe(2);
    });
  });
});
