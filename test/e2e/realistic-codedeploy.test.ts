// CodeDeploy ECS blue/green through the realistic layer (scripts/realistic/codedeploy.ts): a deployment goes Created →
// InProgress through the ECS lifecycle events → Succeeded and moves the service in moto; a failing hook, a stop and
// a second deployment are answered as AWS answers them; ECS refuses a task-definition change on a CODE_DEPLOY
// service and lists the running tasks of a service. One AWS minute is 100 ms here. The last test uses the test
// stack's own CodeDeploy layer, reached through AWS_ENDPOINT_URL_CODEDEPLOY as the runbooks' workers reach it.
import {
  BatchGetDeploymentTargetsCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentGroupCommand,
  ListDeploymentsCommand,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
  type DeploymentInfo,
  type LifecycleEvent,
} from '@aws-sdk/client-codedeploy';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { DescribeListenersCommand, DescribeRulesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';
import { seedCodeDeployDemo } from '../../scripts/lib/demo-codedeploy';
import { ensureCluster, ensureWeightedAlb } from '../../scripts/lib/fixtures';
import { startRealisticLayer, type RealisticLayer } from '../../scripts/realistic/layer';
import { CODEDEPLOY_ECS_EVENTS } from '../../scripts/realistic/machines';
import { makeCodeDeployService, makeService, serviceState, type CodeDeployService } from '../helpers/env/aws-fixtures';
import { uid } from '../helpers/temporal';

const MINUTE = 100;
let layer: RealisticLayer;
let aws: ReturnType<typeof createAwsClients>;
const direct = createAwsClients({ endpoint: inject('awsEndpoint') });

beforeAll(async () => {
  layer = await startRealisticLayer({ upstream: inject('awsEndpoint'), minuteMs: MINUTE });
  aws = createAwsClients({ endpoint: layer.endpoint, maxAttempts: 1 });
});
afterAll(async () => {
  aws.destroy();
  direct.destroy();
  await layer.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type CdService = CodeDeployService;

/** A CODE_DEPLOY service on revision 1 of 2 (made in moto), its CodeDeploy application and group through `clients`. */
const cdService = (clients: AwsClients, desiredCount = 2): Promise<CdService> =>
  makeCodeDeployService(direct, { codeDeploy: clients, desiredCount, terminationWaitMinutes: 1 });

const appSpec = (taskDefinition: string) =>
  JSON.stringify({
    version: 0.0,
    Resources: [
      {
        TargetService: {
          Type: 'AWS::ECS::Service',
          Properties: { TaskDefinition: taskDefinition, LoadBalancerInfo: { ContainerName: 'app', ContainerPort: 80 } },
        },
      },
    ],
  });

async function deploy(clients: AwsClients, svc: CdService, taskDefinition = svc.revisions[1]!): Promise<string> {
  const out = await clients.codedeploy(svc.region).send(
    new CreateDeploymentCommand({
      applicationName: svc.application,
      deploymentGroupName: svc.group,
      description: `test deploy of ${taskDefinition}`,
      revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(taskDefinition) } },
    }),
  );
  return out.deploymentId!;
}

const getDeployment = async (clients: AwsClients, region: string, id: string): Promise<DeploymentInfo> =>
  (await clients.codedeploy(region).send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo!;

async function lifecycle(clients: AwsClients, region: string, id: string): Promise<LifecycleEvent[]> {
  const cd = clients.codedeploy(region);
  const targets = await cd.send(new ListDeploymentTargetsCommand({ deploymentId: id }));
  if (!targets.targetIds?.length) return [];
  const out = await cd.send(new BatchGetDeploymentTargetsCommand({ deploymentId: id, targetIds: targets.targetIds }));
  return out.deploymentTargets![0]!.ecsTarget!.lifecycleEvents!;
}

/** Statuses (and the lifecycle event in progress) of a deployment, polled until it has ended. */
async function watch(clients: AwsClients, region: string, id: string, maxMs = 15_000): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const d = await getDeployment(clients, region, id);
    const running = (await lifecycle(clients, region, id)).find((e) => e.status === 'InProgress');
    const line = `${d.status}${running ? ` ${running.lifecycleEventName}` : ''}`;
    if (seen.at(-1) !== line) seen.push(line);
    if (['Succeeded', 'Failed', 'Stopped'].includes(d.status!)) return seen;
    await sleep(20);
  }
  return seen;
}

const ecsEventNames = CODEDEPLOY_ECS_EVENTS.map((p) => p.status);

describe('CodeDeploy ECS blue/green through the realistic layer', () => {
  it('a deployment goes Created → InProgress through the lifecycle events in order → Succeeded; the service and its tasks move to the new revision', async () => {
    // A layer of its own, slower (one AWS minute 400 ms): `Created` lasts 200 ms, seen even on a busy machine.
    const slow = await startRealisticLayer({ upstream: inject('awsEndpoint'), minuteMs: 400 });
    const aws = createAwsClients({ endpoint: slow.endpoint, maxAttempts: 1 });
    const layer = slow;
    try {
      const svc = await cdService(aws, 3);
      const ecs = aws.ecs(svc.region);
      const runningTasks = async () => {
        const list = await ecs.send(
          new ListTasksCommand({ cluster: svc.cluster, serviceName: svc.service, desiredStatus: 'RUNNING' }),
        );
        return (await ecs.send(new DescribeTasksCommand({ cluster: svc.cluster, tasks: list.taskArns }))).tasks!;
      };
      const before = await runningTasks();
      expect(before).toHaveLength(3);
      expect(before.map((t) => t.availabilityZone).sort()).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
      expect(before.every((t) => t.taskDefinitionArn === svc.revisions[0] && t.lastStatus === 'RUNNING')).toBe(true);
      expect(before[0]!.group).toBe(`service:${svc.service}`);

      const id = await deploy(aws, svc);
      expect(id).toMatch(/^d-[A-Z0-9]{9}$/);
      const seen = await watch(aws, svc.region, id, 20_000);
      expect(seen[0]).toBe('Created');
      // Each lifecycle event was seen in progress, in order (polling every 20 ms; the shortest lasts 20 ms).
      const events = seen.filter((s) => s.startsWith('InProgress ')).map((s) => s.split(' ')[1]);
      expect(events).toEqual(ecsEventNames.filter((e) => events.includes(e)));
      expect(events).toContain('Install');
      expect(events.length).toBeGreaterThanOrEqual(5);
      expect(seen.at(-1)).toBe('Succeeded');

      const d = await getDeployment(aws, svc.region, id);
      expect(d).toMatchObject({
        status: 'Succeeded',
        creator: 'user',
        description: `test deploy of ${svc.revisions[1]}`,
      });
      expect(d.completeTime!.getTime()).toBeGreaterThan(d.startTime!.getTime());
      expect(d.deploymentOverview).toMatchObject({ Succeeded: 1, InProgress: 0 });
      const lc = await lifecycle(aws, svc.region, id);
      expect(lc.map((e) => e.lifecycleEventName)).toEqual(ecsEventNames);
      expect(lc.every((e) => e.status === 'Succeeded' && e.endTime! >= e.startTime!)).toBe(true);
      expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[1]);

      // New tasks on the new revision; the old ones stopped.
      const after = await runningTasks();
      expect(after).toHaveLength(3);
      expect(after.every((t) => t.taskDefinitionArn === svc.revisions[1])).toBe(true);
      expect(after.map((t) => t.taskArn).filter((a) => before.some((b) => b.taskArn === a))).toEqual([]);
      const old = await ecs.send(new DescribeTasksCommand({ cluster: svc.cluster, tasks: [before[0]!.taskArn!] }));
      expect(old.tasks![0]!.lastStatus).toBe('STOPPED');

      // ListDeployments filters by status as AWS does; the group shows its last deployments.
      const list = (statuses: ('Created' | 'InProgress' | 'Succeeded')[]) =>
        aws.codedeploy(svc.region).send(
          new ListDeploymentsCommand({
            applicationName: svc.application,
            deploymentGroupName: svc.group,
            includeOnlyStatuses: statuses,
          }),
        );
      expect((await list(['Created', 'InProgress'])).deployments).toEqual([]);
      expect((await list(['Succeeded'])).deployments).toEqual([id]);
      const group = await aws
        .codedeploy(svc.region)
        .send(new GetDeploymentGroupCommand({ applicationName: svc.application, deploymentGroupName: svc.group }));
      expect(group.deploymentGroupInfo?.lastSuccessfulDeployment).toMatchObject({
        deploymentId: id,
        status: 'Succeeded',
      });

      // A finished deployment cannot be stopped.
      await expect(
        aws.codedeploy(svc.region).send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true })),
      ).rejects.toMatchObject({ name: 'DeploymentAlreadyCompletedException' });
      expect(
        layer.mutations().filter((m) => m.operation === 'CreateDeployment' && m.resource === svc.group),
      ).toHaveLength(1);
    } finally {
      aws.destroy();
      await slow.close();
    }
  });
  it('codedeploy-hook-fails: the deployment fails at AfterAllowTestTraffic and is rolled back; the service keeps its revision', async () => {
    const svc = await cdService(aws);
    layer.setFaults([{ name: 'codedeploy-hook-fails' }]);
    const id = await deploy(aws, svc);
    const seen = await watch(aws, svc.region, id);
    expect(seen.at(-1)).toBe('Failed');
    const d = await getDeployment(aws, svc.region, id);
    expect(d.errorInformation).toEqual({
      code: 'HOOK_EXECUTION_FAILURE',
      message: 'The deployment failed because one or more of your lifecycle event validation functions failed.',
    });
    const lc = await lifecycle(aws, svc.region, id);
    expect(lc.map((e) => `${e.lifecycleEventName} ${e.status}`)).toEqual([
      'BeforeInstall Succeeded',
      'Install Succeeded',
      'AfterInstall Succeeded',
      'AllowTestTraffic Succeeded',
      'AfterAllowTestTraffic Failed',
      'BeforeAllowTraffic Skipped',
      'AllowTraffic Skipped',
      'AfterAllowTraffic Skipped',
    ]);
    expect(lc[4]!.diagnostics?.errorCode).toBe('ScriptFailed');
    expect(layer.faultEvents().map((e) => e.fault)).toContain('codedeploy-hook-fails');
    expect(layer.faults()).toEqual([]); // spent

    const rollbackId = d.rollbackInfo?.rollbackDeploymentId;
    expect(rollbackId).toMatch(/^d-/);
    expect(await watch(aws, svc.region, rollbackId!)).toContain('Succeeded');
    const r = await getDeployment(aws, svc.region, rollbackId!);
    expect(r).toMatchObject({ creator: 'codeDeployRollback', rollbackInfo: { rollbackTriggeringDeploymentId: id } });
    expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[0]);
  });

  it('StopDeployment with autoRollbackEnabled after the traffic shift: Stopped, rolled back, the service on its old revision', async () => {
    const svc = await cdService(aws);
    const id = await deploy(aws, svc);
    // Wait until production traffic is on the replacement (AllowTraffic done): moto's service is on revision 2.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const lc = await lifecycle(aws, svc.region, id);
      if (lc.find((e) => e.lifecycleEventName === 'AllowTraffic')?.status === 'Succeeded') break;
      await sleep(20);
    }
    await sleep(50);
    expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[1]);
    const stop = await aws
      .codedeploy(svc.region)
      .send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: true }));
    expect(stop.status).toBe('Pending');
    expect(stop.statusMessage).toContain(id);
    const d = await getDeployment(aws, svc.region, id);
    expect(d.status).toBe('Stopped');
    expect(d.errorInformation?.code).toBe('MANUAL_STOP');
    const rollbackId = d.rollbackInfo!.rollbackDeploymentId!;
    expect(await watch(aws, svc.region, rollbackId)).toContain('Succeeded');
    expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[0]);
    expect(layer.mutations().filter((m) => m.operation === 'StopDeployment' && m.resource === id)).toHaveLength(1);
  });

  it('a second deployment while one is active is refused with DeploymentLimitExceededException', async () => {
    const svc = await cdService(aws);
    const id = await deploy(aws, svc);
    await expect(deploy(aws, svc)).rejects.toMatchObject({
      name: 'DeploymentLimitExceededException',
      message: `The Deployment Group '${svc.group}' already has an active Deployment '${id}'`,
    });
    const active = await aws.codedeploy(svc.region).send(
      new ListDeploymentsCommand({
        applicationName: svc.application,
        deploymentGroupName: svc.group,
        includeOnlyStatuses: ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'],
      }),
    );
    expect(active.deployments).toEqual([id]);
    // A stop without rollback before the traffic moved: Stopped, the service untouched.
    await aws.codedeploy(svc.region).send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: false }));
    expect((await getDeployment(aws, svc.region, id)).status).toBe('Stopped');
    expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[0]);
  });

  it('what CodeDeploy checks once started fails the deployment: an AppSpec that does not parse, a task definition that does not exist', async () => {
    const svc = await cdService(aws);
    const cd = aws.codedeploy(svc.region);
    const create = (content: string) =>
      cd.send(
        new CreateDeploymentCommand({
          applicationName: svc.application,
          deploymentGroupName: svc.group,
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content } },
        }),
      );
    const bad = (await create('{"version": 0.0, "Resources": [')).deploymentId!;
    expect((await watch(aws, svc.region, bad)).filter((x) => x !== 'Created')).toEqual(['Failed']);
    expect((await getDeployment(aws, svc.region, bad)).errorInformation?.code).toBe('INVALID_REVISION');
    const missing = (await create(appSpec(`${svc.revisions[1]!.replace(/:\d+$/, '')}:99`))).deploymentId!;
    expect((await watch(aws, svc.region, missing)).at(-1)).toBe('Failed');
    expect((await getDeployment(aws, svc.region, missing)).errorInformation?.code).toBe('ECS_UPDATE_ERROR');
    await expect(
      cd.send(new CreateDeploymentCommand({ applicationName: svc.application, deploymentGroupName: svc.group })),
    ).rejects.toMatchObject({ name: 'RevisionRequiredException' });
    await expect(
      cd.send(
        new CreateDeploymentCommand({
          applicationName: svc.application,
          deploymentGroupName: 'no-such-group',
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(svc.revisions[1]!) } },
        }),
      ),
    ).rejects.toMatchObject({ name: 'DeploymentGroupDoesNotExistException' });
    expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[0]);
  });

  it('ECS refuses a task-definition change on a CODE_DEPLOY service; a count change goes through', async () => {
    const svc = await cdService(aws);
    const ecs = aws.ecs(svc.region);
    await expect(
      ecs.send(
        new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, taskDefinition: svc.revisions[1] }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message:
        'Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.',
    });
    await expect(
      ecs.send(new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, forceNewDeployment: true })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    const scaled = await ecs.send(
      new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, desiredCount: 3 }),
    );
    expect(scaled.service?.desiredCount).toBe(3);
    expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[0]);
  });

  it('the test stack’s CodeDeploy endpoint (AWS_ENDPOINT_URL_CODEDEPLOY) takes a deployment to Succeeded', async () => {
    expect(process.env.AWS_ENDPOINT_URL_CODEDEPLOY).toBe(inject('codeDeployEndpoint'));
    expect(process.env.AWS_ENDPOINT_URL).toBe(inject('awsEndpoint'));
    const plain = createAwsClients(); // the standard chain: the per-service variable picks the layer
    try {
      const svc = await cdService(plain);
      const id = await deploy(plain, svc);
      const seen = await watch(plain, svc.region, id);
      expect(seen.at(-1)).toBe('Succeeded');
      expect(seen.some((x) => x.startsWith('InProgress'))).toBe(true);
      expect((await serviceState(direct, svc)).taskDefinition).toBe(svc.revisions[1]);
    } finally {
      plain.destroy();
    }
  });

  it('the demo’s CODE_DEPLOY service (seeded twice: idempotent) deploys its second revision through CodeDeploy', async () => {
    // In a region and cluster of its own, beside an ALB of its own: the demo's names are fixed.
    const region = 'eu-west-2';
    const cluster = uid('cd-demo');
    await ensureCluster(direct.ecs(region), cluster);
    const alb = await ensureWeightedAlb(direct, region, {
      name: uid('alb').slice(0, 32),
      targetGroups: [
        { name: uid('web-b').slice(0, 32), weight: 100 },
        { name: uid('web-g').slice(0, 32), weight: 0 },
      ],
    });
    const listenerBefore = (
      await direct.elbv2(region).send(new DescribeListenersCommand({ ListenerArns: [alb.listenerArn] }))
    ).Listeners![0]!.DefaultActions;
    const seed = () => seedCodeDeployDemo(direct, { region, cluster, listenerArn: alb.listenerArn });
    const demo = await seed();
    expect(await seed()).toEqual(demo);
    expect(demo).toMatchObject({
      application: 'demo-cd',
      deploymentGroup: 'demo-cd-dg',
      service: 'demo-cd',
      family: 'demo-cd',
      images: ['public.ecr.aws/demo/cd:1.0.0', 'public.ecr.aws/demo/cd:1.1.0'],
    });
    expect(demo.revisions).toHaveLength(2);
    const svc = (await direct.ecs(region).send(new DescribeServicesCommand({ cluster, services: ['demo-cd'] })))
      .services![0]!;
    expect(svc).toMatchObject({
      deploymentController: { type: 'CODE_DEPLOY' },
      desiredCount: 2,
      taskDefinition: demo.revisions[0],
      loadBalancers: [{ targetGroupArn: demo.targetGroups.blue, containerName: 'app', containerPort: 80 }],
    });
    // The listener's default action is untouched; a path rule sends /cd/* to the blue target group.
    const listenerAfter = (
      await direct.elbv2(region).send(new DescribeListenersCommand({ ListenerArns: [alb.listenerArn] }))
    ).Listeners![0]!.DefaultActions;
    expect(listenerAfter).toEqual(listenerBefore);
    const rules = (await direct.elbv2(region).send(new DescribeRulesCommand({ ListenerArn: alb.listenerArn }))).Rules!;
    expect(rules.filter((r) => r.Actions?.[0]?.TargetGroupArn === demo.targetGroups.blue)).toHaveLength(1);

    const id = await deploy(aws, {
      ...demo,
      region,
      group: demo.deploymentGroup,
      ref: { region, cluster, service: demo.service },
    });
    expect((await watch(aws, region, id, 20_000)).at(-1)).toBe('Succeeded');
    const after = (await direct.ecs(region).send(new DescribeServicesCommand({ cluster, services: ['demo-cd'] })))
      .services![0]!;
    expect(after.taskDefinition).toBe(demo.revisions[1]);
  });
});

describe('ECS running tasks through the realistic layer', () => {
  it('a service’s running tasks spread over the AZs on its serving revision; a forced redeployment replaces them', async () => {
    const svc = await makeService(direct, { desiredCount: 4, revisions: 2, onRevision: 2 });
    const ecs = aws.ecs(svc.region);
    const running = async () => {
      const list = await ecs.send(new ListTasksCommand({ cluster: svc.cluster, serviceName: svc.service }));
      if (!list.taskArns?.length) return [];
      return (await ecs.send(new DescribeTasksCommand({ cluster: svc.cluster, tasks: list.taskArns }))).tasks!;
    };
    const before = await running();
    expect(before.map((t) => t.availabilityZone)).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1a']);
    expect(new Set(before.map((t) => `${t.taskDefinitionArn} ${t.lastStatus} ${t.group}`))).toEqual(
      new Set([`${svc.revisions[1]} RUNNING service:${svc.service}`]),
    );
    expect(await running()).toEqual(before); // the same tasks while nothing changes

    await ecs.send(new UpdateServiceCommand({ cluster: svc.cluster, service: svc.service, forceNewDeployment: true }));
    await sleep(2.2 * 0.5 * MINUTE); // two new tasks started, the old ones draining
    const during = await running();
    const old = during.filter((t) => before.some((b) => b.taskArn === t.taskArn));
    expect(old.length).toBeGreaterThan(0);
    expect(during.length - old.length).toBeGreaterThanOrEqual(1);
    await sleep(4 * 0.5 * MINUTE);
    const after = await running();
    expect(after).toHaveLength(4);
    expect(after.filter((t) => before.some((b) => b.taskArn === t.taskArn))).toEqual([]);
    expect(after.every((t) => t.taskDefinitionArn === svc.revisions[1])).toBe(true);
  });
});
