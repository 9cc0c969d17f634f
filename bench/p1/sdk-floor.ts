// The floor on this emulator: the AWS calls of the seed's steps 1–8, made back to back by the AWS SDK in one
// process (no CLI start-up, no Temporal), with the waits as the single describe call each needs when the resource
// is already ready. What no runbook engine can beat on the same emulator.
import { FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { DescribeDBInstancesCommand, PromoteReadReplicaCommand } from '@aws-sdk/client-rds';
import { ChangeResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import type { AwsClients } from '../../activities/aws-clients';
import { PRIMARY_REGION, SECONDARY_REGION, type Topology } from './topology';

export async function sdkFailover(aws: AwsClients, t: Topology, healthUrl: string, loginUrl: string): Promise<void> {
  const rdsP = aws.rds(PRIMARY_REGION);
  const rdsS = aws.rds(SECONDARY_REGION);
  const ecsS = aws.ecs(SECONDARY_REGION);
  await rdsP.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: t.primaryDb }));
  await rdsS.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: t.replica }));
  await rdsS.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: t.replica }));
  await aws.ecs(PRIMARY_REGION).send(new UpdateServiceCommand({ ...t.primary, desiredCount: 0 }));
  await rdsS.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: t.replica, BackupRetentionPeriod: 7 }));
  const promoted = await rdsS.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: t.replica }));
  if (promoted.DBInstances?.[0]?.DBInstanceStatus !== 'available') throw new Error('replica not available');
  const endpoint = (await rdsS.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: t.replica })))
    .DBInstances![0]!.Endpoint!.Address!;
  const td = (await ecsS.send(new DescribeTaskDefinitionCommand({ taskDefinition: t.family }))).taskDefinition!;
  const registered = await ecsS.send(
    new RegisterTaskDefinitionCommand({
      family: td.family,
      cpu: td.cpu,
      memory: td.memory,
      networkMode: td.networkMode,
      requiresCompatibilities: td.requiresCompatibilities,
      executionRoleArn: td.executionRoleArn,
      taskRoleArn: td.taskRoleArn,
      containerDefinitions: td.containerDefinitions!.map((c) => ({
        ...c,
        environment: [
          ...(c.environment ?? []).filter((e) => e.name !== 'DATABASE_HOST'),
          { name: 'DATABASE_HOST', value: endpoint },
        ],
      })),
    } as RegisterTaskDefinitionCommandInput),
  );
  await ecsS.send(
    new UpdateServiceCommand({
      ...t.secondary,
      desiredCount: 2,
      taskDefinition: registered.taskDefinition!.taskDefinitionArn!,
    }),
  );
  await ecsS.send(new DescribeServicesCommand({ cluster: t.secondary.cluster, services: [t.secondary.service] }));
  await aws.route53().send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: t.zoneId,
      ChangeBatch: {
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: t.recordName,
              Type: 'A',
              SetIdentifier: 'primary',
              Failover: 'PRIMARY',
              AliasTarget: { HostedZoneId: 'Z368ELLRRE2KJ0', DNSName: t.secondaryTarget, EvaluateTargetHealth: true },
            },
          },
        ],
      },
    }),
  );
  const health = await fetch(`${healthUrl}?check=db`);
  if (!health.ok) throw new Error(`health ${health.status}`);
  await (
    await fetch(loginUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email":"test@example.com","password":"test"}',
    })
  ).text();
  await aws.logs(SECONDARY_REGION).send(new FilterLogEventsCommand({ logGroupName: t.logGroup, limit: 50 }));
}
