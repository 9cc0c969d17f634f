// A uniquely named environment for one blueGreenDeploy test: a cluster with a blue service (2 tasks on revision 1 of
// a family of its own) and a green service (0 tasks on the same revision), a router holding blue 100 / green 0 — a
// Route 53 weighted CNAME pair, or an ALB listener forwarding to two weighted target groups — a CloudWatch alarm,
// and a local green app for the health gate. Everything a run may change can be read back through the SDK:
// `weights()` (the router's raw weights), `snapshot()` (router, services, revisions) and `watch()` (what the router
// held while the run baked each step).
import { PutMetricDataCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeListenersCommand,
  RegisterTargetsCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ListResourceRecordSetsCommand, type ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { AwsClients } from '../../../activities/aws-clients';
import type { BlueGreenInput, RouterWeights } from '../../../api/runbooks/blue-green';
import { startDemoApp, type DemoApp } from '../../../scripts/lib/demo-apps';
import {
  ensureAlarm,
  ensureCluster,
  ensureIpTargets,
  ensureService,
  ensureTaskDefinitions,
  ensureWeightedAlb,
} from '../../../scripts/lib/fixtures';
import { makeZone, serviceState, zoneRecords, type TestZone } from './aws-fixtures';
import { listRevisions } from './failover-env';
import { uid } from '../temporal';

export const REGION = 'us-east-1';
export const BLUE_IMAGE = 'example/web:1.0';

export type RouterKind = 'route53' | 'alb';

export type BlueGreenRouter =
  | { kind: 'route53'; zone: TestZone }
  | {
      kind: 'alb';
      loadBalancerName: string;
      listenerArn: string;
      blueTargetGroup: string;
      greenTargetGroup: string;
      blueArn: string;
      greenArn: string;
      /** `greenTargets: 'instance'`: the EC2 instance registered as green's one target (stop it → `unused`). */
      greenInstanceId?: string;
    };

export interface BlueGreenEnv {
  id: string;
  region: string;
  cluster: string;
  blue: { region: string; cluster: string; service: string };
  green: { region: string; cluster: string; service: string };
  family: string;
  /** The family's revisions as created (one: blue and green both run it). */
  revisions: string[];
  /** The image a run deploys to green. */
  image: string;
  /** A CloudWatch alarm (OK, never evaluated by the emulator) named for this test. */
  alarm: string;
  /** A custom metric of this test's own (no datapoints until `putMetric`). */
  metric: { namespace: string; metricName: string; dimensions: { name: string; value: string }[] };
  app: DemoApp;
  router: BlueGreenRouter;
  /** A valid input for this environment: no approval, 2s bakes, 1s checks, 2s standby; with overrides. */
  input(overrides?: Partial<BlueGreenInput>): BlueGreenInput;
  /** The router's raw weights, read through the SDK. */
  weights(): Promise<RouterWeights>;
  /** Everything a run may change, read through the SDK. */
  snapshot(): Promise<BlueGreenSnapshot>;
  setAlarm(state: 'OK' | 'ALARM', reason: string): Promise<void>;
  /** One datapoint of `metric`, stamped `agoMs` in the past (the emulator drops points at/after the query's end). */
  putMetric(value: number, agoMs?: number): Promise<void>;
  /** Stop green's EC2 instance target (`greenTargets: 'instance'` only): the target turns `unused`. */
  stopGreenInstance(): Promise<void>;
  close(): Promise<void>;
}

export interface BlueGreenSnapshot {
  /** Route 53: every record of the zone; ALB: the listener's default actions. */
  router: ResourceRecordSet[] | Action[];
  blue: { desiredCount: number; runningCount: number; taskDefinition: string };
  green: { desiredCount: number; runningCount: number; taskDefinition: string };
  revisions: string[];
}

export interface BlueGreenOptions {
  router: RouterKind;
  /** The split before the run (raw weights). Default blue 100 / green 0. */
  weights?: RouterWeights;
  /** ALB only: green's targets: two IPs (always healthy in the emulator), none, or one EC2 instance. */
  greenTargets?: 'ip' | 'none' | 'instance';
  /** ALB only: which target group each service is behind (ECS loadBalancers). Default: its own colour's. */
  services?: 'behind-their-target-groups' | 'swapped' | 'no-load-balancer';
}

export async function makeBlueGreenEnv(aws: AwsClients, opts: BlueGreenOptions): Promise<BlueGreenEnv> {
  const id = uid('bg');
  const region = REGION;
  const weights = opts.weights ?? { blue: 100, green: 0 };
  const ecs = aws.ecs(region);
  const cw = aws.cloudwatch(region);
  const cluster = `${id}-cluster`;
  const family = `${id}-web`;
  const blue = { region, cluster, service: `${id}-blue` };
  const green = { region, cluster, service: `${id}-green` };
  const cleanups: (() => Promise<unknown>)[] = [];

  const app = await startDemoApp(`${id}-green`);
  cleanups.push(() => app.close());

  await ensureCluster(ecs, cluster);
  const revisions = await ensureTaskDefinitions(ecs, family, [BLUE_IMAGE]);

  const alarm = `${id}-green-5xx`;
  const metric = {
    namespace: `Test/${id}`,
    metricName: 'HTTPCode_5XX',
    dimensions: [{ name: 'Service', value: green.service }],
  };
  await ensureAlarm(cw, {
    name: alarm,
    namespace: metric.namespace,
    metric: metric.metricName,
    dimensions: metric.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
    threshold: 5,
    description: `green 5xx for ${id}`,
  });

  let router: BlueGreenRouter;
  const services: { blue?: string; green?: string } = {}; // target group ARN per service
  if (opts.router === 'route53') {
    const zone = await makeZone(aws, (z) => [
      {
        Name: `api.${z}`,
        Type: 'CNAME',
        SetIdentifier: 'blue',
        Weight: weights.blue,
        TTL: 60,
        ResourceRecords: [{ Value: `blue.${z}` }],
      },
      {
        Name: `api.${z}`,
        Type: 'CNAME',
        SetIdentifier: 'green',
        Weight: weights.green,
        TTL: 60,
        ResourceRecords: [{ Value: `green.${z}` }],
      },
      // A record no run may touch.
      { Name: `www.${z}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.10' }] },
    ]);
    router = { kind: 'route53', zone };
  } else {
    // Names: ALB and target groups at most 32 characters ("bg-1234abcd-green" is 17).
    const loadBalancerName = id;
    const blueTargetGroup = `${id}-blue`;
    const greenTargetGroup = `${id}-green`;
    const targets = opts.greenTargets ?? 'ip';
    const ec2 = new EC2Client({ region });
    cleanups.push(async () => ec2.destroy());
    if (targets === 'instance') {
      // Created before ensureWeightedAlb (which makes IP target groups), so that it finds and uses this one.
      const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
      await aws.elbv2(region).send(
        new CreateTargetGroupCommand({
          Name: greenTargetGroup,
          Protocol: 'HTTP',
          Port: 8080,
          VpcId: vpcs.Vpcs![0]!.VpcId!,
          TargetType: 'instance',
          HealthCheckPath: '/health',
        }),
      );
    }
    const alb = await ensureWeightedAlb(aws, region, {
      name: loadBalancerName,
      targetGroups: [
        { name: blueTargetGroup, weight: weights.blue },
        { name: greenTargetGroup, weight: weights.green },
      ],
    });
    const blueArn = alb.targetGroupArns[blueTargetGroup]!;
    const greenArn = alb.targetGroupArns[greenTargetGroup]!;
    await ensureIpTargets(aws, region, blueArn, ['172.31.0.10', '172.31.16.10']);
    let greenInstanceId: string | undefined;
    if (targets === 'ip') await ensureIpTargets(aws, region, greenArn, ['172.31.0.20', '172.31.16.20']);
    if (targets === 'instance') {
      const run = await ec2.send(
        new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }),
      );
      greenInstanceId = run.Instances![0]!.InstanceId!;
      const instance = greenInstanceId;
      cleanups.push(() => ec2.send(new TerminateInstancesCommand({ InstanceIds: [instance] })));
      await aws
        .elbv2(region)
        .send(new RegisterTargetsCommand({ TargetGroupArn: greenArn, Targets: [{ Id: instance, Port: 8080 }] }));
    }
    const pairing = opts.services ?? 'behind-their-target-groups';
    if (pairing !== 'no-load-balancer') {
      const swapped = pairing === 'swapped';
      services.blue = swapped ? greenArn : blueArn;
      services.green = swapped ? blueArn : greenArn;
    }
    router = {
      kind: 'alb',
      loadBalancerName,
      listenerArn: alb.listenerArn,
      blueTargetGroup,
      greenTargetGroup,
      blueArn,
      greenArn,
      ...(greenInstanceId ? { greenInstanceId } : {}),
    };
  }

  const behind = (arn: string | undefined) => (arn ? { targetGroupArn: arn } : {});
  await ensureService(ecs, {
    cluster,
    service: blue.service,
    taskDefinition: revisions[0]!,
    desiredCount: 2,
    ...behind(services.blue),
  });
  await ensureService(ecs, {
    cluster,
    service: green.service,
    taskDefinition: revisions[0]!,
    desiredCount: 0,
    ...behind(services.green),
  });

  const listenerActions = async (listenerArn: string) =>
    (await aws.elbv2(region).send(new DescribeListenersCommand({ ListenerArns: [listenerArn] }))).Listeners![0]!
      .DefaultActions ?? [];

  const env: BlueGreenEnv = {
    id,
    region,
    cluster,
    blue,
    green,
    family,
    revisions,
    image: 'example/web:2.0',
    alarm,
    metric,
    app,
    router,
    input: (overrides = {}) => ({
      region,
      cluster,
      blueService: blue.service,
      greenService: green.service,
      version: { image: env.image },
      router:
        router.kind === 'route53'
          ? {
              kind: 'route53-weighted',
              hostedZone: router.zone.zoneName,
              record: { name: router.zone.recordName, type: 'CNAME' },
              blueSetIdentifier: 'blue',
              greenSetIdentifier: 'green',
            }
          : {
              kind: 'alb-weighted',
              listener: router.listenerArn,
              blueTargetGroup: router.blueTargetGroup,
              greenTargetGroup: router.greenTargetGroup,
            },
      bakeTime: '2s',
      checkInterval: '1s',
      gates: {
        alarms: [alarm],
        greenHealth: { url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '5s' },
      },
      stableTimeout: '30s',
      blueStandby: '2s',
      approval: { required: false },
      ...overrides,
    }),
    async weights() {
      if (router.kind === 'route53') {
        const out = await aws.route53().send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: router.zone.zoneId,
            StartRecordName: router.zone.recordName,
            StartRecordType: 'CNAME',
          }),
        );
        const weight = (setId: string) =>
          out.ResourceRecordSets?.find(
            (r) => r.Name?.replace(/\.$/, '') === router.zone.recordName && r.SetIdentifier === setId,
          )?.Weight ?? NaN;
        return { blue: weight('blue'), green: weight('green') };
      }
      const forward = (await listenerActions(router.listenerArn)).find((a) => a.Type === 'forward');
      const weight = (arn: string) =>
        forward?.ForwardConfig?.TargetGroups?.find((g) => g.TargetGroupArn === arn)?.Weight ?? NaN;
      return { blue: weight(router.blueArn), green: weight(router.greenArn) };
    },
    async snapshot() {
      const [routerState, blueState, greenState, revs] = await Promise.all([
        router.kind === 'route53' ? zoneRecords(aws, router.zone.zoneId) : listenerActions(router.listenerArn),
        serviceState(aws, blue),
        serviceState(aws, green),
        listRevisions(aws, region, family),
      ]);
      return { router: routerState, blue: blueState, green: greenState, revisions: revs };
    },
    async setAlarm(state, reason) {
      await cw.send(new SetAlarmStateCommand({ AlarmName: alarm, StateValue: state, StateReason: reason }));
    },
    async putMetric(value, agoMs = 3_000) {
      await cw.send(
        new PutMetricDataCommand({
          Namespace: metric.namespace,
          MetricData: [
            {
              MetricName: metric.metricName,
              Dimensions: metric.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
              Timestamp: new Date(Date.now() - agoMs),
              Value: value,
              Unit: 'Count',
            },
          ],
        }),
      );
    },
    async stopGreenInstance() {
      if (router.kind !== 'alb' || !router.greenInstanceId) throw new Error('no green instance target');
      const ec2 = new EC2Client({ region });
      try {
        await ec2.send(new StopInstancesCommand({ InstanceIds: [router.greenInstanceId] }));
      } finally {
        ec2.destroy();
      }
    },
    async close() {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    },
  };
  return env;
}

/** Build an environment, run `fn`, close the environment (the green app, EC2 clients) whatever happens. */
export async function withBlueGreenEnv<T>(
  aws: AwsClients,
  opts: BlueGreenOptions,
  fn: (env: BlueGreenEnv) => Promise<T>,
): Promise<T> {
  const env = await makeBlueGreenEnv(aws, opts);
  try {
    return await fn(env);
  } finally {
    await env.close();
  }
}

export interface RouterWatch {
  /** Every split the router held, read through the SDK, with when the read started and when it answered. */
  samples: { from: number; to: number; weights: RouterWeights }[];
  /** Every distinct split the router held, in order (consecutive repeats dropped): the green weight. */
  readonly greenSeen: number[];
  /**
   * For each `Bake N% …` step of the run's timeline, what the router held (read through the SDK) during that bake:
   * the one split seen, or every split seen when it changed during the bake, or none when no read fell inside it.
   */
  bakes(report: { timeline: { name: string; startedAt: string; endedAt?: string }[] }): {
    step: number;
    weights: RouterWeights | RouterWeights[] | 'not read';
  }[];
  stop(): Promise<void>;
}

/**
 * Read the router through the SDK every `everyMs` until stopped, keeping each read with its time. Only the router is
 * polled (no workflow query on the way): a short bake is still read several times on a loaded machine. Call it before
 * starting the run: it reads the router once before it returns, so the split before the run is the first one seen.
 */
export async function watchRouter(env: BlueGreenEnv, everyMs = 100): Promise<RouterWatch> {
  let running = true;
  const read = async () => {
    const from = Date.now();
    const weights = await env.weights();
    samples.push({ from, to: Date.now(), weights });
  };
  const samples: RouterWatch['samples'] = [];
  await read();
  const loop = (async () => {
    while (running) {
      await read();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    get greenSeen() {
      const seen: number[] = [];
      for (const s of samples) if (seen.at(-1) !== s.weights.green) seen.push(s.weights.green);
      return seen;
    },
    bakes(report) {
      return report.timeline.flatMap((step) => {
        const m = /^Bake (\d+)% for /.exec(step.name);
        if (!m || !step.endedAt) return [];
        const from = Date.parse(step.startedAt);
        const to = Date.parse(step.endedAt);
        // Only reads wholly inside the bake: one that began before it may still show the previous split.
        const seen = samples.filter((s) => s.from >= from && s.to <= to).map((s) => s.weights);
        const distinct = seen.filter((w, i) => i === 0 || w.green !== seen[i - 1]!.green);
        return [
          {
            step: Number(m[1]),
            weights: distinct.length === 0 ? ('not read' as const) : distinct.length === 1 ? distinct[0]! : distinct,
          },
        ];
      });
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
