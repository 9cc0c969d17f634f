// CodeDeploy ECS blue/green deployments, as AWS plays them out, for the realistic layer (layer.ts). moto keeps
// applications and deployment groups (and validates them), but a deployment it creates stays `Created` forever,
// StopDeployment answers 500, and it has no deployment targets. Here the layer owns ECS deployments: CreateDeployment
// checks what AWS checks, then the deployment goes Created → InProgress through the ECS lifecycle events
// (machines.ts CODEDEPLOY_ECS_EVENTS) → Succeeded, and the ECS service in moto is put on the new task definition when
// AllowTraffic completes. StopDeployment, automatic rollbacks (a rollback deployment of CodeDeploy's own), the
// `codedeploy-hook-fails` fault, ListDeployments' status filters and the ECS deployment target (lifecycle events,
// task sets) are answered from the layer's state. Deployments of other compute platforms go to moto as they are.
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import {
  CODEDEPLOY_CREATED,
  CODEDEPLOY_ECS_EVENTS,
  CODEDEPLOY_ROLLBACK_EVENTS,
  CODEDEPLOY_TERMINATE,
  type Fault,
  type FaultName,
  type Phase,
} from './machines';
import { errorAnswer, jsonAnswer, upstreamJson, type Answer, type AwsCall } from './wire';

const ACCOUNT = '123456789012';

/** A set of tasks of one service on one revision (ECS: a task set; a new one after each deployment). */
export interface TaskSet {
  generation: number;
  taskDefinition: string;
  count: number;
  since: number;
}

/** How the CodeDeploy model reads and moves the tasks the layer shows for a service (region/cluster/service). */
export interface FleetHooks {
  /** The task set serving the service now (made from what moto shows when the layer has none yet). */
  serving(serviceKey: string, taskDefinition: string, count: number): TaskSet;
  /** A deployment finished: `set` serves the service from now on. */
  commit(serviceKey: string, set: TaskSet): void;
}

export interface CodeDeployDeps {
  upstream: string;
  minuteMs: number;
  now(): number;
  take(name: FaultName, call: AwsCall): Fault | undefined;
  happened(fault: FaultName, call: AwsCall, at: number, resource?: string): void;
  fleet: FleetHooks;
}

interface LifecycleWindow {
  name: string;
  start: number;
  end: number;
}

interface Deployment {
  id: string;
  region: string;
  application: string;
  group: string;
  groupInfo: Record<string, unknown>;
  cluster: string;
  service: string;
  serviceKey: string;
  /** The caller's Authorization header (its region), for the layer's own calls to moto. */
  auth: string;
  taskDefinition: string;
  previousTaskDefinition: string;
  desired: number;
  revision: unknown;
  previousRevision?: unknown;
  description?: string;
  creator: 'user' | 'codeDeployRollback';
  deploymentConfigName: string;
  autoRollbackConfiguration?: { enabled?: boolean; events?: string[] };
  createdAt: number;
  startAt: number;
  events: LifecycleWindow[];
  /** When it succeeds unless it fails or is stopped first. */
  naturalEnd: number;
  /** When production traffic is on the replacement task set (AllowTraffic done). */
  shiftAt?: number;
  failAt?: number;
  failEvent?: string;
  error?: { code: string; message: string };
  stoppedAt?: number;
  rollbackInfo?: { rollbackDeploymentId?: string; rollbackTriggeringDeploymentId?: string; rollbackMessage: string };
  blue: TaskSet;
  green: TaskSet;
  /** Side effects done (settle()). */
  shifted?: boolean;
  shiftedBack?: boolean;
  settled?: boolean;
  /** A rollback deployment: the deployment it rolls back. */
  rollsBack?: Deployment;
}

const ACTIVE = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];

/** An AWS-style deployment id: d- and nine characters. */
const deploymentId = () =>
  `d-${[...randomBytes(9)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[b % 36]).join('')}`;

const nonEmpty = (v: unknown) => !!v && typeof v === 'object' && Object.keys(v).length > 0;

const TIMES = new Set(['createTime', 'startTime', 'completeTime', 'endTime', 'lastUpdatedAt']);

/** ISO timestamps (moto's) as epoch seconds (AWS's JSON protocol). */
function epochTimes(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(epochTimes);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      TIMES.has(k) && typeof x === 'string' && !Number.isNaN(Date.parse(x)) ? Date.parse(x) / 1000 : epochTimes(x),
    ]),
  );
}

const sec = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

function windows(phases: Phase[], from: number, minuteMs: number): LifecycleWindow[] {
  let t = from;
  return phases.map((p) => {
    const w = { name: p.status, start: t, end: t + p.minutes * minuteMs };
    t = w.end;
    return w;
  });
}

export function createCodeDeployModel(deps: CodeDeployDeps) {
  const { minuteMs, now, fleet } = deps;
  const deployments = new Map<string, Deployment>();

  const cutAt = (d: Deployment) => Math.min(d.failAt ?? Infinity, d.stoppedAt ?? Infinity);

  const statusAt = (d: Deployment, t: number): string => {
    if (d.stoppedAt !== undefined && t >= d.stoppedAt) return 'Stopped';
    if (d.failAt !== undefined && t >= d.failAt) return 'Failed';
    if (t >= d.naturalEnd) return 'Succeeded';
    return t < d.startAt ? 'Created' : 'InProgress';
  };

  const eventView = (d: Deployment, e: LifecycleWindow, t: number) => {
    const cut = cutAt(d);
    let status: string;
    if (t >= cut) {
      if (e.name === d.failEvent && d.stoppedAt === undefined) status = 'Failed';
      else if (e.end <= cut) status = 'Succeeded';
      else status = 'Skipped';
    } else status = t < e.start ? 'Pending' : t < e.end ? 'InProgress' : 'Succeeded';
    return {
      lifecycleEventName: e.name,
      status,
      ...(status !== 'Pending' && status !== 'Skipped' ? { startTime: sec(e.start) } : {}),
      ...(status === 'Succeeded' ? { endTime: sec(e.end) } : {}),
      ...(status === 'Failed'
        ? {
            endTime: sec(d.failAt),
            diagnostics: {
              errorCode: 'ScriptFailed',
              scriptName: e.name,
              message: `The lifecycle event hook for ${e.name} reported Failed to CodeDeploy (PutLifecycleEventHookExecutionStatus).`,
              logTail: '',
            },
          }
        : {}),
    };
  };

  const targetStatus = (status: string) =>
    status === 'Created' ? 'Pending' : status === 'Stopped' ? 'Failed' : status;

  const autoRollbackOn = (d: Deployment, event: 'DEPLOYMENT_FAILURE' | 'DEPLOYMENT_STOP_ON_REQUEST') => {
    const c = d.autoRollbackConfiguration;
    return !!c?.enabled && (c.events ?? []).includes(event);
  };

  const info = (d: Deployment, t: number) => {
    const status = statusAt(d, t);
    const overview = { Pending: 0, InProgress: 0, Succeeded: 0, Failed: 0, Skipped: 0, Ready: 0 };
    const ts = targetStatus(status) as keyof typeof overview;
    if (ts in overview) overview[ts] = 1;
    const g = d.groupInfo;
    const waiting = status === 'InProgress' && d.events.length > 0 && t >= d.events.at(-1)!.end;
    return {
      applicationName: d.application,
      deploymentGroupName: d.group,
      deploymentConfigName: d.deploymentConfigName,
      deploymentId: d.id,
      ...(d.previousRevision ? { previousRevision: d.previousRevision } : {}),
      revision: d.revision,
      status,
      ...(d.error && (status === 'Failed' || status === 'Stopped') ? { errorInformation: d.error } : {}),
      createTime: sec(d.createdAt),
      ...(t >= d.startAt && !(d.failAt === d.startAt && d.events.length === 0) ? { startTime: sec(d.startAt) } : {}),
      ...(['Succeeded', 'Failed', 'Stopped'].includes(status)
        ? { completeTime: sec(Math.min(d.naturalEnd, cutAt(d))) }
        : {}),
      deploymentOverview: overview,
      ...(d.description !== undefined ? { description: d.description } : {}),
      creator: d.creator,
      ignoreApplicationStopFailures: false,
      ...(d.autoRollbackConfiguration ? { autoRollbackConfiguration: d.autoRollbackConfiguration } : {}),
      updateOutdatedInstancesOnly: false,
      ...(d.rollbackInfo ? { rollbackInfo: d.rollbackInfo } : {}),
      deploymentStyle: g.deploymentStyle ?? { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      instanceTerminationWaitTimeStarted: waiting,
      ...(nonEmpty(g.blueGreenDeploymentConfiguration)
        ? { blueGreenDeploymentConfiguration: g.blueGreenDeploymentConfiguration }
        : {}),
      ...(nonEmpty(g.loadBalancerInfo) ? { loadBalancerInfo: g.loadBalancerInfo } : {}),
      deploymentStatusMessages: d.error && (status === 'Failed' || status === 'Stopped') ? [d.error.message] : [],
      computePlatform: 'ECS',
    };
  };

  const targetId = (d: Deployment) => `${d.cluster}:${d.service}`;

  const targetGroupNames = (d: Deployment): string[] => {
    const pairs = (
      d.groupInfo.loadBalancerInfo as { targetGroupPairInfoList?: { targetGroups?: { name?: string }[] }[] }
    )?.targetGroupPairInfoList;
    return (pairs?.[0]?.targetGroups ?? []).map((g) => g.name ?? '');
  };

  const target = (d: Deployment, t: number) => {
    const status = statusAt(d, t);
    const [blueTg, greenTg] = targetGroupNames(d);
    const set = (label: 'Blue' | 'Green', s: TaskSet, running: number, weight: number) => ({
      identifer: `ecs-svc/${String(s.generation).padStart(4, '0')}${d.id.slice(2)}`,
      desiredCount: d.desired,
      pendingCount: Math.max(0, Math.min(1, d.desired - running)),
      runningCount: running,
      status: weight === 100 ? 'PRIMARY' : 'ACTIVE',
      trafficWeight: weight,
      ...((label === 'Blue' ? blueTg : greenTg) ? { targetGroup: { name: label === 'Blue' ? blueTg : greenTg } } : {}),
      taskSetLabel: label,
    });
    let sets: ReturnType<typeof set>[] = [];
    if (status === 'Created' || d.events.length === 0) {
      sets = [];
    } else if (d.rollsBack) {
      // A rollback: traffic back on the original task set at AllowTraffic, the replacement gone at the end.
      const o = d.rollsBack;
      const replacementUp = (o.events.find((e) => e.name === 'Install')?.start ?? Infinity) < cutAt(o);
      const onReplacement = !!o.shifted && t < (d.shiftAt ?? 0);
      sets =
        status === 'Succeeded'
          ? [set('Blue', o.blue, d.desired, 100)]
          : [
              set('Blue', o.blue, d.desired, onReplacement ? 0 : 100),
              ...(replacementUp ? [set('Green', o.green, d.desired, onReplacement ? 100 : 0)] : []),
            ];
    } else if (status === 'Succeeded') {
      sets = [set('Green', d.green, d.desired, 100)];
    } else {
      // As it is now, or as it was when it failed or was stopped.
      const at = Math.min(t, cutAt(d));
      const install = d.events.find((e) => e.name === 'Install')!;
      const greenRunning =
        at < install.start
          ? 0
          : at >= install.end
            ? d.desired
            : Math.min(d.desired, Math.floor(((at - install.start) / (install.end - install.start)) * (d.desired + 1)));
      const onGreen = d.shiftAt !== undefined && at >= d.shiftAt;
      sets = [
        set('Blue', d.blue, d.desired, onGreen ? 0 : 100),
        ...(greenRunning > 0 ? [set('Green', d.green, greenRunning, onGreen ? 100 : 0)] : []),
      ];
    }
    return {
      deploymentTargetType: 'ECSTarget',
      ecsTarget: {
        deploymentId: d.id,
        targetId: targetId(d),
        targetArn: `arn:aws:ecs:${d.region}:${ACCOUNT}:service/${d.cluster}/${d.service}`,
        lastUpdatedAt: sec(Math.min(t, Math.min(d.naturalEnd, cutAt(d)))),
        lifecycleEvents: d.events.map((e) => eventView(d, e, t)),
        status: targetStatus(status),
        taskSetsInfo: sets,
      },
    };
  };

  // ---------- side effects in moto, when their time has come ----------

  const updateService = (d: Deployment, taskDefinition: string) =>
    upstreamJson(
      deps.upstream,
      'ecs',
      'UpdateService',
      { cluster: d.cluster, service: d.service, taskDefinition },
      d.auth,
    ).catch(() => undefined);

  const schedule = (at: number) => setTimeout(settle, Math.max(0, at - now()) + 5).unref();

  /** Everything due by now: traffic shifts in moto, rollbacks started, finished task sets committed. */
  function settle(): void {
    const t = now();
    for (const d of [...deployments.values()]) {
      if (!d.rollsBack && d.shiftAt !== undefined && !d.shifted && t >= d.shiftAt && d.shiftAt <= cutAt(d)) {
        d.shifted = true;
        void updateService(d, d.taskDefinition);
      }
      if (d.rollsBack && !d.shiftedBack && d.shiftAt !== undefined && t >= d.shiftAt) {
        d.shiftedBack = true;
        if (d.rollsBack.shifted) void updateService(d, d.taskDefinition);
      }
      if (d.settled) continue;
      if (d.failAt !== undefined && t >= d.failAt && d.stoppedAt === undefined) {
        d.settled = true;
        if (autoRollbackOn(d, 'DEPLOYMENT_FAILURE') && d.events.length > 0) {
          startRollback(d, d.failAt, 'the deployment failed');
        }
      } else if (d.stoppedAt !== undefined && t >= d.stoppedAt) {
        d.settled = true;
        // Stopped with traffic on the replacement: it serves from now on (a rollback, if any, moves it back).
        if (d.shifted) fleet.commit(d.serviceKey, { ...d.green, since: d.stoppedAt });
      } else if (t >= d.naturalEnd) {
        d.settled = true;
        fleet.commit(d.serviceKey, d.rollsBack ? d.blue : { ...d.green, since: d.naturalEnd });
      }
    }
  }

  function startRollback(d: Deployment, at: number, why: string): Deployment {
    const events = windows(CODEDEPLOY_ROLLBACK_EVENTS, at, minuteMs);
    const {
      failAt: _failAt,
      failEvent: _failEvent,
      error: _error,
      stoppedAt: _stoppedAt,
      shifted: _shifted,
      shiftedBack: _shiftedBack,
      settled: _settled,
      ...base
    } = d;
    const r: Deployment = {
      ...base,
      id: deploymentId(),
      taskDefinition: d.previousTaskDefinition,
      previousTaskDefinition: d.taskDefinition,
      revision: appSpecRevision(d.previousTaskDefinition, d.revision),
      previousRevision: d.revision,
      description: `Rollback of deployment ${d.id}`,
      creator: 'codeDeployRollback',
      createdAt: at,
      startAt: at,
      events,
      shiftAt: events.find((e) => e.name === 'AllowTraffic')!.end,
      naturalEnd: events.at(-1)!.end,
      rollsBack: d,
      rollbackInfo: {
        rollbackTriggeringDeploymentId: d.id,
        rollbackMessage: `Deployment ${d.id} was rolled back: ${why}. This deployment routes traffic back to the original task set.`,
      },
    };
    d.rollbackInfo = {
      rollbackDeploymentId: r.id,
      rollbackMessage: `Rolled back by deployment ${r.id}: ${why} and the deployment group's automatic rollback is on.`,
    };
    deployments.set(r.id, r);
    schedule(r.shiftAt!);
    schedule(r.naturalEnd);
    return r;
  }

  /** The revision of a rollback: the deployment's AppSpec with the original task definition. */
  function appSpecRevision(taskDefinition: string, like: unknown): unknown {
    let spec: {
      version?: number;
      Resources?: { TargetService?: { Type?: string; Properties?: Record<string, unknown> } }[];
    } = {};
    try {
      spec = parseYaml(
        String((like as { appSpecContent?: { content?: string } })?.appSpecContent?.content),
      ) as typeof spec;
    } catch {
      /* made below */
    }
    const props = spec?.Resources?.find((r) => r?.TargetService)?.TargetService?.Properties;
    if (props) props.TaskDefinition = taskDefinition;
    else {
      spec = {
        version: 0.0,
        Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: taskDefinition } } }],
      };
    }
    return { revisionType: 'AppSpecContent', appSpecContent: { content: JSON.stringify(spec) } };
  }

  /** The group's active deployment (of this very group: one deleted and made again, or moto reset, has none). */
  const activeOf = (region: string, groupInfo: Record<string, unknown>, t: number) =>
    [...deployments.values()].find(
      (d) =>
        d.region === region &&
        d.groupInfo.deploymentGroupId === groupInfo.deploymentGroupId &&
        ACTIVE.includes(statusAt(d, t)),
    );

  // ---------- operations ----------

  const moto = (operation: string, body: unknown, auth: string) =>
    upstreamJson(deps.upstream, 'codedeploy', operation, body, auth);

  const motoError = (call: AwsCall, out: { status: number; json: Record<string, unknown> }): Answer =>
    errorAnswer(
      call,
      out.status >= 400 ? out.status : 400,
      String(out.json.__type ?? 'InternalFailure')
        .split('#')
        .pop()!,
      String(out.json.message ?? out.json.Message ?? 'moto could not answer'),
    );

  async function createDeployment(call: AwsCall, auth: string): Promise<Answer | undefined> {
    const p = call.params as {
      applicationName?: string;
      deploymentGroupName?: string;
      revision?: { revisionType?: string; appSpecContent?: { content?: string } };
      description?: string;
      deploymentConfigName?: string;
      autoRollbackConfiguration?: { enabled?: boolean; events?: string[] };
    };
    if (!p.applicationName)
      return errorAnswer(call, 400, 'ApplicationNameRequiredException', 'Application name must be specified.');
    if (!p.deploymentGroupName)
      return errorAnswer(call, 400, 'DeploymentGroupNameRequiredException', 'Deployment group name is required.');
    const got = await moto(
      'GetDeploymentGroup',
      { applicationName: p.applicationName, deploymentGroupName: p.deploymentGroupName },
      auth,
    );
    if (got.status >= 300) return motoError(call, got);
    const groupInfo = (got.json.deploymentGroupInfo ?? {}) as Record<string, unknown>;
    if (groupInfo.computePlatform !== 'ECS') return undefined; // EC2/Lambda: moto's own (not modelled)
    if (!p.revision) return errorAnswer(call, 400, 'RevisionRequiredException', 'RevisionLocation must be specified');
    const t = now();
    const active = activeOf(call.region, groupInfo, t);
    if (active) {
      return errorAnswer(
        call,
        400,
        'DeploymentLimitExceededException',
        `The Deployment Group '${p.deploymentGroupName}' already has an active Deployment '${active.id}'`,
      );
    }
    const ecsService = ((groupInfo.ecsServices as { serviceName?: string; clusterName?: string }[]) ?? [])[0] ?? {};
    const cluster = ecsService.clusterName ?? 'default';
    const service = ecsService.serviceName ?? '';
    const serviceKey = [call.region, cluster, service].join('/');

    // What CodeDeploy checks once the deployment has started (AWS fails the deployment, not the call).
    let error: { code: string; message: string } | undefined;
    let taskDefinition = '';
    if (p.revision.revisionType !== 'AppSpecContent' || typeof p.revision.appSpecContent?.content !== 'string') {
      error = {
        code: 'INVALID_REVISION',
        message:
          'The deployment failed because the ECS AppSpec must be given as AppSpecContent (this emulator reads no S3 revisions).',
      };
    } else {
      let spec: { Resources?: { TargetService?: { Type?: string; Properties?: { TaskDefinition?: string } } }[] };
      try {
        spec = parseYaml(p.revision.appSpecContent.content) as typeof spec;
      } catch (err) {
        spec = {};
        error = {
          code: 'INVALID_REVISION',
          message: `The AppSpec file cannot be parsed: ${(err as Error).message.split('\n')[0]}`,
        };
      }
      const target = spec?.Resources?.find((r) => r?.TargetService)?.TargetService;
      taskDefinition = String(target?.Properties?.TaskDefinition ?? '');
      if (!error && (!target || target.Type !== 'AWS::ECS::Service' || !taskDefinition)) {
        error = {
          code: 'INVALID_REVISION',
          message:
            'The AppSpec file is not valid: it needs Resources with a TargetService of Type AWS::ECS::Service and its Properties.TaskDefinition.',
        };
      }
    }
    const serviceOut = await upstreamJson(
      deps.upstream,
      'ecs',
      'DescribeServices',
      { cluster, services: [service] },
      auth,
    );
    const svc = ((serviceOut.json.services as Record<string, unknown>[] | undefined) ?? []).find(
      (s) => s.status === 'ACTIVE',
    ) as { taskDefinition?: string; desiredCount?: number; runningCount?: number } | undefined;
    if (!error && !svc) {
      error = {
        code: 'INVALID_ECS_SERVICE',
        message: `The ECS service ${service} in cluster ${cluster} cannot be found.`,
      };
    }
    if (!error) {
      const td = await upstreamJson(deps.upstream, 'ecs', 'DescribeTaskDefinition', { taskDefinition }, auth);
      const arn = (td.json.taskDefinition as { taskDefinitionArn?: string } | undefined)?.taskDefinitionArn;
      if (td.status >= 300 || !arn) {
        error = {
          code: 'ECS_UPDATE_ERROR',
          message: `The ECS service cannot be updated: the task definition ${taskDefinition} cannot be found.`,
        };
      } else taskDefinition = arn;
    }

    const id = deploymentId();
    const startAt = t + CODEDEPLOY_CREATED * minuteMs;
    const previousTaskDefinition = svc?.taskDefinition ?? '';
    const desired = svc?.desiredCount ?? 0;
    const blue = fleet.serving(serviceKey, previousTaskDefinition, svc?.runningCount ?? desired);
    const bg = groupInfo.blueGreenDeploymentConfiguration as
      | { terminateBlueInstancesOnDeploymentSuccess?: { terminationWaitTimeInMinutes?: number } }
      | undefined;
    const wait = bg?.terminateBlueInstancesOnDeploymentSuccess?.terminationWaitTimeInMinutes ?? 0;
    const events = error ? [] : windows(CODEDEPLOY_ECS_EVENTS, startAt, minuteMs);
    const configName =
      p.deploymentConfigName ??
      (String(groupInfo.deploymentConfigName ?? '').startsWith('CodeDeployDefault.ECS')
        ? String(groupInfo.deploymentConfigName)
        : 'CodeDeployDefault.ECSAllAtOnce');
    const d: Deployment = {
      id,
      region: call.region,
      application: p.applicationName,
      group: p.deploymentGroupName,
      groupInfo,
      cluster,
      service,
      serviceKey,
      auth,
      taskDefinition,
      previousTaskDefinition,
      desired,
      revision: p.revision,
      ...(p.description !== undefined ? { description: p.description } : {}),
      creator: 'user',
      deploymentConfigName: configName,
      autoRollbackConfiguration: p.autoRollbackConfiguration ??
        (groupInfo.autoRollbackConfiguration as Deployment['autoRollbackConfiguration']) ?? { enabled: false },
      createdAt: t,
      startAt,
      events,
      naturalEnd: error ? Infinity : events.at(-1)!.end + (wait + CODEDEPLOY_TERMINATE) * minuteMs,
      ...(error ? {} : { shiftAt: events.find((e) => e.name === 'AllowTraffic')!.end }),
      ...(error ? { failAt: startAt, error } : {}),
      blue,
      green: { generation: blue.generation + 1, taskDefinition, count: desired, since: startAt },
    };
    const last = [...deployments.values()]
      .filter((x) => x.serviceKey === serviceKey && statusAt(x, t) === 'Succeeded')
      .at(-1);
    if (last) d.previousRevision = last.revision;
    if (!error && deps.take('codedeploy-hook-fails', call)) {
      const hook = events.find((e) => e.name === 'AfterAllowTestTraffic')!;
      d.failAt = hook.end;
      d.failEvent = hook.name;
      d.error = {
        code: 'HOOK_EXECUTION_FAILURE',
        message: 'The deployment failed because one or more of your lifecycle event validation functions failed.',
      };
      deps.happened('codedeploy-hook-fails', call, hook.end, id);
    }
    deployments.set(id, d);
    for (const at of [d.shiftAt, d.failAt, d.naturalEnd]) if (at !== undefined && Number.isFinite(at)) schedule(at);
    return jsonAnswer({ deploymentId: id });
  }

  function stopDeployment(call: AwsCall, d: Deployment): Answer {
    const t = now();
    const status = statusAt(d, t);
    if (!ACTIVE.includes(status)) {
      return errorAnswer(
        call,
        400,
        'DeploymentAlreadyCompletedException',
        `Deployment ${d.id} has already completed with status ${status}.`,
      );
    }
    d.stoppedAt = t;
    d.error = { code: 'MANUAL_STOP', message: 'The deployment was stopped by the user.' };
    const asked = call.params.autoRollbackEnabled;
    const rollback =
      d.creator === 'user' &&
      (typeof asked === 'boolean' ? asked : autoRollbackOn(d, 'DEPLOYMENT_STOP_ON_REQUEST')) &&
      t >= d.startAt;
    settle();
    if (rollback) {
      const r = startRollback(d, t, 'it was stopped on request');
      return jsonAnswer({
        status: 'Pending',
        statusMessage: `Stopping deployment ${d.id}; rollback deployment ${r.id} routes traffic back to the original task set.`,
      });
    }
    return jsonAnswer({ status: 'Succeeded', statusMessage: `Deployment ${d.id} was stopped.` });
  }

  const notFound = (call: AwsCall, id: string) =>
    errorAnswer(
      call,
      400,
      'DeploymentDoesNotExistException',
      `The deployment ${id} does not exist with the user or AWS account.`,
    );

  const mine = (call: AwsCall, id: unknown) => {
    const d = typeof id === 'string' ? deployments.get(id) : undefined;
    return d && d.region === call.region ? d : undefined;
  };

  /** Answers a CodeDeploy call from the layer's state, or undefined: moto answers it. */
  async function handle(call: AwsCall, auth: string): Promise<Answer | undefined> {
    settle();
    const t = now();
    const p = call.params;
    switch (call.operation) {
      case 'CreateDeployment':
        return createDeployment(call, auth);
      case 'GetDeployment': {
        const d = mine(call, p.deploymentId);
        return d ? jsonAnswer({ deploymentInfo: info(d, t) }) : undefined;
      }
      case 'BatchGetDeployments': {
        const ids = (p.deploymentIds as string[] | undefined) ?? [];
        if (!ids.some((id) => mine(call, id))) return undefined;
        const others = ids.filter((id) => !mine(call, id));
        const fromMoto = others.length ? await moto('BatchGetDeployments', { deploymentIds: others }, auth) : undefined;
        return jsonAnswer({
          deploymentsInfo: [
            ...ids.flatMap((id) => {
              const d = mine(call, id);
              return d ? [info(d, t)] : [];
            }),
            ...((fromMoto?.json.deploymentsInfo as unknown[] | undefined) ?? []),
          ],
        });
      }
      case 'ListDeployments': {
        const out = await moto('ListDeployments', p, auth);
        if (out.status >= 300) return motoError(call, out);
        const statuses = p.includeOnlyStatuses as string[] | undefined;
        const range = p.createTimeRange as { start?: number; end?: number } | undefined;
        const ours = [...deployments.values()]
          .filter(
            (d) =>
              d.region === call.region &&
              (!p.applicationName || d.application === p.applicationName) &&
              (!p.deploymentGroupName || d.group === p.deploymentGroupName) &&
              (!statuses?.length || statuses.includes(statusAt(d, t))) &&
              (range?.start === undefined || d.createdAt / 1000 >= range.start) &&
              (range?.end === undefined || d.createdAt / 1000 <= range.end),
          )
          .sort((a, b) => b.createdAt - a.createdAt)
          .map((d) => d.id);
        // Deployments made in moto directly stay Created there.
        const motos =
          (statuses?.length && !statuses.includes('Created') ? [] : (out.json.deployments as string[])) ?? [];
        return jsonAnswer({ deployments: [...ours, ...motos.filter((id) => !deployments.has(id))] });
      }
      case 'StopDeployment': {
        const d = mine(call, p.deploymentId);
        if (d) return stopDeployment(call, d);
        if (!p.deploymentId)
          return errorAnswer(call, 400, 'DeploymentIdRequiredException', 'Deployment id is required.');
        const known = await moto('GetDeployment', { deploymentId: p.deploymentId }, auth);
        if (known.status >= 300) return motoError(call, known);
        return errorAnswer(
          call,
          400,
          'UnsupportedActionForDeploymentTypeException',
          'The emulator cannot stop a deployment that was created in moto directly.',
        );
      }
      case 'SkipWaitTimeForInstanceTermination': {
        // The original task set is terminated now instead of after the group's wait.
        const d = mine(call, p.deploymentId);
        if (!d) return undefined;
        const waiting = statusAt(d, t) === 'InProgress' && d.events.length > 0 && t >= d.events.at(-1)!.end;
        if (!waiting) {
          return errorAnswer(
            call,
            400,
            'DeploymentNotStartedException',
            `Deployment ${d.id} is not waiting to terminate its original task set.`,
          );
        }
        d.naturalEnd = Math.min(d.naturalEnd, t + CODEDEPLOY_TERMINATE * minuteMs);
        schedule(d.naturalEnd);
        return jsonAnswer({});
      }
      case 'ContinueDeployment': {
        const d = mine(call, p.deploymentId);
        if (!d) return undefined;
        // Traffic is rerouted without a wait here (deploymentReadyOption STOP_DEPLOYMENT is not modelled).
        return errorAnswer(
          call,
          400,
          'DeploymentIsNotInReadyStateException',
          `Deployment ${d.id} is not in a ready state: it does not wait for a manual traffic reroute.`,
        );
      }
      case 'ListDeploymentTargets': {
        const d = mine(call, p.deploymentId);
        if (!d) return p.deploymentId ? notFound(call, String(p.deploymentId)) : undefined;
        const status = statusAt(d, t);
        const filter = (p.targetFilters as { TargetStatus?: string[] } | undefined)?.TargetStatus;
        const shown =
          status !== 'Created' && d.events.length > 0 && (!filter?.length || filter.includes(targetStatus(status)));
        return jsonAnswer({ targetIds: shown ? [targetId(d)] : [] });
      }
      case 'BatchGetDeploymentTargets':
      case 'GetDeploymentTarget': {
        const d = mine(call, p.deploymentId);
        if (!d) return p.deploymentId ? notFound(call, String(p.deploymentId)) : undefined;
        const ids =
          call.operation === 'GetDeploymentTarget'
            ? [String(p.targetId ?? '')]
            : ((p.targetIds as string[] | undefined) ?? []);
        const missing = ids.find((id) => id !== targetId(d) || statusAt(d, t) === 'Created' || !d.events.length);
        if (missing !== undefined) {
          return errorAnswer(
            call,
            400,
            'DeploymentTargetDoesNotExistException',
            `The provided target ID ${missing} does not exist in deployment ${d.id}.`,
          );
        }
        return call.operation === 'GetDeploymentTarget'
          ? jsonAnswer({ deploymentTarget: target(d, t) })
          : jsonAnswer({ deploymentTargets: ids.map(() => target(d, t)) });
      }
      default:
        return undefined;
    }
  }

  /**
   * What moto answered, as AWS answers it: timestamps in epoch seconds (moto writes ISO strings, which the SDK cannot
   * read: GetApplication fails), and GetDeploymentGroup with the last attempted and last successful deployment.
   */
  function after(call: AwsCall, text: string): string {
    if (/"(createTime|startTime|completeTime|endTime)": "/.test(text))
      text = JSON.stringify(epochTimes(JSON.parse(text)));
    if (call.operation !== 'GetDeploymentGroup') return text;
    const json = JSON.parse(text) as { deploymentGroupInfo?: Record<string, unknown> };
    const g = json.deploymentGroupInfo;
    if (!g) return text;
    const t = now();
    const ofGroup = [...deployments.values()]
      .filter(
        (d) => d.region === call.region && d.application === g.applicationName && d.group === g.deploymentGroupName,
      )
      .sort((a, b) => a.createdAt - b.createdAt);
    const summary = (d: Deployment) => {
      const status = statusAt(d, t);
      return {
        deploymentId: d.id,
        status,
        createTime: sec(d.createdAt),
        ...(ACTIVE.includes(status) ? {} : { endTime: sec(Math.min(d.naturalEnd, cutAt(d))) }),
      };
    };
    const attempted = ofGroup.at(-1);
    const succeeded = ofGroup.filter((d) => statusAt(d, t) === 'Succeeded').at(-1);
    if (attempted) g.lastAttemptedDeployment = summary(attempted);
    if (succeeded) g.lastSuccessfulDeployment = summary(succeeded);
    for (const k of ['lastAttemptedDeployment', 'lastSuccessfulDeployment', 'targetRevision', 'alarmConfiguration']) {
      if (g[k] && typeof g[k] === 'object' && Object.keys(g[k]).length === 0) delete g[k];
    }
    return JSON.stringify(json);
  }

  /**
   * The task sets of a service while one of its CodeDeploy deployments (or a rollback) is under way, as ListTasks
   * shows them: the original tasks, and the replacement ones from Install on; undefined when none is.
   */
  function taskSets(serviceKey: string, t: number): TaskSet[] | undefined {
    settle();
    const d = [...deployments.values()]
      .filter((x) => x.serviceKey === serviceKey && x.events.length > 0)
      .filter((x) => ACTIVE.includes(statusAt(x, t)))
      .at(-1);
    if (!d) return undefined;
    const sets = target(d, t).ecsTarget.taskSetsInfo.filter((s) => s.runningCount > 0);
    if (!sets.length) return undefined;
    const of = d.rollsBack ?? d;
    return sets.map((s) => ({ ...(s.taskSetLabel === 'Blue' ? of.blue : of.green), count: s.runningCount }));
  }

  return { handle, after, taskSets };
}

export type CodeDeployModel = ReturnType<typeof createCodeDeployModel>;
