// emergencyScale end to end: real dev server, real worker, AWS state read back through the SDK.
import {
  DescribeScalableTargetsCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { keepScaledSignal, approveSignal, rejectSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { EmergencyScaleInput, EmergencyScaleResult } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { deploymentControllerOf, makeService, serviceState, type TestService } from '../helpers/env/aws-fixtures';
import {
  accessDenied,
  withFaultyWorker,
  withInterceptingWorker,
  withPrimaryDeploymentFailed,
} from '../helpers/proxies/aws-proxy';
import { closeConnections, expectFailure, testClients, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('es-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = () => ({ url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });

/** Let Application Auto Scaling manage the service's count within [min, max]. */
async function autoScaled(aws: AwsClients, svc: TestService, min: number, max: number) {
  await aws.autoscaling(svc.region).send(
    new RegisterScalableTargetCommand({
      ServiceNamespace: 'ecs',
      ResourceId: `service/${svc.cluster}/${svc.service}`,
      ScalableDimension: 'ecs:service:DesiredCount',
      MinCapacity: min,
      MaxCapacity: max,
    }),
  );
}

async function scalableRange(aws: AwsClients, svc: TestService) {
  const out = await aws.autoscaling(svc.region).send(
    new DescribeScalableTargetsCommand({
      ServiceNamespace: 'ecs',
      ResourceIds: [`service/${svc.cluster}/${svc.service}`],
    }),
  );
  const t = out.ScalableTargets![0]!;
  return { min: t.MinCapacity, max: t.MaxCapacity };
}

describe('emergencyScale', () => {
  it('scales after a second person approves, waits stable, verifies health', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      const input: EmergencyScaleInput = {
        region: svc.region,
        cluster: svc.cluster,
        service: svc.service,
        desiredCount: 5,
        reason: 'traffic spike',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
        health: health(),
      };
      const workflowId = uid('es');
      const handle = await client.workflow.start('emergencyScale', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain('from 2 to 5');
      expect((await serviceState(aws, svc)).desiredCount).toBe(2); // nothing changed before approval

      await handle.signal(approveSignal, { by: 'alice' }); // the initiator: refused
      await handle.signal(approveSignal, { by: 'bob', comment: 'go' });
      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;

      expect(report.outcome).toBe('succeeded');
      expect(report.result?.previousCount).toBe(2);
      expect(report.result?.autoScaling).toBeUndefined(); // no scalable target: nothing to hold
      expect(report.approvals.map((a) => [a.by, a.accepted])).toEqual([
        ['alice', false],
        ['bob', true],
      ]);
      expect(report.approvals[0]?.refusal).toContain('started this run and a second person is required');
      const after = await serviceState(aws, svc);
      expect(after.desiredCount).toBe(5);
      expect(after.runningCount).toBe(5);
    });
  });

  it('health failing after scaling: the count is kept, the step is failed and the incident report is not just "Resolved"', async () => {
    const sick = await startDemoApp('es-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws, { desiredCount: 2 });
        const workflowId = uid('es');
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [
            {
              ...svc.ref,
              desiredCount: 4,
              reason: 'traffic spike',
              approval: { required: false },
              health: { url: sick.healthUrl, consecutive: 2, interval: '100ms', timeout: '1s' },
            } satisfies EmergencyScaleInput,
          ],
        });
        const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
        expect(report.outcome).toBe('succeeded-with-warnings');
        expect(report.warnings[0]).toContain('health check failed after scaling');
        expect(sick.probes).toBeGreaterThan(0);
        // The step that found the service unhealthy is failed, in status and in the report.
        const status = await handle.query(statusQuery);
        const verify = status.steps.find((s) => s.name === 'Verify health');
        expect(verify).toMatchObject({ outcome: 'failed', details: { healthy: false } });
        expect(verify?.error).toContain(`${sick.healthUrl} not healthy after`);
        expect(report.timeline.find((s) => s.name === 'Verify health')?.outcome).toBe('failed');
        expect(report.incidentReport).toContain(
          '- **Status:** Resolved with warnings: health check failed after scaling',
        );
        expect(report.incidentReport).not.toMatch(/\*\*Status:\*\* Resolved$/m);
        expect(report.incidentReport).toContain('Runbook finished: Resolved with warnings: health check failed');
        // The capacity is kept.
        expect((await serviceState(aws, svc)).desiredCount).toBe(4);
      });
    } finally {
      await sick.close();
    }
  });

  it('rejection changes nothing; the error names who rejected', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 3 });
      const workflowId = uid('es');
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId,
        args: [{ ...svc.ref, desiredCount: 8, reason: 'spike', initiatedBy: 'alice', approval: { required: true } }],
      });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      await handle.signal(rejectSignal, { by: 'bob', reason: 'not the bottleneck' });
      const failure = await expectFailure(client, workflowId);
      expect(failure.message).toContain('rejected by bob: not the bottleneck');
      expect(failure.message).toContain('Nothing was changed');
      expect((await serviceState(aws, svc)).desiredCount).toBe(3);
    });
  });

  it('scales back after scaleBackAfter, or keeps the count on keepScaled', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const a = await makeService(aws, { desiredCount: 2 });
      const b = await makeService(aws, { desiredCount: 2 });
      const base = { desiredCount: 4, reason: 'spike', scaleBackAfter: '2s', approval: { required: false } };
      const ha = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...a.ref, ...base }],
      });
      const hb = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...b.ref, ...base, scaleBackAfter: '1h' }],
      });
      await waitForStatus(client, hb.workflowId, (s) => s.state === 'waiting');
      expect((await serviceState(aws, b)).desiredCount).toBe(4);
      await hb.signal(keepScaledSignal, { by: ' ' }); // refused, recorded with why: the run goes on waiting
      await hb.signal(keepScaledSignal, { by: 'carol', reason: 'still busy' });

      const ra = (await ha.result()) as RunbookReport<EmergencyScaleResult>;
      const rb = (await hb.result()) as RunbookReport<EmergencyScaleResult>;
      expect(ra.result?.scaleBack?.outcome).toBe('scaled-back');
      expect((await serviceState(aws, a)).desiredCount).toBe(2);
      expect(rb.result?.scaleBack).toMatchObject({ outcome: 'kept', by: 'carol' });
      expect(rb.signals?.map((g) => [g.by, g.accepted, g.refusal ?? g.reason])).toEqual([
        ['(unknown)', false, expect.stringMatching(/^malformed keepScaled: keepScaled\.by: /)],
        ['carol', true, 'still busy'],
      ]);
      expect((await serviceState(aws, b)).desiredCount).toBe(4);
    });
  });
});

describe('emergencyScale with Application Auto Scaling (seed 001: min 2 / max 10 on the service)', () => {
  it('holds the range around the new count while scaled, and puts it back before scaling back', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      await autoScaled(aws, svc, 2, 10);
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...svc.ref, desiredCount: 6, reason: 'spike', scaleBackAfter: '3s', approval: { required: false } }],
      });
      await waitForStatus(client, handle.workflowId, (s) => s.state === 'waiting');
      // While scaled: a scale-in cannot go below the emergency count.
      expect(await scalableRange(aws, svc)).toEqual({ min: 6, max: 10 });
      expect((await serviceState(aws, svc)).desiredCount).toBe(6);

      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
      expect(report.outcome).toBe('succeeded');
      expect(await scalableRange(aws, svc)).toEqual({ min: 2, max: 10 });
      expect((await serviceState(aws, svc)).desiredCount).toBe(2);
      expect(report.result?.autoScaling).toEqual({
        resourceId: `service/${svc.cluster}/${svc.service}`,
        before: { min: 2, max: 10 },
        held: { min: 6, max: 10 },
        restored: true,
      });
      const names = report.timeline.map((s) => s.name);
      const held = names.indexOf('Hold the auto scaling range at min 6 / max 10 (was min 2 / max 10)');
      expect(held).toBeGreaterThan(-1);
      expect(held).toBeLessThan(names.indexOf('Set desired count'));
      expect(names.indexOf('Restore the auto scaling range to min 2 / max 10')).toBeLessThan(
        names.indexOf('Scale back to the previous count'),
      );
    });
  });

  it('without a scale-back the held range stays, and the run says how to put it back; above max raises max too', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      await autoScaled(aws, svc, 1, 4);
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...svc.ref, desiredCount: 8, reason: 'spike', approval: { required: false } }],
      });
      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
      expect(report.outcome).toBe('succeeded-with-warnings');
      expect(await scalableRange(aws, svc)).toEqual({ min: 8, max: 8 });
      expect((await serviceState(aws, svc)).desiredCount).toBe(8);
      expect(report.warnings.join('\n')).toContain(
        `the auto scaling range of service/${svc.cluster}/${svc.service} stays at min 8 / max 8 (was min 1 / max 4)`,
      );
      expect(report.warnings.join('\n')).toContain(
        `--resource-id service/${svc.cluster}/${svc.service} --min-capacity 1 --max-capacity 4`,
      );
    });
  });

  it('autoScaling "leave": the range is not touched, and a count outside it is warned about', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2 });
      await autoScaled(aws, svc, 2, 3);
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...svc.ref, desiredCount: 5, reason: 'spike', autoScaling: 'leave', approval: { required: false } }],
      });
      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
      expect(await scalableRange(aws, svc)).toEqual({ min: 2, max: 3 });
      expect((await serviceState(aws, svc)).desiredCount).toBe(5);
      expect(report.warnings.join('\n')).toContain(
        `5 is outside the auto scaling range of service/${svc.cluster}/${svc.service} (min 2 / max 3)`,
      );
    });
  });

  it('a failure after the range was held puts the range back, and the run says so', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    await autoScaled(aws, svc, 2, 10);
    await withFaultyWorker([accessDenied('UpdateService', 'ecs:UpdateService')], async ({ client, taskQueue }) => {
      const workflowId = uid('es');
      await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId,
        args: [{ ...svc.ref, desiredCount: 6, reason: 'spike', approval: { required: false } }],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe('AccessDeniedException');
      expect(failure.message).toContain(
        `restore the auto scaling range of service/${svc.cluster}/${svc.service} to min 2 / max 10`,
      );
    });
    expect(await scalableRange(aws, svc)).toEqual({ min: 2, max: 10 });
    expect((await serviceState(aws, svc)).desiredCount).toBe(2);
  });
});

describe('emergencyScale: what AWS says', () => {
  it('the scaled-up deployment FAILED: fails at once naming the reason, and the count is put back', async () => {
    const { aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 2 });
    // AWS's answer while the service is at the new count: the deployment FAILED (its new tasks cannot start).
    await withInterceptingWorker(
      (call) =>
        call.operation === 'DescribeServices'
          ? {
              rewrite: (text) =>
                (JSON.parse(text) as { services?: { desiredCount?: number }[] }).services?.[0]?.desiredCount === 5
                  ? withPrimaryDeploymentFailed(text, 'ECS deployment circuit breaker: tasks failed to start.')
                  : text,
            }
          : undefined,
      async ({ client, taskQueue }) => {
        const workflowId = uid('es');
        const started = Date.now();
        await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, desiredCount: 5, reason: 'spike', stableTimeout: '30m', approval: { required: false } }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(failure.type).toBe(FailureType.ServiceDeploymentFailed);
        expect(failure.message).toContain(`ECS service ${svc.service} (us-east-1/${svc.cluster}): deployment ecs-svc/`);
        expect(failure.message).toContain(
          `of ${svc.family}:2 FAILED: "ECS deployment circuit breaker: tasks failed to start."`,
        );
        expect(failure.message).toContain(`Compensated: restore desired count of ${svc.service} to 2.`);
        expect(failure.report?.compensations).toMatchObject([
          { name: `restore desired count of ${svc.service} to 2`, outcome: 'succeeded' },
        ]);
      },
    );
    expect(await serviceState(aws, svc)).toMatchObject({ desiredCount: 2, runningCount: 2 });
  });

  it('a service deployed by CodeDeploy is still scaled (a count change is what AWS allows for it)', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 2, deploymentController: 'CODE_DEPLOY' });
      expect(await deploymentControllerOf(aws, svc)).toBe('CODE_DEPLOY');
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue,
        workflowId: uid('es'),
        args: [{ ...svc.ref, desiredCount: 4, reason: 'spike', stableTimeout: '10s', approval: { required: false } }],
      });
      const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.result).toMatchObject({ previousCount: 2, desiredCount: 4, runningCount: 4 });
      expect(await serviceState(aws, svc)).toMatchObject({ desiredCount: 4, runningCount: 4 });
    });
  });
});
