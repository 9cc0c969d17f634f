// One driver per runbook for the chaos suite and the realistic fast subset: builds a uniquely named environment in
// the emulator, gives a valid input that needs no approval, and says what AWS must look like after a good run.
// Fixtures and checks use the plain emulator clients; the runbook's own calls go through the realistic layer.
import { CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  UpdateServiceCommand,
  type DeploymentConfiguration,
} from '@aws-sdk/client-ecs';
import type { Client } from '@temporalio/client';
import type { AwsClients } from '../../activities/aws-clients';
import { regionalFailoverWorkflowId } from '../../api/runbooks/regional-failover';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { startReplicaLagPublisher } from '../../scripts/lib/replica-lag';
import { makeCodeDeployService, makeService, makeZone, serviceState, zoneRecords } from '../helpers/env/aws-fixtures';
import { makeBlueGreenEnv } from '../helpers/env/blue-green-env';
import { fastHealth, makeFailoverEnv, PRIMARY_REGION } from '../helpers/env/failover-env';
import { GOOD_CHECKS, instancesWithPrefix, makeDbSecret, makeSourceDb } from '../helpers/env/restore-env';
import { dbZones, makeDbInstance } from '../helpers/env/multiaz-env';
import { makeAuroraCluster, writerOf as auroraWriter } from '../helpers/env/aurora-env';

export interface Prepared {
  input: Record<string, unknown>;
  /** Checks AWS after a run that completed (throws with what is wrong). */
  verify(aws: AwsClients): Promise<void>;
  /** Everything the run may change, for "nothing changed" / "compensated" comparisons. */
  snapshot(aws: AwsClients): Promise<unknown>;
  /** Things the world can do to the run's resources mid-run (FaultExpectation.act). */
  actions?: Record<string, (aws: AwsClients) => Promise<void>>;
  close(): Promise<void>;
}

export interface Driver {
  /** The runbook, as the rows name it; a variant of a runbook names itself, e.g. "ecsDeploy (CODE_DEPLOY)". */
  runbook: string;
  /** The workflow type when `runbook` names a variant (default: `runbook`). */
  type?: string;
  /** `client`/`taskQueue`: for runbooks that need an earlier run (a failback needs its failover). */
  prepare(aws: AwsClients, ctx: { client: Client; taskQueue: string }): Promise<Prepared>;
  /** The IDs of the child workflows a run of `input` starts (their steps are boundaries too). */
  children?(input: Record<string, unknown>, workflowId: string): string[];
}

const expectEqual = (what: string, actual: unknown, expected: unknown) => {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
};

/** The workflow type a driver runs. */
export const workflowType = (d: Driver) => d.type ?? d.runbook;

type ServiceRef = { region: string; cluster: string; service: string };

const describeService = async (aws: AwsClients, s: ServiceRef) =>
  (await aws.ecs(s.region).send(new DescribeServicesCommand({ cluster: s.cluster, services: [s.service] })))
    .services![0]!;

/** A revision's containers as `name=image`, and its environment as `name=value` (every container). */
async function revisionOf(aws: AwsClients, region: string, taskDefinition: string) {
  const td = (await aws.ecs(region).send(new DescribeTaskDefinitionCommand({ taskDefinition }))).taskDefinition;
  const containers = td?.containerDefinitions ?? [];
  return {
    images: containers.map((c) => `${c.name}=${c.image}`),
    environment: containers.flatMap((c) => (c.environment ?? []).map((e) => `${e.name}=${e.value}`)).sort(),
  };
}

/** The deployment configuration the ecsDeploy driver's service starts with (not AWS's defaults, so a put-back shows). */
const SERVICE_CONFIG: DeploymentConfiguration = {
  maximumPercent: 150,
  minimumHealthyPercent: 100,
  deploymentCircuitBreaker: { enable: false, rollback: false },
};

/** What ecsDeploy may change on a service: its revision, its count, its deployment configuration. */
async function deployState(aws: AwsClients, s: ServiceRef) {
  const svc = await describeService(aws, s);
  const c = svc.deploymentConfiguration;
  return {
    taskDefinition: svc.taskDefinition,
    desiredCount: svc.desiredCount,
    deploymentConfiguration: {
      maximumPercent: c?.maximumPercent,
      minimumHealthyPercent: c?.minimumHealthyPercent,
      deploymentCircuitBreaker: c?.deploymentCircuitBreaker
        ? { enable: c.deploymentCircuitBreaker.enable, rollback: c.deploymentCircuitBreaker.rollback }
        : undefined,
    },
  };
}

const health = (app: DemoApp) => ({ url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '20s' });

export const DRIVERS: Driver[] = [
  {
    runbook: 'emergencyScale',
    async prepare(aws) {
      const svc = await makeService(aws, { desiredCount: 2 });
      return {
        input: {
          ...svc.ref,
          desiredCount: 4,
          reason: 'chaos: traffic spike',
          approval: { required: false },
          stableTimeout: '2m',
        },
        verify: async (a) => expectEqual('desiredCount', (await serviceState(a, svc)).desiredCount, 4),
        snapshot: (a) => serviceState(a, svc),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'ecsRollback',
    async prepare(aws) {
      const svc = await makeService(aws, { desiredCount: 2, revisions: 2 });
      return {
        input: { ...svc.ref, reason: 'chaos: bad release', approval: { required: false }, stableTimeout: '2m' },
        verify: async (a) =>
          expectEqual('taskDefinition', (await serviceState(a, svc)).taskDefinition, svc.revisions[0]),
        snapshot: (a) => serviceState(a, svc),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'dnsFailover',
    async prepare(aws) {
      const app = await startDemoApp('chaos-dns');
      const zone = await makeZone(aws, (z) => [
        { Name: `api.${z}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.10' }] },
      ]);
      return {
        input: {
          hostedZone: zone.zoneName,
          record: { name: zone.recordName, type: 'A' },
          target: { values: ['203.0.113.20'] },
          verify: health(app),
          insyncTimeout: '2m',
          reason: 'chaos: primary down',
          approval: { required: false },
        },
        verify: async (a) => {
          const api = (await zoneRecords(a, zone.zoneId)).find((r) => r.Name?.startsWith('api.'));
          expectEqual('api record', api?.ResourceRecords, [{ Value: '203.0.113.20' }]);
        },
        snapshot: (a) => zoneRecords(a, zone.zoneId),
        close: () => app.close(),
      };
    },
  },
  {
    runbook: 'blueGreenDeploy',
    async prepare(aws) {
      const env = await makeBlueGreenEnv(aws, { router: 'route53' });
      let errors: NodeJS.Timeout | undefined;
      return {
        input: env.input({ steps: [50, 100], bakeTime: '2s', stableTimeout: '2m' }) as unknown as Record<
          string,
          unknown
        >,
        verify: async () => expectEqual('router', await env.weights(), { blue: 0, green: 100 }),
        // Registered task-definition revisions stay (AWS keeps them); the router and both services must come back.
        snapshot: async () => {
          const { router, blue, green } = await env.snapshot();
          return { router, blue, green };
        },
        // Green starts answering 5xx and keeps doing so: 40 a minute, over the alarm's threshold of 5 in each of its
        // three evaluation periods (the layer evaluates the alarm; one bad minute would not fire it). The minutes
        // before are filled in, and the current one is written every 2 s, so whichever minute the check falls in
        // has its datapoint.
        actions: {
          'green-5xx': async () => {
            for (const ago of [60_000, 120_000, 180_000]) await env.putMetric(40, ago);
            await env.putMetric(40, 0);
            errors = setInterval(() => void env.putMetric(40, 0).catch(() => undefined), 2_000);
          },
        },
        close: async () => {
          clearInterval(errors);
          await env.close();
        },
      };
    },
  },
  {
    runbook: 'regionalFailover',
    async prepare(aws) {
      let closeApps = async () => undefined as void;
      const env = await makeFailoverEnv(aws, { lag: [3, 4, 5], onFinished: (fn) => (closeApps = fn) });
      return {
        input: env.input({
          plannedSwitchover: { reason: 'chaos drill' },
          promoteTimeout: '2m',
          stableTimeout: '2m',
          insyncTimeout: '2m',
        }) as unknown as Record<string, unknown>,
        verify: async (a) =>
          expectEqual('secondary count', (await serviceState(a, env.secondaryService)).desiredCount, 2),
        snapshot: () => env.snapshot(),
        close: () => closeApps(),
      };
    },
  },
  {
    runbook: 'regionalFailback',
    async prepare(aws, { client, taskQueue }) {
      let closeApps = async () => undefined as void;
      const env = await makeFailoverEnv(aws, { lag: [3, 4, 5], onFinished: (fn) => (closeApps = fn) });
      const failover = env.input({
        plannedSwitchover: { reason: 'chaos drill' },
        promoteTimeout: '2m',
        stableTimeout: '2m',
        insyncTimeout: '2m',
      });
      const failoverWorkflowId = regionalFailoverWorkflowId(failover);
      await client.workflow.execute('regionalFailover', {
        taskQueue,
        workflowId: failoverWorkflowId,
        args: [failover],
      });
      const dnsBefore = (await env.snapshot()).dns;
      // RDS publishes ReplicaLag for the replica the failback creates; the emulator does not.
      const publisher = startReplicaLagPublisher(aws, { regions: [PRIMARY_REGION], intervalMs: 500 });
      return {
        input: {
          failoverWorkflowId,
          health: {
            primaryApp: fastHealth(env.apps.primary, '20s'),
            publicEndpoint: fastHealth(env.apps.public, '20s'),
          },
          replicaTimeout: '3m',
          promoteTimeout: '3m',
          stableTimeout: '2m',
          insyncTimeout: '2m',
          reason: 'chaos: fail back',
          approval: { required: false },
        },
        verify: async (a) => {
          expectEqual('primary count', (await serviceState(a, env.primaryService)).desiredCount, 2);
          if ((await zoneRecords(a, env.zone.zoneId)).length === 0) throw new Error('no DNS records left');
          void dnsBefore;
        },
        snapshot: () => env.snapshot(),
        close: async () => {
          publisher.stop();
          await closeApps();
        },
      };
    },
  },
  {
    runbook: 'snapshotRestore',
    async prepare(aws) {
      const region = 'ap-southeast-1';
      const src = await makeSourceDb(aws, region, { snapshots: 1 });
      const secretId = await makeDbSecret(aws, region);
      return {
        input: {
          region,
          dbInstance: src.id,
          restore: { snapshot: src.snapshots.at(-1)! },
          dataChecks: { secretId, checks: GOOD_CHECKS, timeout: '20s' },
          approval: { required: false },
          snapshotTimeout: '3m',
          restoreTimeout: '3m',
          stableTimeout: '2m',
          reason: 'chaos: restore the last good snapshot',
        },
        verify: async (a) => {
          // Switch mode none: the restored instance is left for people, next to the untouched source.
          const ids = await instancesWithPrefix(a, region, src.id);
          if (!ids.includes(src.id) || ids.length !== 2) throw new Error(`instances: ${ids.join(', ')}`);
        },
        // The source and whatever a run restored from it (named after it).
        snapshot: (a) => instancesWithPrefix(a, region, src.id),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'backupVerification',
    children: (input, workflowId) =>
      (input.databases as { dbInstance: string }[]).map((d) => `${workflowId}/verify-${d.dbInstance}`),
    async prepare(aws) {
      const region = 'ap-southeast-2';
      const dbs = [
        await makeSourceDb(aws, region, { snapshots: 1 }),
        await makeSourceDb(aws, region, { snapshots: 1 }),
      ];
      const secretId = await makeDbSecret(aws, region);
      return {
        input: {
          region,
          databases: dbs.map((d) => ({ dbInstance: d.id })),
          dataChecks: { secretId, checks: GOOD_CHECKS, timeout: '20s' },
          maxSnapshotAge: '1h',
          maxConcurrent: 2,
          restoreTimeout: '3m',
          reason: 'chaos: nightly restore test',
        },
        // No temporary instance is left (they are named verify-<database>-…).
        verify: async (a) => {
          const left = await instancesWithPrefix(a, region, 'verify-');
          const mine = left.filter((id) => dbs.some((d) => id.startsWith(`verify-${d.id.slice(0, 20)}`)));
          if (mine.length) throw new Error(`temporary instances left: ${mine.join(', ')}`);
        },
        snapshot: async (a) =>
          (await instancesWithPrefix(a, region, '')).filter((id) => dbs.some((d) => id.includes(d.id.slice(0, 20)))),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'ecsDeploy',
    async prepare(aws) {
      const svc = await makeService(aws, { desiredCount: 2 });
      await aws.ecs(svc.region).send(
        new UpdateServiceCommand({
          cluster: svc.cluster,
          service: svc.service,
          deploymentConfiguration: SERVICE_CONFIG,
        }),
      );
      const before = await deployState(aws, svc);
      return {
        input: {
          ...svc.ref,
          version: { image: 'example/app:3.0' },
          deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 50, circuitBreaker: true },
          reason: 'chaos: release 3.0',
          approval: { required: false },
          stableTimeout: '2m',
        },
        // On a new revision with only the image changed; the count and the service's own configuration as before.
        verify: async (a) => {
          const now = await deployState(a, svc);
          if (now.taskDefinition === svc.revisions[1]) throw new Error('still on the previous revision');
          const rev = await revisionOf(a, svc.region, now.taskDefinition!);
          expectEqual('images', rev.images, ['app=example/app:3.0']);
          expectEqual('environment', rev.environment, ['DATABASE_HOST=db.example']);
          expectEqual('desiredCount', now.desiredCount, before.desiredCount);
          expectEqual('deploymentConfiguration', now.deploymentConfiguration, before.deploymentConfiguration);
        },
        snapshot: (a) => deployState(a, svc),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'ecsDeploy (CODE_DEPLOY)',
    type: 'ecsDeploy',
    async prepare(aws) {
      const svc = await makeCodeDeployService(aws, { revisions: 1 });
      return {
        input: {
          ...svc.ref,
          version: { image: 'example/app:3.0' },
          reason: 'chaos: release 3.0 through CodeDeploy',
          approval: { required: false },
          stableTimeout: '2m',
        },
        verify: async (a) => {
          const now = await serviceState(a, svc);
          if (now.taskDefinition === svc.revisions[0]) throw new Error('still on the previous revision');
          expectEqual('images', (await revisionOf(a, svc.region, now.taskDefinition)).images, ['app=example/app:3.0']);
          expectEqual('desiredCount', now.desiredCount, 2);
        },
        snapshot: async (a) => {
          const { taskDefinition, desiredCount } = await serviceState(a, svc);
          return { taskDefinition, desiredCount };
        },
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'ecsRestart',
    async prepare(aws) {
      const svc = await makeService(aws, { desiredCount: 2 });
      return {
        input: {
          ...svc.ref,
          environment: { FEATURE_X: 'on' },
          reason: 'chaos: flip FEATURE_X (restart on a new revision)',
          approval: { required: false },
          stableTimeout: '2m',
        },
        // On a new revision with the variable (and what it had), the desired count unchanged.
        verify: async (a) => {
          const now = await serviceState(a, svc);
          if (now.taskDefinition === svc.revisions[1]) throw new Error('still on the previous revision');
          const rev = await revisionOf(a, svc.region, now.taskDefinition);
          expectEqual('environment', rev.environment, ['DATABASE_HOST=db.example', 'FEATURE_X=on']);
          expectEqual('images', rev.images, ['app=example/app:2.0']);
          expectEqual('desiredCount', now.desiredCount, 2);
        },
        snapshot: async (a) => {
          const { taskDefinition, desiredCount } = await serviceState(a, svc);
          return { taskDefinition, desiredCount };
        },
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'rdsRebootFailover',
    async prepare(aws) {
      const region = PRIMARY_REGION;
      const dbInstance = await makeDbInstance(aws, region, { multiAz: true });
      const secretId = await makeDbSecret(aws, region);
      const before = await dbZones(aws, region, dbInstance);
      return {
        input: {
          region,
          dbInstance,
          sqlProbe: { secretId, checks: [GOOD_CHECKS[0]!] },
          reason: 'chaos: last resort, fail over to the standby',
          approval: { required: false },
          failoverTimeout: '2m',
        },
        // Serving from its former standby's zone, the standby now where it served.
        verify: async (a) => {
          expectEqual('zones', await dbZones(a, region, dbInstance), {
            status: 'available',
            az: before.standby,
            standby: before.az,
          });
        },
        snapshot: (a) => dbZones(a, region, dbInstance),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'auroraFailover',
    async prepare(aws) {
      const region = PRIMARY_REGION;
      const c = await makeAuroraCluster(aws, region, [
        { tier: 1, az: `${region}b`, lagMs: 20 },
        { tier: 2, az: `${region}c`, lagMs: 5 },
      ]);
      const secretId = await makeDbSecret(aws, region);
      const target = c.members[1]!; // the best promotion tier
      return {
        input: {
          region,
          cluster: c.id,
          maxReplicaLag: '1s',
          sqlProbe: { secretId, checks: [GOOD_CHECKS[0]!] },
          reason: 'chaos: the writer is unreachable, fail over to a reader',
          approval: { required: false },
          failoverTimeout: '2m',
        },
        // The reader with the best tier is the writer now.
        verify: async (a) => expectEqual('writer', await auroraWriter(a, c), target),
        snapshot: (a) => auroraWriter(a, c),
        close: async () => undefined,
      };
    },
  },
  {
    runbook: 'triage',
    async prepare(aws) {
      const svc = await makeService(aws, { desiredCount: 2 });
      const logGroup = `/ecs/${svc.service}`;
      await aws.logs(svc.region).send(new CreateLogGroupCommand({ logGroupName: logGroup }));
      const before = await serviceState(aws, svc);
      return {
        input: {
          ...svc.ref,
          logs: { logGroup, filterPattern: 'ERROR', minutes: 15 },
          alarms: { prefix: svc.service },
          recentDeploymentWindow: '2h',
          stoppedTasks: 5,
          reason: 'chaos: API 5xx since the deploy',
        },
        // Read only: the service as it was.
        verify: async (a) => expectEqual('service', await serviceState(a, svc), before),
        snapshot: (a) => serviceState(a, svc),
        close: async () => undefined,
      };
    },
  },
];

export const driver = (runbook: string) => DRIVERS.find((d) => d.runbook === runbook)!;
