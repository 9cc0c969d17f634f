// ecsDeploy end to end: real dev server, real worker; the service's revision, images and deployment configuration read
// back through the SDK. ECS-controlled services deploy through UpdateService, CODE_DEPLOY ones through CodeDeploy (the
// emulator's CodeDeploy is made to behave by the CodeDeploy layer of the test stack; see scripts/realistic/README.md).
import { GetDeploymentCommand } from '@aws-sdk/client-codedeploy';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { approveSignal } from '../../api/definitions';
import type { EcsDeployInput, EcsDeployResult } from '../../api/runbooks/ecs-deploy';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { makeCodeDeployService, makeService, serviceState, type TestService } from '../helpers/env/aws-fixtures';
import { effectiveMutations, withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('deploy-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = () => ({ url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '3s' });

async function imagesOf(aws: AwsClients, region: string, taskDefinition: string): Promise<string[]> {
  const td = await aws.ecs(region).send(new DescribeTaskDefinitionCommand({ taskDefinition }));
  return (td.taskDefinition?.containerDefinitions ?? []).map((c) => `${c.name}=${c.image}`);
}

async function serviceOf(aws: AwsClients, s: TestService) {
  return (await aws.ecs(s.region).send(new DescribeServicesCommand({ cluster: s.cluster, services: [s.service] })))
    .services![0]!;
}

describe('ecsDeploy (ECS controller)', () => {
  it('registers a revision with only the image changed, deploys it with the run’s configuration, checks health, puts the configuration back', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const [, rev2] = svc.revisions as [string, string];
      const before = await serviceOf(aws, svc);
      const input: EcsDeployInput = {
        ...svc.ref,
        version: { image: 'example/app:3.0' },
        deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50, circuitBreaker: true },
        health: health(),
        reason: 'release 3.0',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
      };
      const workflowId = uid('deploy');
      const handle = await client.workflow.start('ecsDeploy', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain(
        `${svc.family}:2 with image example/app:3.0 to ${svc.service}`,
      );
      expect(waiting.pendingApproval?.summary).toContain('max 200 % / min 50 %, circuit breaker on with rollback');
      expect((await serviceState(aws, svc)).taskDefinition).toBe(rev2); // nothing before approval
      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as RunbookReport<EcsDeployResult>;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.toTaskDefinition).toMatch(new RegExp(`task-definition/${svc.family}:3$`));
      expect(r.registered).toBe(true);
      const after = await serviceOf(aws, svc);
      expect(after.taskDefinition).toBe(r.toTaskDefinition);
      expect(after.desiredCount).toBe(before.desiredCount);
      expect(await imagesOf(aws, svc.region, after.taskDefinition!)).toEqual(['app=example/app:3.0']);
      // Everything else of the revision is kept (the environment here).
      const td = await aws
        .ecs(svc.region)
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: r.toTaskDefinition }));
      expect(td.taskDefinition?.containerDefinitions?.[0]?.environment).toEqual([
        { name: 'DATABASE_HOST', value: 'db.example' },
      ]);
      // The service had shown no configuration (the emulator): it gets AWS's defaults back, not the run's.
      expect(after.deploymentConfiguration).toMatchObject({
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: false, rollback: false },
      });
      const steps = report.timeline.map((s) => s.name);
      expect(steps).toEqual(
        expect.arrayContaining(['Register the new revision', 'Verify health', 'Put the deployment configuration back']),
      );
      expect(r.health?.healthy).toBe(true);
    });
  });

  it('a failing health check puts the previous revision back (compensation) and says so', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const [, rev2] = svc.revisions as [string, string];
      app.setHealthy(false);
      try {
        const workflowId = uid('deploy-unhealthy');
        await client.workflow.start('ecsDeploy', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, version: { image: 'example/app:bad' }, health: health() } satisfies EcsDeployInput],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe('HealthCheckFailed');
        expect(failure.message).toMatch(/health check failed on .*:3/);
        expect(failure.message).toContain(`Compensated: Put ${svc.service} back on ${svc.family}:2`);
        expect(failure.report?.compensations).toMatchObject([{ outcome: 'succeeded' }]);
        expect((await serviceState(aws, svc)).taskDefinition).toBe(rev2);
      } finally {
        app.setHealthy(true);
      }
    });
  });

  it('refuses before any change: the image already runs; a revision of another family; bad input names the field', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const other = await makeService(aws);
      const run = async (input: unknown) => {
        const workflowId = uid('deploy-refused');
        await client.workflow.start('ecsDeploy', { taskQueue, workflowId, args: [input] });
        return expectFailure(client, workflowId);
      };
      const same = await run({ ...svc.ref, version: { image: 'example/app:2.0' } });
      expect(same.type).toBe('PreconditionFailed');
      expect(same.message).toMatch(
        /already runs .*:2 with app=example\/app:2\.0; nothing to deploy\. Nothing was changed\./,
      );
      const family = await run({ ...svc.ref, version: { taskDefinition: `${other.family}:1` } });
      expect(family.message).toContain(`version.taskDefinition ${other.family}:1 is a revision of ${other.family}`);
      const bad = await run({ ...svc.ref, version: { image: 'has space' } });
      expect(bad.type).toBe('InvalidInput');
      expect(bad.message).toContain('input.version');
      const missing = await run({ ...svc.ref });
      expect(missing.message).toContain('input.version');
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);
      expect(await imagesOf(aws, svc.region, `${svc.family}:2`)).toEqual(['app=example/app:2.0']);
    });
  });

  it('a dry run returns the plan and registers nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const handle = await client.workflow.start('ecsDeploy', {
        taskQueue,
        workflowId: uid('deploy-dry'),
        args: [{ ...svc.ref, version: { image: 'example/app:9.0' }, dryRun: true }],
      });
      const report = (await handle.result()) as RunbookReport;
      expect(report.outcome).toBe('dry-run');
      expect(report.plan?.map((a) => a.action)).toEqual(['ecs:RegisterTaskDefinition', 'ecs:UpdateService']);
      const td = await aws
        .ecs(svc.region)
        .send(new DescribeTaskDefinitionCommand({ taskDefinition: `${svc.family}:3` }))
        .catch(() => undefined);
      expect(td?.taskDefinition).toBeUndefined();
    });
  });
});

describe('ecsDeploy under the realistic layer', () => {
  it('waits through the rollout (IN_PROGRESS → COMPLETED); each change is made once', async () => {
    await withRealisticWorker({ minuteMs: 200 }, async ({ client, taskQueue, aws, layer }) => {
      const svc = await makeService(aws);
      const handle = await client.workflow.start('ecsDeploy', {
        taskQueue,
        workflowId: uid('deploy-real'),
        args: [
          {
            ...svc.ref,
            version: { image: 'example/app:3.0' },
            deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50, circuitBreaker: true },
          } satisfies EcsDeployInput,
        ],
      });
      const report = (await handle.result()) as RunbookReport<EcsDeployResult>;
      expect(report.outcome).toBe('succeeded');
      const wait = report.timeline.find((s) => s.name === 'Wait until the service is stable on the new revision');
      expect(String(wait?.details?.phases)).toMatch(/IN_PROGRESS .*→ COMPLETED/);
      const mine = effectiveMutations(layer).filter((m) => m.endsWith(svc.service) || m.includes(svc.family));
      expect(mine.filter((m) => m.startsWith('RegisterTaskDefinition'))).toHaveLength(1);
      // The deployment, then the configuration put back.
      expect(mine.filter((m) => m.startsWith('UpdateService'))).toHaveLength(2);
      expect((await serviceState(aws, svc)).taskDefinition).toBe(report.result!.toTaskDefinition);
    });
  }, 120_000);

  it('a deployment that trips the circuit breaker ends on the previous revision and says why', async () => {
    await withRealisticWorker(
      { minuteMs: 200, faults: [{ name: 'deploy-circuit-breaker' }] },
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws);
        const [, rev2] = svc.revisions as [string, string];
        const workflowId = uid('deploy-breaker');
        await client.workflow.start('ecsDeploy', {
          taskQueue,
          workflowId,
          args: [
            {
              ...svc.ref,
              version: { image: 'example/app:broken' },
              deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50, circuitBreaker: true },
            } satisfies EcsDeployInput,
          ],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe('ServiceDeploymentFailed');
        expect(failure.message).toContain('ECS deployment circuit breaker');
        expect(failure.message).toContain(`ECS rolled the service back to ${svc.family}:2`);
        expect(failure.message).toContain(
          `ECS's circuit breaker had already rolled ${svc.service} back to ${svc.family}:2`,
        );
        const state = await serviceOf(aws, svc);
        expect(state.taskDefinition).toBe(rev2);
        // The compensation put the configuration back too (AWS's defaults: the service had shown none).
        expect(state.deploymentConfiguration).toMatchObject({ minimumHealthyPercent: 100 });
      },
    );
  }, 120_000);
});

describe('ecsDeploy (CODE_DEPLOY controller)', () => {
  it('deploys through CodeDeploy: the deployment succeeds and the service runs the new revision', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeCodeDeployService(aws);
      const handle = await client.workflow.start('ecsDeploy', {
        taskQueue,
        workflowId: uid('deploy-cd'),
        args: [{ ...svc.ref, version: { taskDefinition: `${svc.family}:2` } } satisfies EcsDeployInput],
      });
      const report = (await handle.result()) as RunbookReport<EcsDeployResult>;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;
      expect(r.controller).toBe('CODE_DEPLOY');
      expect(r.codeDeploy).toMatchObject({
        application: svc.application,
        deploymentGroup: svc.group,
        status: 'Succeeded',
      });
      const d = await aws
        .codedeploy(svc.region)
        .send(new GetDeploymentCommand({ deploymentId: r.codeDeploy!.deploymentId }));
      expect(d.deploymentInfo?.status).toBe('Succeeded');
      expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);
      const wait = report.timeline.find((s) => s.name === 'Wait for the CodeDeploy deployment');
      expect(String(wait?.details?.phases)).toContain('Succeeded');
    });
  }, 120_000);

  it('a failing lifecycle hook: CodeDeploy rolls back, the service keeps its revision, the run says so', async () => {
    await withRealisticWorker(
      { minuteMs: 100, faults: [{ name: 'codedeploy-hook-fails' }] },
      async ({ client, taskQueue, aws }) => {
        const svc = await makeCodeDeployService(aws);
        const workflowId = uid('deploy-cd-fails');
        await client.workflow.start('ecsDeploy', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, version: { taskDefinition: `${svc.family}:2` } } satisfies EcsDeployInput],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe('ServiceDeploymentFailed');
        expect(failure.message).toMatch(/CodeDeploy deployment d-\S+ Failed/);
        expect(failure.message).toContain('CodeDeploy had already ended');
        expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[0]);
      },
    );
  }, 120_000);
});
