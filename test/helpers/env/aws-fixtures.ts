// Uniquely named AWS resources for one test, built in the emulator with the same idempotent builders as the demo.
import { CreateApplicationCommand, CreateDeploymentGroupCommand } from '@aws-sdk/client-codedeploy';
import { CreateServiceCommand, DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { ListResourceRecordSetsCommand, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { AwsClients } from '../../../activities/aws-clients';
import {
  ensureCluster,
  ensureHostedZone,
  ensureRecords,
  ensureService,
  ensureTaskDefinitions,
} from '../../../scripts/lib/fixtures';
import { uid } from '../temporal';

export interface TestService {
  region: string;
  cluster: string;
  service: string;
  family: string;
  revisions: string[];
  /** region / cluster / service, as runbook inputs take them. */
  ref: { region: string; cluster: string; service: string };
}

/**
 * A cluster + service on the newest of `revisions` task-definition revisions, with `desiredCount` tasks; deployed by
 * `deploymentController` (default ECS).
 */
export async function makeService(
  aws: AwsClients,
  opts: {
    region?: string;
    desiredCount?: number;
    revisions?: number;
    onRevision?: number;
    deploymentController?: 'ECS' | 'CODE_DEPLOY' | 'EXTERNAL';
  } = {},
): Promise<TestService> {
  const region = opts.region ?? 'us-east-1';
  const id = uid('svc');
  const cluster = `c-${id}`;
  const family = `f-${id}`;
  const ecs = aws.ecs(region);
  await ensureCluster(ecs, cluster);
  const images = Array.from({ length: opts.revisions ?? 2 }, (_, i) => `example/app:${i + 1}.0`);
  const revisions = await ensureTaskDefinitions(ecs, family, images, [{ name: 'DATABASE_HOST', value: 'db.example' }]);
  const on = revisions[(opts.onRevision ?? revisions.length) - 1]!;
  const desiredCount = opts.desiredCount ?? 2;
  if (opts.deploymentController && opts.deploymentController !== 'ECS') {
    await makeControlledService(aws, {
      region,
      cluster,
      service: id,
      taskDefinition: on,
      desiredCount,
      controller: opts.deploymentController,
    });
  } else {
    await ensureService(ecs, { cluster, service: id, taskDefinition: on, desiredCount });
  }
  return { region, cluster, service: id, family, revisions, ref: { region, cluster, service: id } };
}

/**
 * A service in an existing cluster whose deployment controller is CODE_DEPLOY or EXTERNAL (the emulator takes it in
 * CreateService, and — unlike AWS — would then take a task-definition change too), running `desiredCount` tasks.
 */
export async function makeControlledService(
  aws: AwsClients,
  o: {
    region: string;
    cluster: string;
    service?: string;
    taskDefinition: string;
    desiredCount: number;
    controller: 'CODE_DEPLOY' | 'EXTERNAL';
  },
): Promise<{ region: string; cluster: string; service: string }> {
  const service = o.service ?? uid('cd-svc');
  const ecs = aws.ecs(o.region);
  await ecs.send(
    new CreateServiceCommand({
      cluster: o.cluster,
      serviceName: service,
      taskDefinition: o.taskDefinition,
      desiredCount: o.desiredCount,
      launchType: 'FARGATE',
      deploymentController: { type: o.controller },
    }),
  );
  // The emulator starts a service with no task running; a count update makes running == desired, as in ensureService.
  await ecs.send(new UpdateServiceCommand({ cluster: o.cluster, service, desiredCount: o.desiredCount }));
  return { region: o.region, cluster: o.cluster, service };
}

/** A service's deployment controller, as DescribeServices shows it. */
export async function deploymentControllerOf(aws: AwsClients, s: { region: string; cluster: string; service: string }) {
  const out = await aws.ecs(s.region).send(new DescribeServicesCommand({ cluster: s.cluster, services: [s.service] }));
  return out.services?.[0]?.deploymentController?.type;
}

export async function serviceState(aws: AwsClients, s: { region: string; cluster: string; service: string }) {
  const out = await aws.ecs(s.region).send(new DescribeServicesCommand({ cluster: s.cluster, services: [s.service] }));
  const svc = out.services![0]!;
  return { desiredCount: svc.desiredCount!, runningCount: svc.runningCount!, taskDefinition: svc.taskDefinition! };
}

export interface TestZone {
  zoneId: string;
  zoneName: string;
  recordName: string;
}

/** A hosted zone with `records` (names relative to the zone: "api" → api.<zone>). */
export async function makeZone(aws: AwsClients, records: (zone: string) => ResourceRecordSet[]): Promise<TestZone> {
  const zoneName = `${uid('z')}.example.test`;
  const zoneId = await ensureHostedZone(aws, zoneName);
  await ensureRecords(aws, zoneId, records(zoneName));
  return { zoneId, zoneName, recordName: `api.${zoneName}` };
}

/** Every record set of the zone except SOA/NS, sorted, for before/after comparisons. */
export async function zoneRecords(aws: AwsClients, zoneId: string): Promise<ResourceRecordSet[]> {
  const out = await aws.route53().send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, MaxItems: 300 }));
  return (out.ResourceRecordSets ?? [])
    .filter((r) => r.Type !== 'SOA' && r.Type !== 'NS')
    .sort((a, b) => `${a.Name}${a.Type}${a.SetIdentifier}`.localeCompare(`${b.Name}${b.Type}${b.SetIdentifier}`));
}

/** A CODE_DEPLOY service with its CodeDeploy application and blue/green deployment group (automatic rollback on). */
export interface CodeDeployService extends TestService {
  application: string;
  group: string;
}

/**
 * A CODE_DEPLOY service (`makeService`: revision `onRevision` of `revisions`), its CodeDeploy application and a
 * BLUE_GREEN deployment group that rolls back a failed or stopped deployment. `codeDeploy` makes the CodeDeploy
 * resources through other clients (e.g. a realistic layer), the service through `aws`.
 */
export async function makeCodeDeployService(
  aws: AwsClients,
  o: {
    codeDeploy?: AwsClients;
    desiredCount?: number;
    revisions?: number;
    onRevision?: number;
    terminationWaitMinutes?: number;
  } = {},
): Promise<CodeDeployService> {
  const svc = await makeService(aws, {
    deploymentController: 'CODE_DEPLOY',
    revisions: o.revisions ?? 2,
    onRevision: o.onRevision ?? 1,
    desiredCount: o.desiredCount ?? 2,
  });
  const application = uid('cd-app');
  const group = `${application}-dg`;
  const cd = (o.codeDeploy ?? aws).codedeploy(svc.region);
  await cd.send(new CreateApplicationCommand({ applicationName: application, computePlatform: 'ECS' }));
  await cd.send(
    new CreateDeploymentGroupCommand({
      applicationName: application,
      deploymentGroupName: group,
      serviceRoleArn: 'arn:aws:iam::123456789012:role/codedeploy-ecs',
      deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
      deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      ecsServices: [{ serviceName: svc.service, clusterName: svc.cluster }],
      autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] },
      blueGreenDeploymentConfiguration: {
        terminateBlueInstancesOnDeploymentSuccess: {
          action: 'TERMINATE',
          terminationWaitTimeInMinutes: o.terminationWaitMinutes ?? 0,
        },
        deploymentReadyOption: { actionOnTimeout: 'CONTINUE_DEPLOYMENT' },
      },
    }),
  );
  return { ...svc, application, group };
}
