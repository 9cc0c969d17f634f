// triage end to end: real dev server, real worker, a service built in the emulator with crashed tasks (as AWS shows a
// service's tasks), an alarm in ALARM and error lines in its logs. The run must name all of it, recommend the right
// runbook with an input that runbook accepts — and change nothing (the emulator's state read back before and after,
// and, through the realistic layer, no mutating call at all).
import { DescribeAlarmsCommand, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  FilterLogEventsCommand,
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
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import { RUNBOOK } from '../../api/runbooks';
import type { TriageInput, TriageResult, TriageStoppedTask } from '../../api/runbooks/triage';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { ensureCluster, ensureDbInstance, ensureService } from '../../scripts/lib/fixtures';
import { makeService } from '../helpers/env/aws-fixtures';
import { accessDenied, withFaultyWorker } from '../helpers/proxies/aws-proxy';
import { withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, testClients, uid, withWorker } from '../helpers/temporal';

const region = 'us-east-1';
const CRASH = 'Essential container in task exited';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('triage-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

/** The default VPC's subnets and security group: what an awsvpc (Fargate) task needs. */
async function network(): Promise<{ subnets: string[]; securityGroups: string[] }> {
  const ec2 = new EC2Client({ region });
  try {
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
    const vpcId = vpcs.Vpcs![0]!.VpcId!;
    const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
    const sgs = await ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'group-name', Values: ['default'] },
        ],
      }),
    );
    return {
      subnets: subnets.Subnets!.slice(0, 2).map((s) => s.SubnetId!),
      securityGroups: sgs.SecurityGroups!.slice(0, 1).map((g) => g.GroupId!),
    };
  } finally {
    ec2.destroy();
  }
}

interface Scene {
  id: string;
  ref: { region: string; cluster: string; service: string };
  family: string;
  alarm: string;
  logGroup: string;
  db: string;
}

/**
 * A service on revision 2 of its family whose tasks crash: three tasks started as ECS starts a service's (group
 * `service:<name>`, startedBy its deployment id) and stopped with AWS's crash reason; one task of another service in
 * the same cluster, stopped too (the emulator lists a cluster's tasks whatever the serviceName: triage must leave it
 * out); an alarm in ALARM; error and info lines in its log group; an available database. The task definitions give
 * their container a memory (the emulator's RunTask needs one).
 */
async function crashingScene(aws: AwsClients): Promise<Scene> {
  const id = uid('tri');
  const ecs = aws.ecs(region);
  const cluster = `c-${id}`;
  const family = `f-${id}`;
  await ensureCluster(ecs, cluster);
  const revisions: string[] = [];
  for (const image of ['example/app:1.0', 'example/app:2.0']) {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family,
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        containerDefinitions: [{ name: 'app', image, essential: true, memory: 512 }],
      }),
    );
    revisions.push(out.taskDefinition!.taskDefinitionArn!);
  }
  await ensureService(ecs, { cluster, service: id, taskDefinition: revisions[1]!, desiredCount: 2 });
  const svc = (await ecs.send(new DescribeServicesCommand({ cluster, services: [id] }))).services![0]!;
  const deploymentId = svc.deployments!.find((d) => d.status === 'PRIMARY')!.id!;
  const awsvpcConfiguration = await network();
  const crash = async (group: string, count: number, startedBy?: string) => {
    const run = await ecs.send(
      new RunTaskCommand({
        cluster,
        taskDefinition: revisions[1],
        count,
        launchType: 'FARGATE',
        group,
        ...(startedBy ? { startedBy } : {}),
        networkConfiguration: { awsvpcConfiguration },
      }),
    );
    for (const t of run.tasks!) await ecs.send(new StopTaskCommand({ cluster, task: t.taskArn, reason: CRASH }));
  };
  await crash(`service:${id}`, 3, deploymentId);
  await crash('service:some-other-service', 1, 'ecs-svc/0000000000000000001');

  const cw = aws.cloudwatch(region);
  const alarm = `${id}-5xx`;
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: alarm,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Dimensions: [{ Name: 'LoadBalancer', Value: `app/${id}/0123456789abcdef` }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    }),
  );
  await cw.send(
    new SetAlarmStateCommand({
      AlarmName: alarm,
      StateValue: 'ALARM',
      StateReason: 'Threshold Crossed: 1 datapoint [57.0] was greater than the threshold (10.0).',
    }),
  );

  const logs = aws.logs(region);
  const logGroup = `/ecs/${id}`;
  await logs.send(new CreateLogGroupCommand({ logGroupName: logGroup }));
  await logs.send(new CreateLogStreamCommand({ logGroupName: logGroup, logStreamName: 'app/app/1' }));
  const now = Date.now();
  const lines = [
    'INFO  listening on :8080',
    'ERROR connect ECONNREFUSED 10.0.3.12:5432',
    'INFO  GET /health 200',
    'TypeError: Cannot read properties of undefined (reading "id") — Exception in handler',
    'ERROR process exiting with code 1',
  ];
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: logGroup,
      logStreamName: 'app/app/1',
      logEvents: lines.map((message, i) => ({ timestamp: now - 60_000 + i * 1_000, message })),
    }),
  );

  const db = `db-${id}`;
  await ensureDbInstance(aws, region, db, { masterPassword: 'not-a-secret-at-all' });
  return { id, ref: { region, cluster, service: id }, family, alarm, logGroup, db };
}

const inputFor = (s: Scene): TriageInput => ({
  ...s.ref,
  reason: 'API 5xx since the 2.0 deploy (INC-77)',
  logs: { logGroup: s.logGroup, minutes: 15 },
  alarms: { prefix: s.id },
  database: { dbInstance: s.db },
  endpoint: { url: app.healthUrl, timeout: '2s' },
});

/** Everything triage could touch, read back through the SDK: equal before and after means nothing changed. */
async function snapshot(aws: AwsClients, s: Scene): Promise<string> {
  const ecs = aws.ecs(region);
  const services = await ecs.send(new DescribeServicesCommand({ cluster: s.ref.cluster, services: [s.ref.service] }));
  const taskDefinitions = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: s.family }));
  const taskArns = [
    ...((await ecs.send(new ListTasksCommand({ cluster: s.ref.cluster, desiredStatus: 'STOPPED' }))).taskArns ?? []),
    ...((await ecs.send(new ListTasksCommand({ cluster: s.ref.cluster, desiredStatus: 'RUNNING' }))).taskArns ?? []),
  ].sort();
  const tasks = taskArns.length
    ? ((await ecs.send(new DescribeTasksCommand({ cluster: s.ref.cluster, tasks: taskArns }))).tasks ?? []).map((t) => [
        t.taskArn,
        t.taskDefinitionArn,
        t.lastStatus,
        t.desiredStatus,
        t.stoppedReason,
        t.group,
        t.startedBy,
      ])
    : [];
  const alarms = await aws.cloudwatch(region).send(new DescribeAlarmsCommand({ AlarmNamePrefix: s.id }));
  const events = await aws.logs(region).send(new FilterLogEventsCommand({ logGroupName: s.logGroup }));
  const dbs = await aws.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: s.db }));
  return JSON.stringify({
    services: services.services?.map((x) => ({ ...x, events: undefined })),
    taskDefinitions: taskDefinitions.taskDefinitionArns,
    tasks,
    alarms: alarms.MetricAlarms?.map((a) => [a.AlarmName, a.StateValue, a.StateReason]),
    events: events.events?.map((e) => [e.timestamp, e.message]),
    dbs: dbs.DBInstances?.map((d) => [d.DBInstanceIdentifier, d.DBInstanceStatus, d.DBInstanceClass, d.Endpoint]),
  });
}

describe('triage', () => {
  it('names the deployments, stop reasons, alarm and log errors, recommends ecsRollback with a valid input, and changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const s = await crashingScene(aws);
      const before = await snapshot(aws, s);
      const workflowId = uid('triage');
      const handle = await client.workflow.start('triage', { taskQueue, workflowId, args: [inputFor(s)] });
      const report = (await handle.result()) as RunbookReport<TriageResult>;
      expect(report.outcome).toBe('succeeded');
      const r = report.result!;

      // Deployments: the PRIMARY on revision 2, with its age.
      expect(r.deployments[0]).toMatchObject({
        status: 'PRIMARY',
        taskDefinition: expect.stringContaining(`${s.family}:2`),
      });
      expect(r.deployments[0]!.age).toMatch(/^(\d+(ms|s|m|h|d))+$/);
      expect(r.service).toMatchObject({ previousRevision: expect.stringContaining(`${s.family}:1`) });

      // Stopped tasks: the service's three, with AWS's reason; not the other service's.
      const stopped = r.stoppedTasks as TriageStoppedTask[];
      expect(stopped).toHaveLength(3);
      for (const t of stopped) {
        expect(t).toMatchObject({ reason: CRASH, deliberate: false });
        expect(t.taskDefinition).toContain(`${s.family}:2`);
      }
      expect(r.alarms).toEqual([
        expect.objectContaining({ name: s.alarm, reason: expect.stringContaining('Threshold') }),
      ]);
      // Three of the five lines match "?ERROR ?Error ?Exception" (the emulator lets every line through; triage checks).
      expect(r.logs).toMatchObject({ logGroup: s.logGroup, count: 3, capped: false });
      expect((r.logs as { newest: { message: string }[] }).newest[0]!.message).toBe(
        'ERROR process exiting with code 1',
      );
      expect(r.database).toMatchObject({ dbInstance: s.db, found: true, status: 'available' });
      expect(r.endpoint).toMatchObject({ healthy: true, attempts: 3, ok: 3 });
      expect(r.metrics).toEqual({ cpuPercent: null, memoryPercent: null });

      // Findings an on-call engineer can act on, and the recommendation with a complete input.
      expect(r.findings.join('\n')).toContain(`3 tasks of ${s.family}:2 stopped unexpectedly: ${CRASH}`);
      expect(r.findings.join('\n')).toContain(`Alarm ${s.alarm} is in ALARM`);
      expect(r.findings.join('\n')).toMatch(/3 log lines in \/ecs\/.* matched/);
      expect(r.recommendation.runbook).toBe('ecsRollback');
      expect(r.recommendation.why).toMatch(new RegExp(`${s.family}:2 was deployed \\S+ ago and 3 tasks crashed`));
      const parsed = RUNBOOK.ecsRollback.schema.safeParse(r.recommendation.input);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      expect(r.recommendation.input).toMatchObject({ ...s.ref, onlyIfDeployedWithin: '2h' });
      expect(String(r.recommendation.input!.reason)).toContain('3 tasks crashed');

      // Read only: no mutating step, the incident report carries the findings, and AWS is as it was.
      expect(report.timeline.some((step) => step.mutating)).toBe(false);
      expect(report.timeline.map((step) => step.name)).toEqual(
        expect.arrayContaining([
          'Read the service and its deployments',
          'Read the newest stopped tasks',
          'Read alarms in ALARM',
          `Count error lines in ${s.logGroup}`,
          `Read database ${s.db}`,
          `Probe ${app.healthUrl}`,
        ]),
      );
      expect(report.incidentReport).toContain('**Recommendation:** `ecsRollback`');
      expect(report.incidentReport).toContain('"onlyIfDeployedWithin": "2h"');
      const status = await handle.query(statusQuery);
      expect(status.steps.some((step) => step.name.startsWith('Recommendation: ecsRollback'))).toBe(true);
      expect(await snapshot(aws, s)).toBe(before);
    });
  });

  it('through the realistic layer: not one mutating AWS call', async () => {
    await withRealisticWorker({}, async ({ client, taskQueue, aws, layer }) => {
      const s = await crashingScene(aws);
      const before = await snapshot(aws, s);
      const handle = await client.workflow.start('triage', {
        taskQueue,
        workflowId: uid('triage'),
        args: [inputFor(s)],
      });
      const report = (await handle.result()) as RunbookReport<TriageResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.result!.stoppedTasks).toHaveLength(3);
      // The layer saw the run's reads (so the empty list below means something), and not one call that changes AWS.
      const operations = new Set(layer.calls().map((c) => c.operation));
      for (const read of ['DescribeServices', 'ListTasks', 'DescribeTasks', 'DescribeAlarms', 'FilterLogEvents']) {
        expect(operations).toContain(read);
      }
      expect(layer.mutations()).toEqual([]);
      expect(await snapshot(aws, s)).toBe(before);
    });
  });

  it('a healthy service: nothing wrong, no runbook recommended', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const handle = await client.workflow.start('triage', {
        taskQueue,
        workflowId: uid('triage'),
        args: [{ ...svc.ref, alarms: { prefix: svc.service }, endpoint: { url: app.healthUrl } }],
      });
      const report = (await handle.result()) as RunbookReport<TriageResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.result!.stoppedTasks).toEqual([]);
      expect(report.result!.alarms).toEqual([]);
      expect(report.result!.recommendation).toEqual({
        runbook: 'none',
        why: `nothing wrong found with ${svc.service}.`,
      });
      expect(report.result!.findings.at(-1)).toContain(`Nothing wrong found with ${svc.service}`);
    });
  });

  it('a refused read (no logs:FilterLogEvents, no ecs:ListTasks) is recorded as unreadable; the triage goes on', async () => {
    const { aws } = await testClients();
    const s = await crashingScene(aws);
    await withFaultyWorker(
      [accessDenied('FilterLogEvents', 'logs:FilterLogEvents'), accessDenied('ListTasks', 'ecs:ListTasks')],
      async ({ client, taskQueue }) => {
        const handle = await client.workflow.start('triage', {
          taskQueue,
          workflowId: uid('triage'),
          args: [inputFor(s)],
        });
        const report = (await handle.result()) as RunbookReport<TriageResult>;
        const r = report.result!;
        expect(r.logs).toEqual({ unreadable: expect.stringMatching(/^AccessDeniedException: .*logs:FilterLogEvents/) });
        expect(r.stoppedTasks).toEqual({
          unreadable: expect.stringMatching(/^AccessDeniedException: .*ecs:ListTasks/),
        });
        expect(r.findings.join('\n')).toContain('The logs could not be read (AccessDeniedException');
        expect(report.timeline.find((step) => step.name === 'Read the newest stopped tasks')?.outcome).toBe('failed');
        // What could be read still counts: the alarm of a recent deployment → ecsRollback.
        expect(r.alarms).toHaveLength(1);
        expect(r.recommendation.runbook).toBe('ecsRollback');
      },
    );
  });

  it('a missing service fails the run (ResourceNotFound), and bad input fails naming the field', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const svc = await makeService(aws);
      const missing = uid('triage');
      await client.workflow.start('triage', {
        taskQueue,
        workflowId: missing,
        args: [{ ...svc.ref, service: 'no-such-service' }],
      });
      const gone = await expectFailure(client, missing);
      expect(gone.type).toBe(FailureType.ResourceNotFound);
      expect(gone.message).toContain('no-such-service');
      expect(gone.message).toContain('Nothing was changed');

      const bad = uid('triage');
      await client.workflow.start('triage', {
        taskQueue,
        workflowId: bad,
        args: [{ ...svc.ref, stoppedTasks: 0, logs: { filterPattern: 'ERROR' } }],
      });
      const failure = await expectFailure(client, bad);
      expect(failure.type).toBe(FailureType.InvalidInput);
      expect(failure.message).toContain('input.stoppedTasks');
      expect(failure.message).toContain('input.logs.logGroup');
      expect(failure.message).toContain('Nothing was changed');
    });
  });
});
