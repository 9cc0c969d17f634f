// The demo environment seeded into the emulator by `npm run dev` (idempotent: run it as often as you like).
// Two regions, an RDS PostgreSQL primary with a cross-region read replica and snapshots, ECS clusters and services
// with two task-definition revisions each, a DB secret, a Route 53 zone with a failover pair and a weighted
// blue/green pair, an ALB forwarding to blue and green, CloudWatch alarms and recent ReplicaLag datapoints.
// Every name here is fixed, so the example inputs in docs/examples work as they are.
import { writeFileSync } from 'node:fs';
import type { AwsClients } from '../../activities/aws-clients';
import {
  ensureAlarm,
  ensureCluster,
  ensureDbInstance,
  ensureDbSnapshot,
  ensureHealthCheck,
  ensureHostedZone,
  ensureIpTargets,
  ensureReadReplica,
  ensureRecords,
  ensureSecret,
  ensureService,
  ensureTaskDefinitions,
  ensureWeightedAlb,
  putReplicaLag,
} from './fixtures';
import { seedCodeDeployDemo } from './demo-codedeploy';
import { seedTriageDemo } from './demo-triage';
import { seedAuroraDemo } from './demo-aurora';
import { ensureDemoBackupBucket } from './demo-backups';
import { seedRdsRebootDemo } from './demo-rds-reboot';
import { seedGatesDemo } from './demo-gates';
import { seedGlobalDemo } from './demo-global';

export const DEMO = {
  primaryRegion: 'us-east-1',
  secondaryRegion: 'us-west-2',
  db: { primary: 'demo-db', replica: 'demo-db-replica', snapshots: ['demo-db-snap-1', 'demo-db-snap-2'] },
  secret: 'demo/db',
  ecs: {
    primary: { cluster: 'demo-east', service: 'demo-api', desiredCount: 2 },
    secondary: { cluster: 'demo-west', service: 'demo-api', desiredCount: 0 },
    family: 'demo-api',
    images: ['public.ecr.aws/demo/api:1.0.0', 'public.ecr.aws/demo/api:1.1.0'],
    blue: { service: 'demo-web-blue', desiredCount: 2 },
    green: { service: 'demo-web-green', desiredCount: 0 },
    webFamily: 'demo-web',
    webImages: ['public.ecr.aws/demo/web:2.0.0', 'public.ecr.aws/demo/web:2.1.0'],
  },
  zone: 'demo.example.com',
  records: { api: 'api.demo.example.com', app: 'app.demo.example.com' },
  alb: { primary: 'demo-alb', secondary: 'demo-alb-west' },
  alarms: { errors: 'demo-api-5xx', latency: 'demo-api-latency-p95' },
} as const;

export interface DemoAppUrls {
  primary: string;
  secondary: string;
  blue: string;
  green: string;
  /** Stands in for the public endpoint (api.demo.example.com) checked after a DNS switch. */
  public: string;
}

export type DemoEnv = Awaited<ReturnType<typeof seedDemoEnvironment>>;

export async function seedDemoEnvironment(aws: AwsClients, apps: DemoAppUrls, stateFile?: string) {
  const { primaryRegion: east, secondaryRegion: west } = DEMO;

  // RDS: primary, cross-region replica, manual snapshots.
  const primaryDb = await ensureDbInstance(aws, east, DEMO.db.primary, {
    masterPassword: 'demo-password-not-secret',
    tags: [{ Key: 'backup-verify', Value: 'true' }],
  });
  const replicaDb = await ensureReadReplica(aws, {
    sourceArn: primaryDb.DBInstanceArn!,
    region: west,
    id: DEMO.db.replica,
  });
  for (const snap of DEMO.db.snapshots) await ensureDbSnapshot(aws, east, DEMO.db.primary, snap);
  const primaryEndpoint = primaryDb.Endpoint?.Address ?? '';
  const replicaEndpoint = replicaDb.Endpoint?.Address ?? '';

  // Secrets Manager: the DB connection in each region.
  const connection = {
    engine: 'postgres',
    host: primaryEndpoint,
    port: 5432,
    username: 'app',
    password: 'demo-password-not-secret',
    dbname: 'app',
  };
  await ensureSecret(aws, east, DEMO.secret, connection);
  await ensureSecret(aws, west, DEMO.secret, connection);

  // ECS: a cluster and service per region, two revisions each whose environment carries the DB endpoint.
  const env = (host: string) => [
    { name: 'DATABASE_HOST', value: host },
    { name: 'DATABASE_SECRET', value: DEMO.secret },
  ];
  for (const [region, side, host] of [
    [east, DEMO.ecs.primary, primaryEndpoint],
    [west, DEMO.ecs.secondary, primaryEndpoint],
  ] as const) {
    const ecs = aws.ecs(region);
    await ensureCluster(ecs, side.cluster);
    const revisions = await ensureTaskDefinitions(ecs, DEMO.ecs.family, [...DEMO.ecs.images], env(host));
    await ensureService(ecs, {
      cluster: side.cluster,
      service: side.service,
      taskDefinition: revisions.at(-1)!,
      desiredCount: side.desiredCount,
    });
  }
  // Blue/green web services in the primary region.
  const ecsEast = aws.ecs(east);
  const webRevisions = await ensureTaskDefinitions(
    ecsEast,
    DEMO.ecs.webFamily,
    [...DEMO.ecs.webImages],
    env(primaryEndpoint),
  );
  // ALBs: blue/green weighted listener in the primary region; one in the secondary region for the failover alias.
  const albEast = await ensureWeightedAlb(aws, east, {
    name: DEMO.alb.primary,
    targetGroups: [
      { name: 'demo-web-blue', weight: 100 },
      { name: 'demo-web-green', weight: 0 },
    ],
  });
  await ensureIpTargets(aws, east, albEast.targetGroupArns['demo-web-blue']!, ['172.31.0.10', '172.31.16.10']);
  await ensureIpTargets(aws, east, albEast.targetGroupArns['demo-web-green']!, ['172.31.0.20', '172.31.16.20']);
  // Each colour's service behind its target group, as ECS registers them (what blueGreenDeploy checks).
  await ensureService(ecsEast, {
    cluster: DEMO.ecs.primary.cluster,
    service: DEMO.ecs.blue.service,
    taskDefinition: webRevisions[0]!,
    desiredCount: DEMO.ecs.blue.desiredCount,
    targetGroupArn: albEast.targetGroupArns['demo-web-blue']!,
  });
  await ensureService(ecsEast, {
    cluster: DEMO.ecs.primary.cluster,
    service: DEMO.ecs.green.service,
    taskDefinition: webRevisions[0]!,
    desiredCount: DEMO.ecs.green.desiredCount,
    targetGroupArn: albEast.targetGroupArns['demo-web-green']!,
  });
  const albWest = await ensureWeightedAlb(aws, west, {
    name: DEMO.alb.secondary,
    targetGroups: [{ name: 'demo-api-west', weight: 100 }],
  });

  // Route 53: failover pair for the API, weighted blue/green pair for the web app.
  const zoneId = await ensureHostedZone(aws, DEMO.zone);
  const primaryCheck = await ensureHealthCheck(aws, 'demo-api-primary', albEast.dnsName);
  await ensureRecords(aws, zoneId, [
    {
      Name: DEMO.records.api,
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      HealthCheckId: primaryCheck,
      AliasTarget: {
        DNSName: albEast.dnsName,
        HostedZoneId: albEast.canonicalHostedZoneId,
        EvaluateTargetHealth: true,
      },
    },
    {
      Name: DEMO.records.api,
      Type: 'A',
      SetIdentifier: 'secondary',
      Failover: 'SECONDARY',
      AliasTarget: {
        DNSName: albWest.dnsName,
        HostedZoneId: albWest.canonicalHostedZoneId,
        EvaluateTargetHealth: true,
      },
    },
    {
      Name: DEMO.records.app,
      Type: 'CNAME',
      SetIdentifier: 'blue',
      Weight: 100,
      TTL: 60,
      ResourceRecords: [{ Value: `blue.${DEMO.zone}` }],
    },
    {
      Name: DEMO.records.app,
      Type: 'CNAME',
      SetIdentifier: 'green',
      Weight: 0,
      TTL: 60,
      ResourceRecords: [{ Value: `green.${DEMO.zone}` }],
    },
  ]);

  // CloudWatch: alarms for 5xx and p95 latency; recent replica lag for the replica (in its own region).
  const cwEast = aws.cloudwatch(east);
  const lbDimension = [{ Name: 'LoadBalancer', Value: albEast.loadBalancerArn.split(':loadbalancer/').pop()! }];
  await ensureAlarm(cwEast, {
    name: DEMO.alarms.errors,
    namespace: 'AWS/ApplicationELB',
    metric: 'HTTPCode_Target_5XX_Count',
    dimensions: lbDimension,
    threshold: 50,
    statistic: 'Sum',
    description: '5xx answers from the targets above 50 a minute',
  });
  await ensureAlarm(cwEast, {
    name: DEMO.alarms.latency,
    namespace: 'AWS/ApplicationELB',
    metric: 'TargetResponseTime',
    dimensions: lbDimension,
    threshold: 2,
    extendedStatistic: 'p95',
    description: 'p95 target response time above 2 s',
  });
  await putReplicaLag(aws.cloudwatch(west), DEMO.db.replica, [3, 2, 4, 2, 3]);

  // A service deployed through CodeDeploy (ecsDeploy drives it), and what triage reads (logs, stopped tasks).
  const codeDeploy = await seedCodeDeployDemo(aws, {
    region: east,
    cluster: DEMO.ecs.primary.cluster,
    listenerArn: albEast.listenerArn,
  });
  const triage = await seedTriageDemo(aws);
  await ensureDemoBackupBucket(aws); // backups that are files: the archive is uploaded once PostgreSQL runs
  const multiAz = await seedRdsRebootDemo(aws); // a Multi-AZ instance for rdsRebootFailover
  const aurora = await seedAuroraDemo(aws); // an Aurora cluster (writer and two readers) for auroraFailover
  await seedGatesDemo(aws); // what blue-green's burn-rate, window and HTTP gates read (a login secret, metrics)
  await seedGlobalDemo(aws); // an Aurora global database (us-east-1 writer, us-west-2 secondary) for regionalFailover

  const env_ = {
    regions: { primary: east, secondary: west },
    db: {
      primary: DEMO.db.primary,
      primaryEndpoint,
      replica: DEMO.db.replica,
      replicaEndpoint,
      snapshots: DEMO.db.snapshots,
    },
    secret: DEMO.secret,
    ecs: DEMO.ecs,
    hostedZone: { name: DEMO.zone, id: zoneId },
    records: DEMO.records,
    alb: {
      primary: {
        dnsName: albEast.dnsName,
        hostedZoneId: albEast.canonicalHostedZoneId,
        listenerArn: albEast.listenerArn,
        targetGroups: albEast.targetGroupArns,
      },
      secondary: { dnsName: albWest.dnsName, hostedZoneId: albWest.canonicalHostedZoneId },
    },
    alarms: DEMO.alarms,
    codeDeploy,
    triage,
    multiAz,
    aurora,
    apps,
  };
  if (stateFile) writeFileSync(stateFile, `${JSON.stringify(env_, null, 2)}\n`);
  return env_;
}
