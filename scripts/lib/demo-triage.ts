// The demo environment's part for the triage runbook: what `docs/examples/triage.json` reads besides the service
// itself — a CloudWatch Logs group /ecs/demo-api with recent error and info lines, and a few STOPPED tasks of
// demo-api that look like AWS's crashed service tasks (group `service:demo-api`, startedBy the service's deployment
// id, "Essential container in task exited"). Idempotent (`npm run dev` seeds at every start, `reset` after a drill):
// it adds lines only when the stream has none from the last half hour, and tasks only up to DEMO_STOPPED_TASKS.
//
// No alarm is put into ALARM here: the blue-green and ecs-deploy examples gate on the demo alarms.
// The emulator (moto 5.2) records no stoppedAt, stopCode or container exit code for a stopped task, so these tasks
// can never look like a crash loop "since a wait began" to another runbook's stability wait (it needs stoppedAt), and
// they are all stopped before this function returns.
import {
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import type { AwsClients } from '../../activities/aws-clients';

export const TRIAGE_DEMO = {
  region: 'us-east-1',
  cluster: 'demo-east',
  service: 'demo-api',
  logGroup: '/ecs/demo-api',
  logStream: 'app/app/demo-seed',
  stoppedReason: 'Essential container in task exited',
} as const;

/** How many crashed tasks of demo-api the demo keeps (repeated seeding adds none beyond these). */
export const DEMO_STOPPED_TASKS = 3;

const ignoreExisting = (err: Error) => {
  if (err.name !== 'ResourceAlreadyExistsException') throw err;
};

/** Recent log lines of a crashing app: errors (what triage's default filter pattern counts) between info lines. */
function demoLines(now: number): { timestamp: number; message: string }[] {
  const lines = [
    'INFO  server listening on :8080 (version 1.1.0)',
    'INFO  GET /health 200 2ms',
    'ERROR Unhandled rejection: connect ECONNREFUSED 10.0.3.12:5432 (pool "orders")',
    'INFO  GET /v1/orders 200 41ms',
    'ERROR TypeError: Cannot read properties of undefined (reading "currency") at priceOf (/app/dist/orders.js:88:17)',
    'WARN  retrying payment provider call (attempt 2 of 3)',
    'ERROR Exception in request handler: GET /v1/orders/8812 500 (TypeError)',
    'INFO  GET /health 200 1ms',
    'ERROR process exiting with code 1 after 3 unhandled errors',
  ];
  // One line every 40 s, the newest a minute ago: all inside triage's default 15 minutes.
  return lines.map((message, i) => ({ timestamp: now - 60_000 - (lines.length - 1 - i) * 40_000, message }));
}

export async function seedTriageDemo(aws: AwsClients): Promise<{
  region: string;
  cluster: string;
  service: string;
  logGroup: string;
  logLinesAdded: number;
  stoppedTasks: string[];
  stoppedTasksNote?: string;
}> {
  const { region, cluster, service } = TRIAGE_DEMO;

  // CloudWatch Logs: the group, a stream, and recent lines unless the stream already has some from the last 30 min.
  const logs = aws.logs(region);
  await logs.send(new CreateLogGroupCommand({ logGroupName: TRIAGE_DEMO.logGroup })).catch(ignoreExisting);
  await logs
    .send(new CreateLogStreamCommand({ logGroupName: TRIAGE_DEMO.logGroup, logStreamName: TRIAGE_DEMO.logStream }))
    .catch(ignoreExisting);
  const now = Date.now();
  const existing = await logs.send(
    new GetLogEventsCommand({
      logGroupName: TRIAGE_DEMO.logGroup,
      logStreamName: TRIAGE_DEMO.logStream,
      startTime: now - 30 * 60_000,
      limit: 1,
    }),
  );
  let logLinesAdded = 0;
  if (!existing.events?.length) {
    const events = demoLines(now);
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: TRIAGE_DEMO.logGroup,
        logStreamName: TRIAGE_DEMO.logStream,
        logEvents: events,
      }),
    );
    logLinesAdded = events.length;
  }

  // ECS: crashed tasks of the service's current revision, as AWS starts a service's tasks.
  const ecs = aws.ecs(region);
  const described = await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }));
  const svc = described.services?.find((s) => s.status === 'ACTIVE');
  if (!svc?.taskDefinition) throw new Error(`seedTriageDemo: ECS service ${service} not found in ${cluster}`);
  const deploymentId = svc.deployments?.find((d) => d.status === 'PRIMARY')?.id ?? svc.deployments?.[0]?.id;
  const group = `service:${service}`;

  const listed = await ecs.send(new ListTasksCommand({ cluster, desiredStatus: 'STOPPED', maxResults: 100 }));
  const stopped = listed.taskArns?.length
    ? ((await ecs.send(new DescribeTasksCommand({ cluster, tasks: listed.taskArns }))).tasks ?? [])
    : [];
  const ours = stopped
    .filter((t) => t.group === group && t.stoppedReason === TRIAGE_DEMO.stoppedReason)
    .map((t) => t.taskArn ?? '');
  const missing = Math.max(0, DEMO_STOPPED_TASKS - ours.length);
  let stoppedTasksNote: string | undefined;
  if (missing > 0) {
    // awsvpc (Fargate) tasks need a subnet: the default VPC's, as the demo's load balancers use.
    const ec2 = new EC2Client({ region });
    let subnets: string[];
    let securityGroups: string[];
    try {
      const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
      const vpcId = vpcs.Vpcs?.[0]?.VpcId;
      if (!vpcId) throw new Error(`seedTriageDemo: no default VPC in ${region}`);
      const out = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
      subnets = (out.Subnets ?? []).slice(0, 2).map((s) => s.SubnetId!);
      const sgs = await ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'group-name', Values: ['default'] },
          ],
        }),
      );
      securityGroups = (sgs.SecurityGroups ?? []).slice(0, 1).map((g) => g.GroupId!);
    } finally {
      ec2.destroy();
    }
    // Demo data must not stop the stack from starting: an emulator that refuses RunTask (moto 5.2 fails with a 500 on
    // a Fargate task definition without container-level memory, unless scripts/moto/server.py corrects it) leaves
    // the demo without stopped tasks, said in the demo state.
    try {
      const run = await ecs.send(
        new RunTaskCommand({
          cluster,
          taskDefinition: svc.taskDefinition,
          count: missing,
          launchType: 'FARGATE',
          group,
          ...(deploymentId ? { startedBy: deploymentId } : {}),
          networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups, assignPublicIp: 'DISABLED' } },
        }),
      );
      for (const t of run.tasks ?? []) {
        await ecs.send(new StopTaskCommand({ cluster, task: t.taskArn, reason: TRIAGE_DEMO.stoppedReason }));
        ours.push(t.taskArn ?? '');
      }
    } catch (err) {
      stoppedTasksNote = `no stopped tasks seeded: RunTask failed (${(err as Error).name}: ${(err as Error).message.split('\n')[0]})`;
    }
  }

  return {
    region,
    cluster,
    service,
    logGroup: TRIAGE_DEMO.logGroup,
    logLinesAdded,
    stoppedTasks: ours,
    ...(stoppedTasksNote ? { stoppedTasksNote } : {}),
  };
}
