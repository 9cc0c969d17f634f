// The realistic AWS layer: an HTTP proxy in front of moto that gives resources AWS's state machines with compressed
// time, and AWS's faults on demand. moto answers every call with the end state at once; this layer remembers what
// each mutating call started and rewrites later answers to show the phase the resource is in (RDS `creating`,
// `modifying`, `renaming`, `deleting`; ECS deployments IN_PROGRESS with tasks starting one by one; Route 53 PENDING;
// ELB targets `initial`), and answers faults by name (machines.ts FAULTS). CodeDeploy ECS blue/green deployments are
// played out by codedeploy.ts; ECS refuses a task-definition change on a CODE_DEPLOY service, as AWS does, and lists
// the running tasks of the services it has seen (moto runs none). It counts every call and every effective
// mutation, so a test can prove each change was made exactly once. See README.md beside it.
//
// Control: GET /_realistic (faults, clock, counts), PUT /_realistic/faults (a JSON list of faults, replacing the
// current ones), DELETE /_realistic/faults.
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ECS_DRAIN,
  FAILED_DEPLOYMENT_LISTED,
  ECS_TASK_START,
  ELB_TARGET_INITIAL,
  FAULTS,
  phaseAt,
  phasesEnd,
  RDS_INSTANCE,
  RDS_NOT_FOUND_AFTER_CREATE,
  RDS_RENAME_GAP,
  RDS_SNAPSHOT,
  ROUTE53_PENDING,
  type Fault,
  type FaultName,
  type Phase,
} from './machines';
import { evaluable, evaluateAlarm, type Datapoint, type MetricAlarm } from './alarms';
import { createCodeDeployModel, type TaskSet } from './codedeploy';
import { createRdsRebootModel } from './rds-reboot';
import { createAuroraModel } from './aurora';
import { createGlobalClusterModel } from './global-cluster';
import {
  errorAnswer,
  isMutating,
  readCall,
  upstreamJson,
  withXmlValue,
  xmlBlocks,
  xmlValue,
  type Answer,
  type AwsCall,
} from './wire';

export interface LayerOptions {
  /** moto's endpoint. */
  upstream: string;
  port?: number;
  /** How many milliseconds one AWS minute takes here (default 500: a 10-minute restore takes 5 s). */
  minuteMs?: number;
  /**
   * One AWS minute for the resource an RDS reboot or an ECS deployment names (its DB instance id; its service name),
   * where it is not `minuteMs`: a benchmark makes one resource's phases last exactly the time it measures with.
   */
  minuteMsFor?: (resource: string) => number | undefined;
  /** Told of every call once answered, with its parameters (a benchmark counts the calls per resource). */
  onCall?: (call: AwsCall, record: CallRecord) => void;
  faults?: Fault[];
}

export interface CallRecord {
  at: string;
  service: string;
  region: string;
  operation: string;
  /** The resource the call names, when it names one (DB instance, service, hosted zone, …). */
  resource?: string;
  status: number;
  /** The fault that answered it instead of AWS. */
  fault?: FaultName;
}

/** When a fault took effect in AWS (for "time to notice": a run's reaction is measured from here). */
export interface FaultEvent {
  fault: FaultName;
  region: string;
  resource?: string;
  at: number;
}

export interface RealisticLayer {
  endpoint: string;
  /** The moments faults took effect, in order. */
  faultEvents(): FaultEvent[];
  minuteMs: number;
  setFaults(faults: Fault[]): void;
  faults(): Fault[];
  /** Every call seen, in order. */
  calls(): CallRecord[];
  /** Mutating calls that took effect (2xx from AWS), in order. */
  mutations(): CallRecord[];
  close(): Promise<void>;
}

interface DbTimeline {
  phases: Phase[];
  startedAt: number;
  /** One AWS minute for this resource, when it is not the layer's (LayerOptions.minuteMsFor). */
  minuteMs?: number;
  /** What it ends in instead of moto's status (restore-fails). */
  finalStatus?: string;
  /** Kept in answers until the phases end (a promotion clears it only at its end). */
  replicaSource?: string;
  /** Answers DBInstanceNotFound until then. */
  hiddenUntil?: number;
}

interface EcsDeployment {
  kind: 'deploy' | 'scale';
  id: string;
  startedAt: number;
  taskDefinition: string;
  previousTaskDefinition: string;
  desired: number;
  previousRunning: number;
  /** One AWS minute for this service, when it is not the layer's (LayerOptions.minuteMsFor). */
  minuteMs?: number;
  fault?: 'deploy-circuit-breaker' | 'tasks-crash-loop';
  /** circuit breaker: when it failed and rolled back. */
  failedAt?: number;
  rolledBack?: boolean;
  /** The generation of the tasks it starts (the serving one's for a count change). */
  generation: number;
}

/** A task the layer showed in ListTasks (moto runs none for a service). */
interface SyntheticTask {
  region: string;
  cluster: string;
  service: string;
  serviceKey: string;
  generation: number;
  index: number;
  taskDefinition: string;
  since: number;
}

const ACCOUNT = '123456789012';

const NOT_FOUND_XML = (id: string): [number, string, string] => [
  404,
  'DBInstanceNotFound',
  `DBInstance ${id} not found.`,
];

export async function startRealisticLayer(opts: LayerOptions): Promise<RealisticLayer> {
  const minuteMs = opts.minuteMs ?? 500;
  let faults: (Fault & { left: number })[] = [];
  const setFaults = (list: Fault[]) => {
    faults = list.map((f) => ({
      ...f,
      left:
        f.times ?? (['throttle-storm', 'region-outage', 'route53-slow', 'rename-lag'].includes(f.name) ? Infinity : 1),
    }));
  };
  setFaults(opts.faults ?? []);
  const calls: CallRecord[] = [];
  const events: FaultEvent[] = [];
  const happened = (fault: FaultName, call: AwsCall, at: number, resource?: string) =>
    events.push({ fault, region: call.region, at, ...(resource ? { resource } : {}) });

  const dbs = new Map<string, DbTimeline>();
  const dbXml = new Map<string, string>(); // last <DBInstance> block seen, per region/id
  const rdsReboots = createRdsRebootModel(); // Multi-AZ failovers: the zones from before, until the reboot ends
  const aurora = createAuroraModel(minuteMs); // Aurora cluster failovers: failing-over, the writer flag held back
  const globalClusters = createGlobalClusterModel(minuteMs); // global switchovers/failovers: FailoverState, phases
  const deleted = new Map<string, { xml: string; until: number }>();
  const snapshots = new Map<string, number>(); // region/snapshot id → started
  const services = new Map<string, EcsDeployment>(); // region/cluster/service
  const serviceSeen = new Map<string, { taskDefinition: string; runningCount: number }>();
  const changes = new Map<string, number>(); // change id → pending until
  const targets = new Map<string, number>(); // target group arn/target id → initial until
  const alarmStates = new Map<string, { state: string; since: number }>(); // region/alarm → evaluated state, since

  const now = () => Date.now();
  const key = (...parts: (string | undefined)[]) => parts.join('/');

  // The tasks serving each service (region/cluster/service): a new generation of task ARNs after each deployment.
  const fleets = new Map<string, TaskSet>();
  const syntheticTasks = new Map<string, SyntheticTask>(); // task ARN → task
  const fleetHooks = {
    serving(k: string, taskDefinition: string, count: number): TaskSet {
      const f = fleets.get(k);
      if (f && f.taskDefinition === taskDefinition) return f;
      // None yet, or moto's service was changed behind the layer's back: a new generation.
      const next = { generation: (f?.generation ?? 0) + (f ? 1 : 0), taskDefinition, count, since: now() };
      fleets.set(k, next);
      return next;
    },
    commit(k: string, set: TaskSet): void {
      fleets.set(k, set);
      // CodeDeploy moved the service in moto; the layer has not necessarily read it since.
      serviceSeen.set(k, {
        taskDefinition: set.taskDefinition,
        runningCount: serviceSeen.get(k)?.runningCount ?? set.count,
      });
    },
  };

  /** The first armed fault of that name for this call, spent by one. */
  const take = (name: FaultName, call: AwsCall): (Fault & { left: number }) | undefined => {
    const f = faults.find((x) => x.name === name && x.left > 0 && (!x.region || x.region === call.region));
    if (f) f.left--;
    return f;
  };

  /** A fault that answers the call instead of AWS, or undefined. */
  const faultAnswer = (call: AwsCall): { answer: Answer; fault: FaultName } | undefined => {
    const outage = faults.find((f) => f.name === 'region-outage' && f.left > 0 && f.region === call.region);
    if (outage) {
      if (!events.some((e) => e.fault === 'region-outage' && e.region === call.region)) {
        happened('region-outage', call, now());
      }
      return {
        fault: 'region-outage',
        answer: errorAnswer(call, 503, 'ServiceUnavailable', `Service unavailable in ${call.region}`),
      };
    }
    const denied = faults.find((f) => f.name === 'access-denied' && f.left > 0 && f.operation === call.operation);
    if (denied) {
      denied.left--;
      happened('access-denied', call, now(), call.operation);
      const action = `${call.service === 'monitoring' ? 'cloudwatch' : call.service}:${call.operation}`;
      return {
        fault: 'access-denied',
        answer: errorAnswer(
          call,
          call.protocol === 'json' ? 400 : 403,
          call.protocol === 'json' ? 'AccessDeniedException' : 'AccessDenied',
          `User: arn:aws:iam::123456789012:user/runbooks is not authorized to perform: ${action}`,
        ),
      };
    }
    const storm = faults.find((f) => f.name === 'throttle-storm' && f.left > 0);
    if (storm && Math.random() < (storm.rate ?? 0.3)) {
      if (!events.some((e) => e.fault === 'throttle-storm')) happened('throttle-storm', call, now());
      // Mostly throttling, sometimes a 503, as AWS does under load.
      return Math.random() < 0.8
        ? {
            fault: 'throttle-storm',
            answer: errorAnswer(
              call,
              400,
              call.protocol === 'json' ? 'ThrottlingException' : 'Throttling',
              'Rate exceeded',
            ),
          }
        : { fault: 'throttle-storm', answer: errorAnswer(call, 503, 'ServiceUnavailable', 'Service unavailable') };
    }
    return undefined;
  };

  const codedeploy = createCodeDeployModel({
    upstream: opts.upstream,
    minuteMs,
    now,
    take,
    happened,
    fleet: fleetHooks,
  });

  // ---------- RDS ----------

  /** The status to show (undefined: moto's end state), and whether AWS would answer NotFound for it now. */
  const dbStatus = (k: string, t = now()): { status?: string; hidden: boolean; replicaSource?: string } => {
    const tl = dbs.get(k);
    if (!tl) return { hidden: false };
    // Before its phases start (a rename's gap) it shows the first one, where it is shown at all.
    const phase = phaseAt(tl.phases, tl.startedAt, Math.max(t, tl.startedAt), tl.minuteMs ?? minuteMs);
    const running = phase !== undefined;
    return {
      hidden: tl.hiddenUntil !== undefined && t < tl.hiddenUntil,
      status: phase ?? tl.finalStatus,
      ...(running && tl.replicaSource ? { replicaSource: tl.replicaSource } : {}),
    };
  };

  const rewriteDbBlock = (region: string, block: string): string => {
    const id = xmlValue(block, 'DBInstanceIdentifier') ?? '';
    const s = dbStatus(key(region, id));
    let out = rdsReboots.rewrite(key(region, id), block, now());
    out = aurora.rewriteInstance(region, out, now());
    if (s.status) out = withXmlValue(out, 'DBInstanceStatus', s.status);
    if (s.replicaSource && !out.includes('<ReadReplicaSourceDBInstanceIdentifier>')) {
      out = out.replace(
        /<\/DBInstance>$/,
        `<ReadReplicaSourceDBInstanceIdentifier>${s.replicaSource}</ReadReplicaSourceDBInstanceIdentifier></DBInstance>`,
      );
    }
    return out;
  };

  const dbResponse = (blocks: string[]) =>
    `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult>` +
    `<DBInstances>${blocks.join('')}</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>` +
    `${randomUUID()}</RequestId></ResponseMetadata></DescribeDBInstancesResponse>`;

  /** Before a call goes to moto: answers that AWS would give from its state instead. */
  const rdsBefore = (call: AwsCall): Answer | undefined => {
    if (call.operation !== 'DescribeDBInstances') return undefined;
    const id = call.params.DBInstanceIdentifier as string | undefined;
    if (!id) return undefined;
    const k = key(call.region, id);
    if (dbStatus(k).hidden) return errorAnswer(call, ...NOT_FOUND_XML(id));
    const gone = deleted.get(k);
    if (gone && now() < gone.until) {
      return { status: 200, headers: { 'content-type': 'text/xml' }, body: dbResponse([gone.xml]) };
    }
    return undefined;
  };

  /** After moto answered: remember what it showed, start state machines, show the phase. */
  const rdsAfter = (call: AwsCall, status: number, text: string): string => {
    const ok = status >= 200 && status < 300;
    const t = now();
    const start = (id: string, phases: Phase[], extra: Partial<DbTimeline> = {}) =>
      dbs.set(key(call.region, id), { phases, startedAt: t, ...extra });
    if (ok) {
      switch (call.operation) {
        case 'CreateDBInstance':
        case 'RestoreDBInstanceFromDBSnapshot':
        case 'RestoreDBInstanceToPointInTime':
        case 'CreateDBInstanceReadReplica': {
          const id = String(call.params.TargetDBInstanceIdentifier ?? call.params.DBInstanceIdentifier ?? '');
          const restoring = call.operation !== 'CreateDBInstance';
          const failing = restoring && take('restore-fails', call);
          if (failing) happened('restore-fails', call, phasesEnd([RDS_INSTANCE[call.operation]![0]!], t, minuteMs), id);
          start(id, failing ? [RDS_INSTANCE[call.operation]![0]!] : RDS_INSTANCE[call.operation]!, {
            hiddenUntil: t + RDS_NOT_FOUND_AFTER_CREATE * minuteMs,
            ...(failing ? { finalStatus: 'incompatible-restore' } : {}),
          });
          deleted.delete(key(call.region, id));
          break;
        }
        case 'PromoteReadReplica': {
          const id = String(call.params.DBInstanceIdentifier);
          const before = dbXml.get(key(call.region, id)) ?? '';
          const source = xmlValue(before, 'ReadReplicaSourceDBInstanceIdentifier');
          const stuck = take('promote-stuck', call);
          if (stuck) happened('promote-stuck', call, t, id);
          start(id, stuck ? [{ status: 'modifying', minutes: Infinity }] : RDS_INSTANCE.PromoteReadReplica!, {
            ...(source ? { replicaSource: source } : {}),
          });
          break;
        }
        case 'ModifyDBInstance': {
          const id = String(call.params.DBInstanceIdentifier);
          const renamed = call.params.NewDBInstanceIdentifier as string | undefined;
          if (renamed) {
            const lagging = take('rename-lag', call);
            if (lagging) happened('rename-lag', call, t, renamed);
            const lag = lagging ? 10 : RDS_RENAME_GAP;
            dbs.delete(key(call.region, id));
            start(renamed, RDS_INSTANCE.Rename!, { hiddenUntil: t + lag * minuteMs });
            // The phases start once it is found again.
            dbs.get(key(call.region, renamed))!.startedAt = t + lag * minuteMs;
          } else {
            start(id, RDS_INSTANCE.ModifyDBInstance!);
          }
          break;
        }
        case 'RebootDBInstance': {
          const id = String(call.params.DBInstanceIdentifier);
          const own = opts.minuteMsFor?.(id);
          start(id, RDS_INSTANCE.RebootDBInstance!, own !== undefined ? { minuteMs: own } : {});
          rdsReboots.started(
            key(call.region, id),
            call.params,
            text,
            phasesEnd(RDS_INSTANCE.RebootDBInstance!, t, own ?? minuteMs),
          );
          break;
        }
        case 'DeleteDBInstance': {
          const k = key(call.region, String(call.params.DBInstanceIdentifier));
          const block = xmlBlocks(text, 'DBInstance')[0] ?? dbXml.get(k);
          if (block) {
            deleted.set(k, {
              xml: withXmlValue(block, 'DBInstanceStatus', 'deleting'),
              until: phasesEnd(RDS_INSTANCE.DeleteDBInstance!, t, minuteMs),
            });
          }
          dbs.delete(k);
          break;
        }
        case 'CreateDBSnapshot':
          snapshots.set(key(call.region, String(call.params.DBSnapshotIdentifier)), t);
          break;
      }
    }
    if (!ok) return text;
    if (/DBCluster/.test(call.operation)) return aurora.after(call.region, call.operation, call.params, text, t);
    if (call.operation === 'DescribeDBInstances' || /DBInstance/.test(call.operation)) {
      let out = text;
      for (const block of xmlBlocks(text, 'DBInstance')) {
        const id = xmlValue(block, 'DBInstanceIdentifier') ?? '';
        dbXml.set(key(call.region, id), block);
        out = out.replace(block, rewriteDbBlock(call.region, block));
      }
      if (call.operation === 'DescribeDBInstances' && !call.params.DBInstanceIdentifier) {
        // A list: hide what AWS would not show yet; show what is still being deleted.
        for (const block of xmlBlocks(out, 'DBInstance')) {
          if (dbStatus(key(call.region, xmlValue(block, 'DBInstanceIdentifier') ?? '')).hidden) {
            out = out.replace(block, '');
          }
        }
        const extra = [...deleted.entries()]
          .filter(([k, d]) => k.startsWith(`${call.region}/`) && t < d.until)
          .map(([, d]) => d.xml);
        if (extra.length) out = out.replace('</DBInstances>', `${extra.join('')}</DBInstances>`);
      }
      return out;
    }
    if (call.operation === 'DescribeDBSnapshots' || call.operation === 'CreateDBSnapshot') {
      let out = text;
      for (const block of xmlBlocks(text, 'DBSnapshot')) {
        const started = snapshots.get(key(call.region, xmlValue(block, 'DBSnapshotIdentifier') ?? ''));
        if (started === undefined) continue;
        const phase = phaseAt(RDS_SNAPSHOT, started, t, minuteMs);
        if (!phase) continue;
        const progress = Math.min(99, Math.floor(((t - started) / phasesEnd(RDS_SNAPSHOT, 0, minuteMs)) * 100));
        let b = withXmlValue(block, 'Status', phase);
        b = b.includes('<PercentProgress>')
          ? withXmlValue(b, 'PercentProgress', String(progress))
          : b.replace(/<\/DBSnapshot>$/, `<PercentProgress>${progress}</PercentProgress></DBSnapshot>`);
        out = out.replace(block, b);
      }
      return out;
    }
    return text;
  };

  // ---------- ECS ----------

  const serviceKey = (call: AwsCall, svc: { serviceName?: string; clusterArn?: string }) =>
    key(
      call.region,
      String(svc.clusterArn ?? '')
        .split('/')
        .pop(),
      svc.serviceName,
    );

  interface EcsDeploymentJson {
    id: string;
    status: string;
    taskDefinition: string;
    desiredCount: number;
    runningCount: number;
    pendingCount: number;
    failedTasks: number;
    rolloutState: string;
    rolloutStateReason: string;
    createdAt: number;
    updatedAt: number;
  }

  /** What ECS shows for a service at `t`, for a deployment the layer is playing out. */
  const ecsView = (d: EcsDeployment, t: number) => {
    const elapsedMin = (t - d.startedAt) / (d.minuteMs ?? minuteMs);
    const dep = (over: Partial<EcsDeploymentJson>): EcsDeploymentJson => ({
      id: d.id,
      status: 'PRIMARY',
      taskDefinition: d.taskDefinition,
      desiredCount: d.desired,
      runningCount: d.desired,
      pendingCount: 0,
      failedTasks: 0,
      rolloutState: 'COMPLETED',
      rolloutStateReason: `ECS deployment ${d.id} completed.`,
      createdAt: d.startedAt / 1000,
      updatedAt: t / 1000,
      ...over,
    });
    if (d.kind === 'scale') {
      const step = Math.floor(elapsedMin / ECS_TASK_START);
      const running =
        d.desired >= d.previousRunning
          ? Math.min(d.desired, d.previousRunning + step)
          : Math.max(d.desired, d.previousRunning - step * 2);
      return {
        runningCount: running,
        pendingCount: d.desired > running ? Math.min(1, d.desired - running) : 0,
        deployments: [dep({ runningCount: running })],
        done: running === d.desired,
      };
    }
    const failedCount = Math.floor(elapsedMin / ECS_TASK_START);
    if (d.fault === 'deploy-circuit-breaker' && d.failedAt !== undefined && t >= d.failedAt) {
      const back = Math.min(d.desired, Math.floor((t - d.failedAt) / minuteMs / ECS_TASK_START) + d.previousRunning);
      // Once the rollback is complete, ECS keeps listing the failed deployment for a while (its last tasks stopping),
      // then only the rollback's deployment is left (the failed one is INACTIVE: DescribeServices no longer lists it).
      const rolledBackAt = d.failedAt + Math.max(0, d.desired - d.previousRunning) * ECS_TASK_START * minuteMs;
      if (t >= rolledBackAt + FAILED_DEPLOYMENT_LISTED * minuteMs) {
        return {
          runningCount: d.desired,
          pendingCount: 0,
          deployments: [
            dep({
              id: `${d.id}-rollback`,
              taskDefinition: d.previousTaskDefinition,
              rolloutStateReason: `ECS deployment circuit breaker: rolling back to deployment ${d.id}-previous.`,
            }),
          ],
          done: false,
        };
      }
      return {
        runningCount: back,
        pendingCount: 0,
        deployments: [
          dep({
            id: `${d.id}-rollback`,
            taskDefinition: d.previousTaskDefinition,
            runningCount: back,
            rolloutState: back >= d.desired ? 'COMPLETED' : 'IN_PROGRESS',
            rolloutStateReason: `ECS deployment circuit breaker: rolling back to deployment ${d.id}-previous.`,
          }),
          dep({
            status: 'ACTIVE',
            runningCount: 0,
            failedTasks: 3,
            rolloutState: 'FAILED',
            rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
          }),
        ],
        done: false,
      };
    }
    // Failing tasks: a crash loop for good, a circuit breaker until it trips.
    if (d.fault) {
      return {
        runningCount: d.previousRunning,
        pendingCount: 1,
        deployments: [
          dep({
            runningCount: 0,
            pendingCount: 1,
            failedTasks: failedCount,
            rolloutState: 'IN_PROGRESS',
            rolloutStateReason: `ECS deployment ${d.id} in progress.`,
          }),
          dep({
            id: `${d.id}-previous`,
            status: 'ACTIVE',
            taskDefinition: d.previousTaskDefinition,
            runningCount: d.previousRunning,
          }),
        ],
        done: false,
      };
    }
    const started = Math.min(d.desired, Math.floor(elapsedMin / ECS_TASK_START));
    const drained = elapsedMin >= d.desired * ECS_TASK_START + ECS_DRAIN;
    const oldRunning = drained ? 0 : Math.max(0, d.previousRunning - started);
    if (drained) {
      return { runningCount: d.desired, pendingCount: 0, deployments: [dep({})], done: true };
    }
    return {
      runningCount: started + oldRunning,
      pendingCount: started < d.desired ? 1 : 0,
      deployments: [
        dep({
          runningCount: started,
          pendingCount: started < d.desired ? 1 : 0,
          rolloutState: 'IN_PROGRESS',
          rolloutStateReason: `ECS deployment ${d.id} in progress.`,
        }),
        dep({
          id: `${d.id}-previous`,
          status: 'ACTIVE',
          taskDefinition: d.previousTaskDefinition,
          runningCount: oldRunning,
        }),
      ],
      done: false,
    };
  };

  /** A finished ECS deployment: its tasks serve the service from now on. */
  const commitEcs = (k: string, d: EcsDeployment) => {
    services.delete(k);
    serviceSeen.set(k, { taskDefinition: d.taskDefinition, runningCount: d.desired });
    fleets.set(k, {
      generation: d.generation,
      taskDefinition: d.taskDefinition,
      count: d.desired,
      since: d.kind === 'deploy' ? d.startedAt : (fleets.get(k)?.since ?? d.startedAt),
    });
  };

  /** AWS refuses a new revision (or a forced redeployment) of a CODE_DEPLOY service: CodeDeploy deploys it. */
  const ecsBefore = async (call: AwsCall, auth: string): Promise<Answer | undefined> => {
    if (call.operation !== 'UpdateService') return undefined;
    if (call.params.taskDefinition === undefined && call.params.forceNewDeployment !== true) return undefined;
    const out = await upstreamJson(
      opts.upstream,
      'ecs',
      'DescribeServices',
      { cluster: call.params.cluster ?? 'default', services: [call.params.service] },
      auth,
    );
    const svc = ((out.json.services as { status?: string; deploymentController?: { type?: string } }[]) ?? []).find(
      (x) => x.status === 'ACTIVE',
    );
    if (svc?.deploymentController?.type !== 'CODE_DEPLOY') return undefined;
    return errorAnswer(
      call,
      400,
      'InvalidParameterException',
      'Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.',
    );
  };

  /** The task sets running a service at `t` (what ListTasks shows): during a deployment the old and the new. */
  const runningSets = (k: string, t: number): TaskSet[] => {
    const cd = codedeploy.taskSets(k, t);
    if (cd) return cd;
    const seen = serviceSeen.get(k);
    const d = services.get(k);
    const serving = fleetHooks.serving(
      k,
      d ? d.previousTaskDefinition : (seen?.taskDefinition ?? ''),
      seen?.runningCount ?? 0,
    );
    if (!d) return [{ ...serving, count: seen?.runningCount ?? 0 }];
    const view = ecsView(d, t);
    if (d.kind === 'scale' || d.fault) {
      if (view.done && !d.fault) commitEcs(k, d);
      return [{ ...serving, count: view.runningCount }];
    }
    if (view.done) {
      commitEcs(k, d);
      return [fleets.get(k)!];
    }
    const primary = view.deployments.find((x) => x.status === 'PRIMARY');
    const previous = view.deployments.find((x) => x.status === 'ACTIVE');
    return [
      { ...serving, count: previous?.runningCount ?? 0 },
      {
        generation: d.generation,
        taskDefinition: d.taskDefinition,
        count: primary?.runningCount ?? 0,
        since: d.startedAt,
      },
    ];
  };

  const taskArn = (region: string, cluster: string, k: string, generation: number, index: number) =>
    `arn:aws:ecs:${region}:${ACCOUNT}:task/${cluster}/${createHash('sha1')
      .update(`${k}#${generation}#${index}`)
      .digest('hex')
      .slice(0, 32)}`;

  const clusterName = (v: unknown) =>
    String(v ?? 'default')
      .split('/')
      .pop()!;

  /** ListTasks / DescribeTasks: the running tasks of the services the layer knows, besides moto's own. */
  const ecsTasks = async (call: AwsCall, status: number, text: string, auth: string): Promise<string> => {
    if (status < 200 || status >= 300) return text;
    if (call.operation !== 'ListTasks' && call.operation !== 'DescribeTasks') return text;
    const json = JSON.parse(text) as Record<string, unknown>;
    const t = now();
    if (call.operation === 'ListTasks') {
      const wanted = call.params.desiredStatus ?? 'RUNNING';
      const service = call.params.serviceName as string | undefined;
      if (wanted !== 'RUNNING' || !service) return text;
      const cluster = clusterName(call.params.cluster);
      const k = key(call.region, cluster, service);
      if (!serviceSeen.has(k) && !services.has(k)) {
        const out = await upstreamJson(
          opts.upstream,
          'ecs',
          'DescribeServices',
          { cluster, services: [service] },
          auth,
        );
        const svc = (
          (out.json.services as { status?: string; taskDefinition?: string; runningCount?: number }[]) ?? []
        ).find((x) => x.status === 'ACTIVE');
        if (!svc) return text;
        serviceSeen.set(k, { taskDefinition: svc.taskDefinition ?? '', runningCount: svc.runningCount ?? 0 });
      }
      const arns: string[] = [];
      for (const set of runningSets(k, t)) {
        for (let i = 0; i < set.count; i++) {
          const arn = taskArn(call.region, cluster, k, set.generation, i);
          syntheticTasks.set(arn, {
            region: call.region,
            cluster,
            service,
            serviceKey: k,
            generation: set.generation,
            index: i,
            taskDefinition: set.taskDefinition,
            since: set.since,
          });
          arns.push(arn);
        }
      }
      json.taskArns = [...((json.taskArns as string[] | undefined) ?? []), ...arns];
      return JSON.stringify(json);
    }
    const wanted = ((call.params.tasks as string[] | undefined) ?? []).filter((a) => syntheticTasks.has(a));
    if (!wanted.length) return text;
    json.failures = ((json.failures as { arn?: string }[] | undefined) ?? []).filter(
      (f) => !wanted.includes(f.arn ?? ''),
    );
    const running = new Map<string, Set<string>>();
    json.tasks = [
      ...((json.tasks as unknown[] | undefined) ?? []),
      ...wanted.map((arn) => {
        const task = syntheticTasks.get(arn)!;
        if (!running.has(task.serviceKey)) {
          running.set(
            task.serviceKey,
            new Set(
              runningSets(task.serviceKey, t).flatMap((s) =>
                Array.from({ length: s.count }, (_, i) =>
                  taskArn(task.region, task.cluster, task.serviceKey, s.generation, i),
                ),
              ),
            ),
          );
        }
        const up = running.get(task.serviceKey)!.has(arn);
        const started = task.since / 1000 + task.index * ECS_TASK_START * (minuteMs / 1000);
        return {
          taskArn: arn,
          clusterArn: `arn:aws:ecs:${task.region}:${ACCOUNT}:cluster/${task.cluster}`,
          taskDefinitionArn: task.taskDefinition,
          group: `service:${task.service}`,
          startedBy: `ecs-svc/${String(task.generation).padStart(16, '0')}`,
          availabilityZone: `${task.region}${'abc'[task.index % 3]}`,
          launchType: 'FARGATE',
          lastStatus: up ? 'RUNNING' : 'STOPPED',
          desiredStatus: up ? 'RUNNING' : 'STOPPED',
          healthStatus: 'UNKNOWN',
          connectivity: up ? 'CONNECTED' : 'DISCONNECTED',
          createdAt: started,
          startedAt: started,
          ...(up
            ? {}
            : {
                stopCode: 'ServiceSchedulerInitiated',
                stoppedReason: 'Scaling activity initiated by (deployment of a newer revision)',
                stoppedAt: t / 1000,
              }),
          containers: [{ name: 'app', taskArn: arn, lastStatus: up ? 'RUNNING' : 'STOPPED' }],
          version: up ? 2 : 3,
        };
      }),
    ];
    return JSON.stringify(json);
  };

  /** A circuit breaker that tripped rolls the service back in moto too, as ECS does. */
  const rollBack = (cluster: string, service: string, taskDefinition: string, auth: string) => {
    const body = JSON.stringify({ cluster, service, taskDefinition });
    const url = new URL('/', opts.upstream);
    const r = http.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.UpdateService',
        // The caller's own signature scope (its region): moto reads the region from it.
        authorization: auth,
        'content-length': Buffer.byteLength(body),
      },
    });
    r.on('error', () => undefined);
    r.end(body);
  };

  const ecsAfter = (call: AwsCall, status: number, text: string, auth: string): string => {
    if (status < 200 || status >= 300) return text;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return text;
    }
    const t = now();
    if (call.operation === 'UpdateService') {
      const svc = json.service as {
        serviceName?: string;
        clusterArn?: string;
        taskDefinition?: string;
        desiredCount?: number;
      };
      const k = serviceKey(call, svc);
      const seen = serviceSeen.get(k);
      const previousTaskDefinition = seen?.taskDefinition ?? svc.taskDefinition ?? '';
      const newDeployment =
        call.params.forceNewDeployment === true ||
        (call.params.taskDefinition !== undefined && svc.taskDefinition !== previousTaskDefinition);
      const fault = newDeployment
        ? (take('deploy-circuit-breaker', call)?.name ?? take('tasks-crash-loop', call)?.name)
        : undefined;
      const d: EcsDeployment = {
        kind: newDeployment ? 'deploy' : 'scale',
        id: `ecs-svc/${Math.floor(Math.random() * 1e16)}`,
        startedAt: t,
        taskDefinition: svc.taskDefinition ?? '',
        previousTaskDefinition,
        desired: svc.desiredCount ?? 0,
        previousRunning: services.has(k) ? ecsView(services.get(k)!, t).runningCount : (seen?.runningCount ?? 0),
        ...(svc.serviceName && opts.minuteMsFor?.(svc.serviceName) !== undefined
          ? { minuteMs: opts.minuteMsFor(svc.serviceName) }
          : {}),
        ...(fault === 'deploy-circuit-breaker' || fault === 'tasks-crash-loop' ? { fault } : {}),
        generation:
          fleetHooks.serving(k, previousTaskDefinition, seen?.runningCount ?? 0).generation + (newDeployment ? 1 : 0),
      };
      if (d.fault === 'tasks-crash-loop') happened('tasks-crash-loop', call, t + ECS_TASK_START * minuteMs, k);
      if (d.fault === 'deploy-circuit-breaker') {
        // Three tasks fail to start, then the breaker trips and ECS rolls back.
        d.failedAt = t + 3 * ECS_TASK_START * minuteMs;
        happened('deploy-circuit-breaker', call, d.failedAt, k);
        const [, cluster, service] = k.split('/');
        setTimeout(() => {
          d.rolledBack = true;
          rollBack(cluster!, service!, previousTaskDefinition, auth);
        }, d.failedAt - t).unref();
      }
      services.set(k, d);
    }
    const list = (json.services as Record<string, unknown>[] | undefined) ?? (json.service ? [json.service] : []);
    for (const svc of list as {
      serviceName?: string;
      clusterArn?: string;
      taskDefinition?: string;
      runningCount?: number;
      pendingCount?: number;
      deployments?: unknown[];
    }[]) {
      const k = serviceKey(call, svc);
      const d = services.get(k);
      if (!d) {
        serviceSeen.set(k, { taskDefinition: svc.taskDefinition ?? '', runningCount: svc.runningCount ?? 0 });
        continue;
      }
      const view = ecsView(d, t);
      svc.runningCount = view.runningCount;
      svc.pendingCount = view.pendingCount;
      svc.deployments = view.deployments;
      if (view.done && d.fault === undefined) commitEcs(k, d);
    }
    if (call.operation === 'ListTasks' && call.params.desiredStatus === 'STOPPED' && call.params.serviceName) {
      const cluster = String(call.params.cluster ?? 'default')
        .split('/')
        .pop();
      const d = services.get(key(call.region, cluster, String(call.params.serviceName)));
      if (d?.fault) {
        const n = Math.min(10, Math.floor((t - d.startedAt) / minuteMs / ECS_TASK_START));
        const arns = Array.from(
          { length: n },
          (_, i) => `arn:aws:ecs:${call.region}:123456789012:task/${cluster}/stopped${d.id.replace(/\D/g, '')}${i}`,
        );
        json.taskArns = [...((json.taskArns as string[]) ?? []), ...arns];
      }
    }
    if (call.operation === 'DescribeTasks') {
      const wanted = (call.params.tasks as string[] | undefined) ?? [];
      const synthetic = wanted.filter((a) => /\/stopped\d+$/.test(a));
      if (synthetic.length) {
        const d = [...services.values()].find((x) => synthetic[0]!.includes(x.id.replace(/\D/g, '')));
        json.failures = ((json.failures as { arn?: string }[]) ?? []).filter((f) => !synthetic.includes(f.arn ?? ''));
        json.tasks = [
          ...((json.tasks as unknown[]) ?? []),
          ...synthetic.map((arn, i) => ({
            taskArn: arn,
            taskDefinitionArn: d?.taskDefinition ?? '',
            lastStatus: 'STOPPED',
            desiredStatus: 'STOPPED',
            stopCode: 'TaskFailedToStart',
            stoppedReason:
              d?.fault === 'tasks-crash-loop'
                ? 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: not found'
                : 'Essential container in task exited',
            stoppedAt: (d ? d.startedAt + (i + 1) * ECS_TASK_START * minuteMs : t) / 1000,
            containers: [
              {
                name: 'app',
                lastStatus: 'STOPPED',
                reason:
                  d?.fault === 'tasks-crash-loop'
                    ? 'CannotPullContainerError: pull image manifest has been retried 5 time(s)'
                    : 'exit code 1',
              },
            ],
          })),
        ];
      }
    }
    return JSON.stringify(json);
  };

  // ---------- Route 53, ELBv2 ----------

  const route53After = (call: AwsCall, status: number, text: string): string => {
    if (status < 200 || status >= 300) return text;
    const t = now();
    if (call.operation === 'ChangeResourceRecordSets') {
      const id = (xmlValue(text, 'Id') ?? '').split('/').pop() ?? '';
      const slow = take('route53-slow', call);
      if (slow) happened('route53-slow', call, t, id);
      changes.set(id, t + (slow ? 60 : ROUTE53_PENDING) * minuteMs);
    }
    if (call.operation === 'ChangeResourceRecordSets' || call.operation === 'GetChange') {
      const id = call.operation === 'GetChange' ? (call.pathId ?? '') : (xmlValue(text, 'Id') ?? '').split('/').pop()!;
      const until = changes.get(id);
      if (until !== undefined && t < until) return withXmlValue(text, 'Status', 'PENDING');
    }
    return text;
  };

  const elbAfter = (call: AwsCall, status: number, text: string): string => {
    if (status < 200 || status >= 300) return text;
    const t = now();
    if (call.operation === 'RegisterTargets') {
      const group = String(call.params.TargetGroupArn);
      for (const [k, v] of Object.entries(call.params)) {
        if (/^Targets\.member\.\d+\.Id$/.test(k)) targets.set(key(group, String(v)), t + ELB_TARGET_INITIAL * minuteMs);
      }
    }
    if (call.operation === 'DescribeTargetHealth') {
      const group = String(call.params.TargetGroupArn);
      let out = text;
      for (const block of xmlBlocks(text, 'member')) {
        const id = xmlValue(block, 'Id');
        const until = id ? targets.get(key(group, id)) : undefined;
        if (until !== undefined && t < until && block.includes('<State>healthy</State>')) {
          out = out.replace(
            block,
            block.replace(
              '<State>healthy</State>',
              '<State>initial</State><Reason>Elb.RegistrationInProgress</Reason>',
            ),
          );
        }
      }
      return out;
    }
    return text;
  };

  // ---------- CloudWatch ----------

  /** One call to moto in the caller's region (its signature scope), JSON 1.0 (CloudWatch). */
  const cloudwatch = (target: string, body: unknown, auth: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const text = JSON.stringify(body);
      const r = http.request(new URL('/', opts.upstream), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `GraniteServiceVersion20100801.${target}`,
          authorization: auth,
          'content-length': Buffer.byteLength(text),
        },
      });
      r.on('response', (up) => {
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      r.on('error', reject);
      r.end(text);
    });

  /** DescribeAlarms: each metric alarm in the state CloudWatch would have given it from moto's metric data. */
  const cloudwatchAfter = async (call: AwsCall, status: number, text: string, auth: string): Promise<string> => {
    if (call.operation !== 'DescribeAlarms' || status < 200 || status >= 300) return text;
    const json = JSON.parse(text) as { MetricAlarms?: MetricAlarm[] };
    const nowSec = Math.floor(now() / 1000);
    for (const a of json.MetricAlarms ?? []) {
      if (!evaluable(a)) continue;
      const period = a.Period!;
      const stat = a.ExtendedStatistic;
      // One query per evaluation period, aligned as CloudWatch aligns them (moto's buckets start at the first
      // datapoint it finds, not at the period boundary).
      const newest = Math.floor(nowSec / period) * period;
      const points: Datapoint[] = [];
      for (let i = 0; i < a.EvaluationPeriods!; i++) {
        const from = newest - i * period;
        const out = (await cloudwatch(
          'GetMetricStatistics',
          {
            Namespace: a.Namespace,
            MetricName: a.MetricName,
            Dimensions: a.Dimensions ?? [],
            StartTime: from,
            EndTime: from + period,
            Period: period,
            ...(stat ? { ExtendedStatistics: [stat] } : { Statistics: [a.Statistic] }),
          },
          auth,
        )) as { Datapoints?: Record<string, unknown>[] };
        const values = (out.Datapoints ?? []).flatMap((d) => {
          const v = stat ? (d.ExtendedStatistics as Record<string, number> | undefined)?.[stat] : d[a.Statistic!];
          return typeof v === 'number' ? [v] : [];
        });
        if (values.length) {
          const combined =
            a.Statistic === 'Sum' || a.Statistic === 'SampleCount'
              ? values.reduce((x, y) => x + y, 0)
              : a.Statistic === 'Minimum'
                ? Math.min(...values)
                : a.Statistic === 'Maximum'
                  ? Math.max(...values)
                  : values.reduce((x, y) => x + y, 0) / values.length;
          points.push({ Timestamp: from, value: combined });
        }
      }
      const verdict = evaluateAlarm(a, points, nowSec);
      if (!verdict) continue;
      const key_ = key(call.region, a.AlarmName);
      const prev = alarmStates.get(key_);
      if (verdict.state !== a.StateValue || verdict.reason !== a.StateReason) {
        const changed = prev?.state !== verdict.state;
        a.StateValue = verdict.state;
        a.StateReason = verdict.reason;
        if (changed || !prev) alarmStates.set(key_, { state: verdict.state, since: nowSec });
        a.StateUpdatedTimestamp = alarmStates.get(key_)!.since;
      }
    }
    const wanted = call.params.StateValue;
    if (typeof wanted === 'string')
      json.MetricAlarms = (json.MetricAlarms ?? []).filter((a) => a.StateValue === wanted);
    return JSON.stringify(json);
  };

  // ---------- the proxy ----------

  const resourceOf = (call: AwsCall): string | undefined => {
    const p = call.params;
    const v =
      p.DBInstanceIdentifier ??
      p.TargetDBInstanceIdentifier ??
      p.DBSnapshotIdentifier ??
      p.service ??
      p.serviceName ??
      p.family ??
      p.TargetGroupArn ??
      p.ListenerArn ??
      p.AlarmName ??
      p.SecretId ??
      p.ResourceId ??
      p.deploymentId ??
      p.deploymentGroupName ??
      call.pathId;
    return v === undefined ? undefined : String(v);
  };

  const record = (call: AwsCall, status: number, fault?: FaultName) => {
    const entry: CallRecord = {
      at: new Date().toISOString(),
      service: call.service,
      region: call.region,
      operation: call.operation,
      ...(resourceOf(call) ? { resource: resourceOf(call) } : {}),
      status,
      ...(fault ? { fault } : {}),
    };
    calls.push(entry);
    opts.onCall?.(call, entry);
  };

  const control = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => {
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value, null, 2));
    };
    if (req.method === 'GET') {
      return send(200, {
        minuteMs,
        faults: faults.map(({ left, ...f }) => ({ ...f, left: Number.isFinite(left) ? left : 'unlimited' })),
        known: FAULTS,
        calls: calls.length,
        mutations: calls.filter((c) => isMutating(c.operation) && c.status < 300 && !c.fault).length,
      });
    }
    if (req.method === 'DELETE') {
      setFaults([]);
      return send(200, { faults: [] });
    }
    try {
      const parsed = JSON.parse(body.toString('utf8') || '[]') as Fault | Fault[];
      const list = Array.isArray(parsed) ? parsed : [parsed];
      const unknown = list.filter((f) => !(f.name in FAULTS));
      if (unknown.length)
        return send(400, { error: `unknown fault ${unknown.map((f) => f.name).join(', ')}`, known: FAULTS });
      setFaults(list);
      return send(200, { faults: list });
    } catch (err) {
      return send(400, { error: (err as Error).message });
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if ((req.url ?? '').startsWith('/_realistic')) return control(req, body, res);
      const call = readCall(req, body);
      const answer = (a: Answer, fault?: FaultName) => {
        record(call, a.status, fault);
        res.writeHead(a.status, { ...a.headers, 'content-length': Buffer.byteLength(a.body) });
        res.end(a.body);
      };
      const faulted = call.service ? faultAnswer(call) : undefined;
      if (faulted) return answer(faulted.answer, faulted.fault);
      if (call.service === 'rds') {
        const early = rdsBefore(call);
        if (early) return answer(early);
      }
      const auth = String(req.headers.authorization ?? '');
      try {
        const own =
          call.service === 'codedeploy'
            ? await codedeploy.handle(call, auth)
            : call.service === 'ecs'
              ? await ecsBefore(call, auth)
              : undefined;
        if (own) return answer(own);
      } catch (err) {
        return answer(errorAnswer(call, 500, 'InternalFailure', `realistic layer: ${(err as Error).message}`));
      }
      const url = new URL(req.url ?? '/', opts.upstream);
      const headers = { ...req.headers, host: url.host };
      delete headers['accept-encoding']; // plain text back, so that it can be rewritten
      const forward = http.request(url, { method: req.method, headers }, (up) => {
        if (call.service === 's3') {
          // Objects are bytes (a pg_dump archive), not text to rewrite: streamed through as S3 sent them.
          record(call, up.statusCode ?? 502);
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', async () => {
          const status = up.statusCode ?? 502;
          let text = Buffer.concat(parts).toString('utf8');
          try {
            if (call.service === 'monitoring') {
              text = await cloudwatchAfter(call, status, text, String(req.headers.authorization ?? ''));
            }
            if (call.service === 'rds') text = rdsAfter(call, status, text);
            if (call.service === 'rds') text = globalClusters.after(call, status, text, now());
            else if (call.service === 'ecs') {
              text = ecsAfter(call, status, text, auth);
              text = await ecsTasks(call, status, text, auth);
            } else if (call.service === 'codedeploy' && status < 300) text = codedeploy.after(call, text);
            else if (call.service === 'route53') text = route53After(call, status, text);
            else if (call.service === 'elasticloadbalancing') text = elbAfter(call, status, text);
          } catch {
            /* an answer the layer does not understand goes through as moto gave it */
          }
          const outHeaders = { ...up.headers };
          delete outHeaders['content-length'];
          delete outHeaders['transfer-encoding'];
          answer({ status, headers: outHeaders, body: text });
        });
      });
      forward.on('error', (err) =>
        answer(errorAnswer(call, 502, 'BadGateway', `emulator unreachable: ${err.message}`)),
      );
      forward.end(body);
    });
  });

  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    minuteMs,
    faultEvents: () => [...events],
    setFaults,
    faults: () => faults.filter((f) => f.left > 0).map(({ left: _left, ...f }) => f),
    calls: () => [...calls],
    mutations: () => calls.filter((c) => isMutating(c.operation) && c.status >= 200 && c.status < 300 && !c.fault),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
