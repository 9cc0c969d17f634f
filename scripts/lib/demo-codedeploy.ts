// The demo environment's service under the CODE_DEPLOY deployment controller, deployed blue/green by CodeDeploy
// (what ecsDeploy drives): in the primary region's cluster, task-definition family `demo-cd` with two revisions,
// target groups demo-cd-blue / demo-cd-green behind a path rule (/cd/*) of the demo ALB's listener (its default
// action, the web blue/green split, is left as it is), service `demo-cd` on the first revision with two tasks, and
// CodeDeploy application `demo-cd` with deployment group `demo-cd-dg` (ECS, BLUE_GREEN with traffic control,
// automatic rollback on failure and on a stop). Idempotent: every part is looked up before it is made.
//
// The emulator keeps CodeDeploy's application and group; its deployments are played out by the realistic layer
// (scripts/realistic/codedeploy.ts), which `npm run dev` puts in front of it for CodeDeploy.
import {
  CreateApplicationCommand,
  CreateDeploymentGroupCommand,
  GetDeploymentGroupCommand,
  ListApplicationsCommand,
} from '@aws-sdk/client-codedeploy';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateServiceCommand,
  DescribeServicesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsClients } from '../../activities/aws-clients';

export const DEMO_CODEDEPLOY = {
  application: 'demo-cd',
  deploymentGroup: 'demo-cd-dg',
  service: 'demo-cd',
  family: 'demo-cd',
  images: ['public.ecr.aws/demo/cd:1.0.0', 'public.ecr.aws/demo/cd:1.1.0'],
  container: { name: 'app', port: 80 },
  desiredCount: 2,
  targetGroups: { blue: 'demo-cd-blue', green: 'demo-cd-green' },
  /** The listener rule that sends this path to the service's target group. */
  path: '/cd/*',
  rulePriority: 10,
  serviceRoleArn: 'arn:aws:iam::123456789012:role/demo-codedeploy-ecs',
  /** How long the original task set is kept after the traffic moved (AWS minutes). */
  terminationWaitTimeInMinutes: 5,
} as const;

export interface CodeDeployDemo {
  application: string;
  deploymentGroup: string;
  cluster: string;
  service: string;
  family: string;
  images: string[];
  /** The revisions' ARNs, oldest first: the service runs the first. */
  revisions: string[];
  targetGroups: { blue: string; green: string };
  listenerArn?: string;
}

const isNotFound = (err: unknown) => /NotFound|DoesNotExist/.test((err as Error).name);

/** The service has a family of its own, `demo-cd`, whose container listens on port 80 as the target groups expect. */
export async function seedCodeDeployDemo(
  aws: AwsClients,
  o: { region: string; cluster: string; listenerArn?: string },
): Promise<CodeDeployDemo> {
  const D = DEMO_CODEDEPLOY;
  const ecs = aws.ecs(o.region);
  const elb = aws.elbv2(o.region);

  // Two revisions of demo-cd.
  const listed = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: D.family, status: 'ACTIVE' }));
  const revisions = (listed.taskDefinitionArns ?? [])
    .filter((a) => a.split('/').pop()?.startsWith(`${D.family}:`))
    .sort((a, b) => Number(a.split(':').pop()) - Number(b.split(':').pop()));
  for (let i = revisions.length; i < D.images.length; i++) {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: D.family,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        containerDefinitions: [
          {
            name: D.container.name,
            image: D.images[i],
            essential: true,
            portMappings: [{ containerPort: D.container.port, protocol: 'tcp' }],
          },
        ],
      }),
    );
    revisions.push(out.taskDefinition!.taskDefinitionArn!);
  }

  // The target groups, in the VPC of the demo ALB (or the default VPC).
  let vpcId: string | undefined;
  let loadBalancerArn: string | undefined;
  if (o.listenerArn) {
    const listener = (await elb.send(new DescribeListenersCommand({ ListenerArns: [o.listenerArn] }))).Listeners?.[0];
    loadBalancerArn = listener?.LoadBalancerArn;
    if (loadBalancerArn) {
      const lbs = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [loadBalancerArn] }));
      vpcId = lbs.LoadBalancers?.[0]?.VpcId;
    }
  }
  if (!vpcId) {
    const ec2 = new EC2Client({ region: o.region });
    try {
      const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
      vpcId = vpcs.Vpcs?.[0]?.VpcId;
    } finally {
      ec2.destroy();
    }
  }
  const targetGroupArns: Record<string, string> = {};
  for (const name of [D.targetGroups.blue, D.targetGroups.green]) {
    const found = await elb
      .send(new DescribeTargetGroupsCommand({ Names: [name] }))
      .then((out) => out.TargetGroups?.[0]?.TargetGroupArn)
      .catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
    targetGroupArns[name] =
      found ??
      (
        await elb.send(
          new CreateTargetGroupCommand({
            Name: name,
            Protocol: 'HTTP',
            Port: D.container.port,
            VpcId: vpcId,
            TargetType: 'ip',
            HealthCheckPath: '/health',
          }),
        )
      ).TargetGroups![0]!.TargetGroupArn!;
  }
  const blueArn = targetGroupArns[D.targetGroups.blue]!;

  // A path rule on the demo listener to the blue target group (the listener's default action stays as it is).
  if (o.listenerArn) {
    const rules = (await elb.send(new DescribeRulesCommand({ ListenerArn: o.listenerArn }))).Rules ?? [];
    const ours = rules.some((r) =>
      (r.Actions ?? []).some(
        (a) =>
          a.TargetGroupArn === blueArn ||
          a.TargetGroupArn === targetGroupArns[D.targetGroups.green] ||
          (a.ForwardConfig?.TargetGroups ?? []).some((g) => Object.values(targetGroupArns).includes(g.TargetGroupArn!)),
      ),
    );
    if (!ours) {
      await elb.send(
        new CreateRuleCommand({
          ListenerArn: o.listenerArn,
          Priority: D.rulePriority,
          Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: [D.path] } }],
          Actions: [{ Type: 'forward', TargetGroupArn: blueArn }],
        }),
      );
    }
  }

  // The service, deployed by CodeDeploy.
  const found = await ecs.send(new DescribeServicesCommand({ cluster: o.cluster, services: [D.service] }));
  if (!found.services?.some((s) => s.status === 'ACTIVE')) {
    await ecs.send(
      new CreateServiceCommand({
        cluster: o.cluster,
        serviceName: D.service,
        taskDefinition: revisions[0],
        desiredCount: D.desiredCount,
        launchType: 'FARGATE',
        deploymentController: { type: 'CODE_DEPLOY' },
        loadBalancers: [{ targetGroupArn: blueArn, containerName: D.container.name, containerPort: D.container.port }],
      }),
    );
    // The emulator starts a service with no task running; a count update makes running == desired.
    await ecs.send(new UpdateServiceCommand({ cluster: o.cluster, service: D.service, desiredCount: D.desiredCount }));
  }

  // CodeDeploy: the application and its blue/green deployment group.
  const cd = aws.codedeploy(o.region);
  // (ListApplications, not GetApplication: moto answers the latter with a timestamp the SDK cannot read.)
  const hasApplication = ((await cd.send(new ListApplicationsCommand({}))).applications ?? []).includes(D.application);
  if (!hasApplication) {
    await cd.send(new CreateApplicationCommand({ applicationName: D.application, computePlatform: 'ECS' }));
  }
  const hasGroup = await cd
    .send(new GetDeploymentGroupCommand({ applicationName: D.application, deploymentGroupName: D.deploymentGroup }))
    .then(() => true)
    .catch((err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    });
  if (!hasGroup) {
    await cd.send(
      new CreateDeploymentGroupCommand({
        applicationName: D.application,
        deploymentGroupName: D.deploymentGroup,
        deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
        serviceRoleArn: D.serviceRoleArn,
        deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
        ecsServices: [{ serviceName: D.service, clusterName: o.cluster }],
        loadBalancerInfo: {
          targetGroupPairInfoList: [
            {
              targetGroups: [{ name: D.targetGroups.blue }, { name: D.targetGroups.green }],
              ...(o.listenerArn ? { prodTrafficRoute: { listenerArns: [o.listenerArn] } } : {}),
            },
          ],
        },
        blueGreenDeploymentConfiguration: {
          terminateBlueInstancesOnDeploymentSuccess: {
            action: 'TERMINATE',
            terminationWaitTimeInMinutes: D.terminationWaitTimeInMinutes,
          },
          deploymentReadyOption: { actionOnTimeout: 'CONTINUE_DEPLOYMENT', waitTimeInMinutes: 0 },
        },
        autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] },
      }),
    );
  }

  return {
    application: D.application,
    deploymentGroup: D.deploymentGroup,
    cluster: o.cluster,
    service: D.service,
    family: D.family,
    images: [...D.images],
    revisions,
    targetGroups: { blue: blueArn, green: targetGroupArns[D.targetGroups.green]! },
    ...(o.listenerArn ? { listenerArn: o.listenerArn } : {}),
  };
}
