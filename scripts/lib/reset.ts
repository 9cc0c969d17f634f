// `npm run dev -- reset`: after a drill, puts the demo environment of the running `npm run dev` stack back to how a
// fresh start seeds it, without stopping anything: Temporal (its run history, the schedule) and the worker go on.
// It finds the stack by the record the stack writes once it is up (stack-record.ts), refuses while runbook runs are
// open (they would act on the fresh environment later: an approval, a scale-back timer, blue's standby), empties the
// emulator (moto's POST /moto-api/reset), seeds it with the code the start uses (demo-env.ts), makes the demo apps
// healthy again and switches the realistic layer's faults off — then prints what differed from the seed.
import { DescribeAlarmsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeServicesCommand,
  ListClustersCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
} from '@aws-sdk/client-ecs';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBClustersCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand } from '@aws-sdk/client-rds';
import {
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import path from 'node:path';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';
import { RUNBOOKS } from '../../api/runbooks';
import { RunbookStatusKey } from '../../api/search-attributes';
import { DEMO, seedDemoEnvironment, type DemoAppUrls } from './demo-env';
import { DEMO_BACKUPS, uploadDemoBackup } from './demo-backups';
import { httpOk } from './processes';
import { emulatorEnv } from './stack';
import { liveProcesses, readStackRecord, stackFileIn, stackProcessAlive, type StackRecord } from './stack-record';

/** A reset that did not happen (or did not finish), with what to do: printed as it is, exit code 1. */
export class ResetError extends Error {
  override name = 'ResetError';
}

export interface ResetOptions {
  stateDir: string;
  /** Reset although runbook runs are open. */
  force?: boolean;
  log?: (line: string) => void;
}

export async function resetDemoEnvironment(opts: ResetOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const stack = runningStack(opts.stateDir);
  const moto = stack.moto!;
  const apps = stack.apps!;
  if (!(await httpOk(`${moto}/moto-api/`).catch(() => false))) {
    throw new ResetError(
      `reset: the running stack's AWS emulator does not answer at ${moto} (see the moto log in its logs folder). ` +
        'Nothing was changed.',
    );
  }

  const open = await openRunbookRuns(stack, opts.force);
  if (open.length > 0 && !opts.force) {
    throw new ResetError(
      [
        `reset refused: ${open.length} runbook run${open.length > 1 ? 's are' : ' is'} still open on this stack, and ` +
          'would go on acting on the demo environment after the reset (an approval, a scale-back timer, blue’s standby):',
        ...open.map((r) => `  ${r.workflowId}  (${r.type}, ${r.status})`),
        'End them first — a cancel undoes what each run changed: temporal workflow cancel --workflow-id <id>',
        'or reset anyway (they stay open): npm run dev -- reset --force',
        'Nothing was changed.',
      ].join('\n'),
    );
  }

  // The seed's own code reads the emulator's address and credentials from the environment (as in `npm run dev`).
  Object.assign(process.env, emulatorEnv(moto));
  const aws = createAwsClients();
  try {
    log(`Resetting the demo environment of the stack started at ${stack.startedAt ?? '?'} (AWS emulator ${moto}) …`);
    const before = await readDemoState(aws, apps, stack.realistic);

    const started = Date.now();
    const res = await fetch(`${moto}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
    await res.body?.cancel();
    if (!res.ok) {
      throw new ResetError(
        `reset failed: the emulator answered ${res.status} to POST ${moto}/moto-api/reset. Nothing was changed.`,
      );
    }
    const demo = await seedDemoEnvironment(aws, apps, path.join(opts.stateDir, 'demo-env.json')).catch((err: Error) => {
      throw new ResetError(
        `reset failed half-way: the emulator was emptied, but seeding it again failed: ${err.message}. ` +
          'Run npm run dev -- reset again, or restart the stack (Ctrl-C, then npm run dev).',
      );
    });
    await makeAppsHealthy(apps);
    // The emulator's S3 was emptied too: a fresh pg_dump archive of the demo data (the example's RPO is 26h).
    const archive = stack.postgres
      ? await uploadDemoBackup(aws, stack.postgres).catch((err: Error) => {
          throw new ResetError(
            `reset failed half-way: the demo was seeded again, but uploading the pg_dump archive failed: ${err.message}. ` +
              'Run npm run dev -- reset again, or restart the stack (Ctrl-C, then npm run dev).',
          );
        })
      : undefined;
    const faultsOff = stack.realistic ? await realisticFaultsOff(stack.realistic) : undefined;
    const after = await readDemoState(aws, apps, stack.realistic);
    const took = ((Date.now() - started) / 1000).toFixed(1);

    const changes = describeChanges(before, after);
    log(`Emptied the AWS emulator and seeded the demo environment afresh in ${took} s.`);
    if (changes.length > 0) {
      log('What differed from the seed, and is now as a fresh start has it:');
      for (const line of changes) log(`  ${line}`);
    } else {
      log('Nothing differed from the seed (it was seeded afresh all the same).');
    }
    if (archive) log(`Demo pg_dump archive: s3://${DEMO_BACKUPS.bucket}/${archive} (a fresh one)`);
    if (faultsOff !== undefined) log(`Realistic layer: ${faultsOff}`);
    log(
      `Demo hosted zone: demo.example.com (${demo.hostedZone.id}, a new id); details in ${path.join(opts.stateDir, 'demo-env.json')}`,
    );
    log(
      'Left as they were: Temporal and its run history, the backup-verification schedule, the worker, ' +
        `PostgreSQL's demo data (runbooks only read it)${open.length > 0 ? `, and the ${open.length} open run(s) (--force)` : ''}.`,
    );
  } finally {
    aws.destroy();
  }
}

/** The stack recorded in `stateDir`, if it still runs; else a ResetError saying why. */
function runningStack(stateDir: string): StackRecord {
  const file = stackFileIn(stateDir);
  const stack = readStackRecord(stateDir);
  const start = 'Start the stack with `npm run dev` (in another terminal), then run this again.';
  if (!stack) {
    throw new ResetError(
      `reset: no running stack found: ${file} does not exist (a stack writes it once its banner says it is up; ` +
        `one started with RUNBOOKS_STATE_DIR needs the same RUNBOOKS_STATE_DIR here). ${start} Nothing was changed.`,
    );
  }
  const moto = stack.processes.find((p) => p.name === 'moto');
  if (!stackProcessAlive(stack) || !moto || !liveProcesses(stack).includes(moto)) {
    throw new ResetError(
      `reset: the stack recorded in ${file} is not running any more (its process ${stack.startedBy} or its emulator ` +
        `is gone: the file is left from a stack that was killed). ${start} Nothing was changed.`,
    );
  }
  if (!stack.moto || !stack.apps) {
    throw new ResetError(
      `reset: the running stack (process ${stack.startedBy}) did not record where its emulator answers: it was ` +
        'started by an older scripts/dev.ts. Restart it (Ctrl-C, then npm run dev). Nothing was changed.',
    );
  }
  return stack;
}

/** Runbook runs still open on the stack's Temporal (runs of every runbook, scheduled ones included). */
async function openRunbookRuns(
  stack: StackRecord,
  force: boolean | undefined,
): Promise<{ workflowId: string; type: string; status: string }[]> {
  if (!stack.temporal) return [];
  const { Client, Connection } = await import('@temporalio/client');
  let connection;
  try {
    connection = await Connection.connect({ address: stack.temporal.address, connectTimeout: 5_000 });
  } catch (err) {
    if (force) return [];
    throw new ResetError(
      `reset: could not ask Temporal at ${stack.temporal.address} for open runs (${(err as Error).message}). ` +
        'Reset without that check: npm run dev -- reset --force. Nothing was changed.',
    );
  }
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    const types = new Set(RUNBOOKS.map((r) => r.type));
    const open: { workflowId: string; type: string; status: string }[] = [];
    for await (const wf of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) {
      if (!types.has(wf.type)) continue; // resource locks and backup-verification children belong to a run listed
      open.push({
        workflowId: wf.workflowId,
        type: wf.type,
        status: wf.typedSearchAttributes.get(RunbookStatusKey) ?? 'running',
      });
    }
    return open;
  } finally {
    await connection.close();
  }
}

/** Each demo app's /health answers 200 again, as when the stack started. */
async function makeAppsHealthy(apps: DemoAppUrls): Promise<void> {
  for (const [name, url] of Object.entries(apps)) {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) }).catch((err: Error) => {
      throw new ResetError(
        `reset: the demo app ${name} does not answer at ${url} (${err.message}); the emulator was reset and seeded.`,
      );
    });
    await res.body?.cancel();
    if (res.status === 200) continue;
    const set = await fetch(`${url}/admin/health`, {
      method: 'POST',
      body: JSON.stringify({ healthy: true }),
      signal: AbortSignal.timeout(5_000),
    });
    await set.body?.cancel();
    if (!set.ok)
      throw new ResetError(`reset: the demo app ${name} (${url}) refused to be made healthy (${set.status})`);
  }
}

async function realisticFaultsOff(endpoint: string): Promise<string> {
  if (!(await httpOk(`${endpoint}/_realistic`).catch(() => false)))
    return `not answering at ${endpoint}; left as it is`;
  const res = await fetch(`${endpoint}/_realistic/faults`, { method: 'DELETE', signal: AbortSignal.timeout(5_000) });
  await res.body?.cancel();
  return res.ok ? 'every fault switched off' : `switching its faults off failed (${res.status})`;
}

/**
 * What a drill may change in the demo, one line per thing (`ECS us-east-1 demo-east/demo-api` → `2 tasks on
 * demo-api:2`): databases, manual snapshots, services and task-definition revisions, the demo zone's records, the
 * load balancers' weights, the DB secret's host, the alarms, the demo apps' health and the realistic layer's faults.
 */
export async function readDemoState(
  aws: AwsClients,
  apps: DemoAppUrls,
  realistic?: string,
): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  const regions = [DEMO.primaryRegion, DEMO.secondaryRegion];
  const last = (arn: string | undefined) => (arn ?? '').split(/[/:]/).slice(-1)[0] ?? '';
  const taskDef = (arn: string | undefined) => (arn ?? '').split('/').pop() ?? '';
  for (const region of regions) {
    const rds = aws.rds(region);
    for (const db of (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []) {
      const source = db.ReadReplicaSourceDBInstanceIdentifier;
      state.set(
        `RDS ${region} ${db.DBInstanceIdentifier}`,
        `${db.DBInstanceStatus}${source ? `, replica of ${last(source)}` : ''}` +
          // A Multi-AZ instance: the zone it serves from (a reboot with failover moves it; the seed puts it back).
          (db.MultiAZ ? `, Multi-AZ serving from ${db.AvailabilityZone ?? '?'}` : ''),
      );
    }
    // Aurora clusters: which member is the writer (auroraFailover moves it; the seed puts demo-aurora-1 back).
    for (const c of (await rds.send(new DescribeDBClustersCommand({}))).DBClusters ?? []) {
      const writer = c.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
      state.set(`Aurora ${region} ${c.DBClusterIdentifier}`, `${c.Status}, writer ${writer ?? '(none)'}`);
    }
    for (const snap of (await rds.send(new DescribeDBSnapshotsCommand({ SnapshotType: 'manual' }))).DBSnapshots ?? []) {
      state.set(`RDS snapshot ${region} ${snap.DBSnapshotIdentifier}`, `of ${snap.DBInstanceIdentifier}`);
    }

    const ecs = aws.ecs(region);
    for (const cluster of (await ecs.send(new ListClustersCommand({}))).clusterArns ?? []) {
      const arns = (await ecs.send(new ListServicesCommand({ cluster }))).serviceArns ?? [];
      if (arns.length === 0) continue;
      const described = await ecs.send(new DescribeServicesCommand({ cluster, services: arns }));
      for (const s of described.services ?? []) {
        if (s.status !== 'ACTIVE') continue;
        state.set(
          `ECS ${region} ${last(cluster)}/${s.serviceName}`,
          `${s.desiredCount} tasks on ${taskDef(s.taskDefinition)}`,
        );
      }
    }
    const revisions = (await ecs.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns ?? [];
    const byFamily = new Map<string, string[]>();
    for (const arn of revisions) {
      const [family] = taskDef(arn).split(':');
      byFamily.set(family!, [...(byFamily.get(family!) ?? []), taskDef(arn)]);
    }
    for (const [family, list] of byFamily) {
      state.set(`ECS ${region} task definition ${family}`, `ACTIVE ${list.sort(byRevision).join(', ')}`);
    }

    const elb = aws.elbv2(region);
    const groups = new Map(
      ((await elb.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? []).map((g) => [
        g.TargetGroupArn,
        g.TargetGroupName,
      ]),
    );
    for (const lb of (await elb.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []) {
      const listeners = await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
      for (const l of listeners.Listeners ?? []) {
        const forward = (l.DefaultActions ?? []).find((a) => a.Type === 'forward');
        const weights = (forward?.ForwardConfig?.TargetGroups ?? []).map(
          (g) => `${groups.get(g.TargetGroupArn) ?? last(g.TargetGroupArn)} ${g.Weight ?? 1}`,
        );
        state.set(
          `ALB ${region} ${lb.LoadBalancerName}:${l.Port}`,
          weights.length ? `forward ${weights.join(' / ')}` : 'no forward',
        );
      }
    }

    try {
      const secret = await aws.secrets(region).send(new GetSecretValueCommand({ SecretId: DEMO.secret }));
      const host = (JSON.parse(secret.SecretString ?? '{}') as { host?: string }).host;
      state.set(`Secret ${region} ${DEMO.secret}`, `host ${host ?? '(none)'}`);
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException') throw err;
    }

    await readAlarms(aws.cloudwatch(region), region, state);
  }

  const r53 = aws.route53();
  const zones = (await r53.send(new ListHostedZonesByNameCommand({ DNSName: DEMO.zone }))).HostedZones ?? [];
  for (const zone of zones.filter((z) => z.Name?.replace(/\.$/, '') === DEMO.zone)) {
    const records = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id, MaxItems: 300 }));
    for (const r of records.ResourceRecordSets ?? []) {
      if (r.Type === 'SOA' || r.Type === 'NS') continue;
      state.set(
        `DNS ${r.Name?.replace(/\.$/, '')} ${r.Type}${r.SetIdentifier ? ` [${r.SetIdentifier}]` : ''}`,
        recordText(r),
      );
    }
  }

  for (const [name, url] of Object.entries(apps)) {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    await res?.body?.cancel();
    state.set(
      `demo app ${name} (${url})`,
      res === undefined ? 'not answering' : res.status === 200 ? 'healthy' : `unhealthy (${res.status})`,
    );
  }
  if (realistic) {
    const res = await fetch(`${realistic}/_realistic`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    const body = res?.ok ? ((await res.json()) as { faults?: { name: string }[] }) : undefined;
    state.set('realistic layer faults', body ? body.faults?.map((f) => f.name).join(', ') || 'none' : 'not answering');
  }
  return state;
}

async function readAlarms(cw: CloudWatchClient, region: string, state: Map<string, string>) {
  const out = await cw.send(new DescribeAlarmsCommand({}));
  for (const a of out.MetricAlarms ?? []) state.set(`alarm ${region} ${a.AlarmName}`, `${a.StateValue}`);
}

const byRevision = (a: string, b: string) => Number(a.split(':').pop()) - Number(b.split(':').pop());

function recordText(r: ResourceRecordSet): string {
  const target = r.AliasTarget
    ? `alias ${r.AliasTarget.DNSName?.replace(/\.$/, '')}`
    : `${(r.ResourceRecords ?? []).map((v) => v.Value).join(', ')} (TTL ${r.TTL})`;
  const routing = [
    r.Weight !== undefined ? `weight ${r.Weight}` : '',
    r.Failover ? `failover ${r.Failover}` : '',
    r.HealthCheckId ? 'with health check' : '',
  ].filter(Boolean);
  return routing.length ? `${target}, ${routing.join(', ')}` : target;
}

/** Lines for what differs between two readings: changed, removed (not in the seed), put back (gone before). */
export function describeChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [key, was] of before) {
    const now = after.get(key);
    if (now === undefined) lines.push(`removed: ${key} (${was})`);
    else if (now !== was) lines.push(`${key}: ${was} → ${now}`);
  }
  for (const [key, now] of after) if (!before.has(key)) lines.push(`put back: ${key} (${now})`);
  return lines;
}
