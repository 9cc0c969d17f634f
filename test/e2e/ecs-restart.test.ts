// ecsRestart end to end: real dev server, real worker, the emulator; the service, its deployments and its revisions
// read back through the SDK. Under the realistic layer: the forced deployment's phases, the UpdateService made once,
// and ECS's circuit breaker rolling a new revision back.
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ListTaskDefinitionsCommand,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { approveSignal } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { EcsRestartInput, EcsRestartResult } from '../../api/runbooks/ecs-deploy';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { deploymentControllerOf, makeService, serviceState, type TestService } from '../helpers/env/aws-fixtures';
import { effectiveMutations, withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('restart-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

const health = (a: DemoApp = app) => ({ url: a.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });
const NO_SPREAD = { zones: {}, tasks: 0, unknownZone: 0 };

/** The service's PRIMARY deployment as AWS shows it (none for a CODE_DEPLOY service: it has task sets). */
async function primaryDeployment(aws: AwsClients, s: TestService) {
  const out = await aws.ecs(s.region).send(new DescribeServicesCommand({ cluster: s.cluster, services: [s.service] }));
  return out.services![0]!.deployments?.find((d) => d.status === 'PRIMARY');
}

async function taskDefinition(aws: AwsClients, s: TestService, ref: string): Promise<TaskDefinition> {
  return (await aws.ecs(s.region).send(new DescribeTaskDefinitionCommand({ taskDefinition: ref }))).taskDefinition!;
}

async function revisions(aws: AwsClients, s: TestService): Promise<string[]> {
  const out = await aws.ecs(s.region).send(new ListTaskDefinitionsCommand({ familyPrefix: s.family }));
  return (out.taskDefinitionArns ?? []).filter((a) => a.split('/').pop()!.startsWith(`${s.family}:`));
}

/** Everything of a revision a restart keeps, environment apart (and the settings it may change). */
function kept(td: TaskDefinition) {
  return {
    family: td.family,
    networkMode: td.networkMode,
    requiresCompatibilities: td.requiresCompatibilities,
    containers: (td.containerDefinitions ?? []).map(({ environment: _env, ...c }) => c),
  };
}
const envOf = (td: TaskDefinition) =>
  Object.fromEntries((td.containerDefinitions![0]!.environment ?? []).map((e) => [e.name, e.value]));

describe('ecsRestart', () => {
  it('a plain restart after approval: a new PRIMARY deployment, the same count and revision, health checked', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws); // revisions 1 and 2, on 2, 2 tasks
      const [, rev2] = svc.revisions as [string, string];
      const deploymentBefore = (await primaryDeployment(aws, svc))!.id!;
      const input: EcsRestartInput = {
        ...svc.ref,
        reason: 'tasks bunched in one AZ',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '1m' },
        health: health(),
      };
      const workflowId = uid('restart');
      const handle = await client.workflow.start('ecsRestart', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toBe(
        `restart ${svc.service} (us-east-1/${svc.cluster}): a new deployment of ${svc.family}:2 replaces its 2 tasks ` +
          `(count unchanged) — reason: tasks bunched in one AZ`,
      );
      expect(waiting.pendingApproval?.plan).toEqual([
        {
          step: 'Restart: new deployment',
          action: 'ecs:UpdateService',
          params: { ...svc.ref, forceNewDeployment: true, taskDefinition: rev2, desiredCount: '2 (unchanged)' },
        },
      ]);
      expect((await primaryDeployment(aws, svc))?.id).toBe(deploymentBefore); // nothing changed before approval

      const probesBefore = app.probes;
      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as RunbookReport<EcsRestartResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.warnings).toEqual([]);
      expect(report.compensations).toEqual([]);
      expect(report.approvals).toMatchObject([{ by: 'bob', decision: 'approve', accepted: true }]);
      expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: the service and its revision', 'succeeded'],
        ['AZ spread before the restart', 'succeeded'],
        ['Lock resources', 'succeeded'],
        ['Approval', 'succeeded'],
        [`Restart: new deployment of ${svc.family}:2`, 'succeeded'],
        ['Wait until the service is stable', 'succeeded'],
        ['Verify health', 'succeeded'],
        ['AZ spread after the restart', 'succeeded'],
      ]);
      expect(app.probes - probesBefore).toBeGreaterThanOrEqual(2); // the health check reached the app

      // AWS, read through the SDK: a new PRIMARY deployment, same revision, same count, nothing registered.
      const after = (await primaryDeployment(aws, svc))!;
      expect(after.id).not.toBe(deploymentBefore);
      expect(report.result).toMatchObject({
        fromTaskDefinition: rev2,
        toTaskDefinition: rev2,
        revisionChanged: false,
        deploymentBefore,
        deploymentAfter: after.id,
        desiredCountBefore: 2,
        desiredCount: 2,
        runningCount: 2,
        // The emulator starts no tasks for a service: nothing to spread.
        azSpread: { before: NO_SPREAD, after: NO_SPREAD },
        health: { healthy: true },
      });
      expect(await serviceState(aws, svc)).toEqual({ desiredCount: 2, runningCount: 2, taskDefinition: rev2 });
      expect(await revisions(aws, svc)).toHaveLength(2);
      expect(report.incidentReport).toContain(`deployment ${after.id} of ${svc.family}:2 replaced ${deploymentBefore}`);
    });
  });

  it('with memory and environment: registers a revision with exactly those changes and restarts the service on it', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const [, rev2] = svc.revisions as [string, string];
      const report = (await client.workflow.execute('ecsRestart', {
        taskQueue,
        workflowId: uid('restart'),
        args: [{ ...svc.ref, memory: 1024, environment: { LOG_LEVEL: 'debug', DATABASE_HOST: 'db2.example' } }],
      })) as RunbookReport<EcsRestartResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.timeline.find((s) => s.name.startsWith('Preflight'))?.details).toMatchObject({
        cpu: '256',
        memory: '512',
        change: 'memory 512 → 1024 MiB, LOG_LEVEL=debug (new), DATABASE_HOST=db2.example (was db.example)',
      });
      const rev3 = report.result!.toTaskDefinition;
      expect(rev3).toMatch(new RegExp(`task-definition/${svc.family}:3$`));
      expect(report.result).toMatchObject({ fromTaskDefinition: rev2, revisionChanged: true, desiredCount: 2 });
      expect(report.timeline.find((s) => s.name === 'Register the new revision')).toMatchObject({
        outcome: 'succeeded',
        mutating: true,
        details: { taskDefinition: `${svc.family}:3`, created: true },
      });

      // The new revision differs from the old one in memory and those two variables, nothing else.
      const [old, now] = [await taskDefinition(aws, svc, rev2), await taskDefinition(aws, svc, rev3)];
      expect(now.memory).toBe('1024');
      expect(now.cpu).toBe(old.cpu);
      expect(kept(now)).toEqual(kept(old));
      expect(envOf(now)).toEqual({ ...envOf(old), LOG_LEVEL: 'debug', DATABASE_HOST: 'db2.example' });
      expect(await serviceState(aws, svc)).toEqual({ desiredCount: 2, runningCount: 2, taskDefinition: rev3 });
    });
  });

  it('a new revision that fails its health check: the compensation puts the service back on the old revision', async () => {
    const sick = await startDemoApp('restart-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws);
        const [, rev2] = svc.revisions as [string, string];
        const workflowId = uid('restart');
        await client.workflow.start('ecsRestart', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, memory: 2048, health: { ...health(sick), timeout: '1s' } }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.HealthCheckFailed);
        expect(failure.message).toMatch(
          new RegExp(`^health check failed after the restart on ${svc.family}:3: \\S+ not healthy after \\d+ probes`),
        );
        expect(failure.message).toContain(
          `Compensated: Put ${svc.service} back on ${svc.family}:2 (${svc.service} on ${svc.family}:2 again, 2 of 2 ` +
            `tasks running).`,
        );
        expect(failure.message).toContain(`${svc.family}:3 stays registered`);
        expect(failure.report?.compensations).toMatchObject([
          { name: `Put ${svc.service} back on ${svc.family}:2`, outcome: 'succeeded' },
        ]);
        expect(failure.report?.timeline.find((s) => s.name === 'Verify health')?.outcome).toBe('failed');
        expect(sick.probes).toBeGreaterThan(0);
        expect(await serviceState(aws, svc)).toEqual({ desiredCount: 2, runningCount: 2, taskDefinition: rev2 });
      });
    } finally {
      await sick.close();
    }
  });

  it('a plain restart that fails its health check fails, saying the tasks were replaced and the service left as it is', async () => {
    const sick = await startDemoApp('restart-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws);
        const deploymentBefore = (await primaryDeployment(aws, svc))!.id!;
        const workflowId = uid('restart');
        await client.workflow.start('ecsRestart', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, health: { ...health(sick), timeout: '1s' } }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.HealthCheckFailed);
        expect(failure.message).toContain(`health check failed after the restart on ${svc.family}:2`);
        expect(failure.message).toContain(
          `The restart replaced ${svc.service}'s tasks (a new deployment of ${svc.family}:2) and changed nothing ` +
            `else; a restart cannot be undone, so the service was left as it is.`,
        );
        expect(failure.message).not.toContain('Nothing was changed');
        expect(failure.report?.compensations).toEqual([]);
        expect((await primaryDeployment(aws, svc))?.id).not.toBe(deploymentBefore);
        expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);
      });
    } finally {
      await sick.close();
    }
  });

  it('a CODE_DEPLOY service is refused before any change, naming the controller and how to redeploy it', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { deploymentController: 'CODE_DEPLOY' });
      expect(await deploymentControllerOf(aws, svc)).toBe('CODE_DEPLOY');
      const before = await serviceState(aws, svc);
      const workflowId = uid('restart');
      await client.workflow.start('ecsRestart', { taskQueue, workflowId, args: [{ ...svc.ref, memory: 1024 }] });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toContain(
        `service ${svc.service} (us-east-1/${svc.cluster}/${svc.service}) uses the CODE_DEPLOY deployment controller`,
      );
      expect(failure.message).toContain(
        'this runbook would force a new deployment of it (restart its tasks) on a new revision',
      );
      expect(failure.message).toContain('A CODE_DEPLOY service is redeployed through CodeDeploy');
      expect(failure.message).toContain('ecsDeploy runbook');
      expect(failure.message).toMatch(/Nothing was changed\.$/);
      expect(failure.report?.timeline.some((s) => s.mutating)).toBe(false);
      expect(await serviceState(aws, svc)).toEqual(before);
      expect(await revisions(aws, svc)).toHaveLength(2);
    });
  });

  it('a service with no task (desired count 0) is refused: nothing to restart', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws, { desiredCount: 0 });
      const workflowId = uid('restart');
      await client.workflow.start('ecsRestart', { taskQueue, workflowId, args: [{ ...svc.ref }] });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.PreconditionFailed);
      expect(failure.message).toContain(
        `${svc.service} (us-east-1/${svc.cluster}/${svc.service}) has a desired count of 0: no task runs, so there ` +
          `is nothing to restart`,
      );
      expect(failure.message).toMatch(/Nothing was changed\.$/);
      expect((await serviceState(aws, svc)).desiredCount).toBe(0);
    });
  });

  it('a dry run returns the plan and changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const [, rev2] = svc.revisions as [string, string];
      const deploymentBefore = (await primaryDeployment(aws, svc))!.id!;
      const report = (await client.workflow.execute('ecsRestart', {
        taskQueue,
        workflowId: uid('restart'),
        args: [{ ...svc.ref, cpu: 512, environment: { LOG_LEVEL: 'debug' }, dryRun: true }],
      })) as RunbookReport<EcsRestartResult>;
      expect(report.outcome).toBe('dry-run');
      expect(report.plan).toEqual([
        {
          step: 'Register the new revision',
          action: 'ecs:RegisterTaskDefinition',
          params: { from: `${svc.family}:2`, cpu: 512, environment: { LOG_LEVEL: 'debug' } },
        },
        {
          step: 'Restart: new deployment',
          action: 'ecs:UpdateService',
          params: {
            ...svc.ref,
            forceNewDeployment: true,
            taskDefinition: '(the new revision)',
            from: rev2,
            desiredCount: '2 (unchanged)',
          },
        },
      ]);
      expect(report.timeline.some((s) => s.mutating)).toBe(false);
      expect((await primaryDeployment(aws, svc))?.id).toBe(deploymentBefore);
      expect(await revisions(aws, svc)).toHaveLength(2);
      expect((await serviceState(aws, svc)).taskDefinition).toBe(rev2);
    });
  });

  it('bad input (memory 5) fails at once naming the field; nothing changed', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const deploymentBefore = (await primaryDeployment(aws, svc))!.id!;
      const workflowId = uid('restart');
      await client.workflow.start('ecsRestart', { taskQueue, workflowId, args: [{ ...svc.ref, memory: 5 }] });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.InvalidInput);
      expect(failure.message).toMatch(/^invalid input: input\.memory: /);
      expect(failure.message).toMatch(/Nothing was changed\.$/);
      expect((await primaryDeployment(aws, svc))?.id).toBe(deploymentBefore);
      expect(await revisions(aws, svc)).toHaveLength(2);
    });
  });
});

describe('ecsRestart under realistic AWS', () => {
  // Slow enough for the wait's polls (1 s, then backing off) to meet the deployment's phases.
  const MINUTE = 500;

  it('waits for the forced deployment through IN_PROGRESS → COMPLETED; UpdateService made once; the AZ spread read', async () => {
    await withRealisticWorker({ minuteMs: MINUTE }, async ({ client, taskQueue, aws, layer }) => {
      const svc = await makeService(aws);
      const workflowId = uid('restart');
      const handle = await client.workflow.start('ecsRestart', {
        taskQueue,
        workflowId,
        args: [
          {
            ...svc.ref,
            reason: 'redistribute over the AZs',
            initiatedBy: 'alice',
            approval: { required: true, timeout: '1m' },
          },
        ],
      });
      // The approver sees how the tasks spread now.
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 30_000);
      expect(waiting.pendingApproval?.summary).toContain(
        'replaces its 2 tasks (count unchanged) — AZ spread now: us-east-1a: 1, us-east-1b: 1 (2 tasks) — reason:',
      );
      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as RunbookReport<EcsRestartResult>;
      expect(report.outcome).toBe('succeeded');
      const wait = report.timeline.find((s) => s.name === 'Wait until the service is stable');
      expect(String(wait?.details?.phases)).toMatch(/IN_PROGRESS \d\/2.* → COMPLETED 2\/2/);
      expect(effectiveMutations(layer).filter((m) => m.startsWith('UpdateService'))).toEqual([
        `UpdateService ${svc.service}`,
      ]);
      expect(effectiveMutations(layer).filter((m) => m.startsWith('RegisterTaskDefinition'))).toEqual([]);
      expect(report.result?.deploymentAfter).not.toBe(report.result?.deploymentBefore);
      expect(report.result).toMatchObject({ desiredCountBefore: 2, desiredCount: 2, revisionChanged: false });
      // The layer's tasks: one per zone, round-robin over a/b/c; the new deployment's are new tasks, spread alike.
      const spread = { zones: { 'us-east-1a': 1, 'us-east-1b': 1 }, tasks: 2, unknownZone: 0 };
      expect(report.result?.azSpread).toEqual({ before: spread, after: spread });
      expect(report.result?.unevenSpread).toBeUndefined();
      expect(report.timeline.find((s) => s.name === 'AZ spread after the restart')?.details?.summary).toBe(
        'us-east-1a: 1, us-east-1b: 1 (2 tasks)',
      );
      expect(report.warnings).toEqual([]);
      expect(await serviceState(aws, svc)).toEqual({
        desiredCount: 2,
        runningCount: 2,
        taskDefinition: svc.revisions[1],
      });
    });
  });

  it('a missing ecs:ListTasks permission does not fail the restart: the spread is recorded as unreadable', async () => {
    await withRealisticWorker(
      { minuteMs: 100, faults: [{ name: 'access-denied', operation: 'ListTasks', times: 100 }] },
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws);
        const report = (await client.workflow.execute('ecsRestart', {
          taskQueue,
          workflowId: uid('restart'),
          args: [{ ...svc.ref }],
        })) as RunbookReport<EcsRestartResult>;
        expect(report.outcome).toBe('succeeded');
        for (const when of ['before', 'after'] as const) {
          expect(report.result?.azSpread[when]).toMatchObject({ zones: {}, tasks: 0 });
          expect(report.result?.azSpread[when].unreadable).toMatch(/^AccessDenied(Exception)?: .*ecs:ListTasks/);
        }
        expect(report.timeline.find((s) => s.name === 'AZ spread after the restart')?.details?.summary).toMatch(
          /^unreadable \(AccessDenied/,
        );
        expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);
      },
    );
  });

  it("ECS's circuit breaker fails a restart on a new revision: the run says so and the service ends on the old revision", async () => {
    await withRealisticWorker(
      { minuteMs: 200, faults: [{ name: 'deploy-circuit-breaker' }] },
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws);
        const workflowId = uid('restart');
        await client.workflow.start('ecsRestart', {
          taskQueue,
          workflowId,
          args: [{ ...svc.ref, memory: 1024, reason: 'more memory' }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.ServiceDeploymentFailed);
        expect(failure.message).toContain(
          `the deployment of ${svc.family}:3 FAILED ("ECS deployment circuit breaker: tasks failed to start.") and ` +
            `ECS rolled the service back to ${svc.family}:2`,
        );
        expect(failure.message).toContain(`Compensated: Put ${svc.service} back on ${svc.family}:2`);
        expect(failure.report?.compensations).toMatchObject([
          { name: `Put ${svc.service} back on ${svc.family}:2`, outcome: 'succeeded' },
        ]);
        expect(failure.report?.timeline.find((s) => s.name === 'Wait until the service is stable')?.outcome).toBe(
          'failed',
        );
        // ECS's rollback (and the compensation, whichever came first) leave the service on the old revision.
        for (let i = 0; i < 50 && (await serviceState(aws, svc)).taskDefinition !== svc.revisions[1]; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        expect((await serviceState(aws, svc)).taskDefinition).toBe(svc.revisions[1]);
      },
    );
  });
});
