// triage input (read-only) and its diagnosis: read an ECS service (and optionally its database, public endpoint and
// logs), then say what is wrong and which runbook to run next, with its input filled in. The rules live in one pure
// function (`diagnose`), unit-tested without a server; the workflow only gathers the facts it reads.
import { z } from 'zod';
import { awsRegion, runbookCommon } from '../common';
import { durationString, formatDuration, parseDuration } from '../duration';
import { deploymentInProgress, describeDeployment, familyOf, primaryDeployment } from './ecs-rollback';
import { ecsServiceKey, ecsServiceRef, shortName } from './ecs';
import { runbookEntry } from './entry';

/** The CloudWatch Logs filter pattern that counts as "an error line" by default: any of the three terms. */
export const DEFAULT_ERROR_PATTERN = '?ERROR ?Error ?Exception';
/** CPU utilisation (%) from which a healthy service counts as short of capacity. */
export const HIGH_CPU_PERCENT = 85;

export const triageInput = z
  .object({
    ...ecsServiceRef,
    database: z
      .object({
        region: awsRegion.optional().describe('Region of the DB instance; default: the service’s region'),
        dbInstance: z
          .string()
          .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, { message: 'expected an RDS DB instance identifier' })
          .describe('RDS DB instance identifier the service uses'),
      })
      .strict()
      .optional()
      .describe('The service’s database: its status and the last hour’s RDS events are read'),
    endpoint: z
      .object({
        url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).describe('URL to GET (read only)'),
        expectStatus: z.number().int().min(100).max(599).default(200).describe('HTTP status that counts as healthy'),
        timeout: durationString({ min: '100ms', max: '10s' })
          .default('5s')
          .describe('Give up on one GET after this long (three GETs are made)'),
      })
      .strict()
      .optional()
      .describe('The public endpoint: three GETs, each answer’s status and latency recorded'),
    logs: z
      .object({
        logGroup: z
          .string()
          .regex(/^[.\-_/#A-Za-z0-9]{1,512}$/, { message: 'expected a CloudWatch Logs group name' })
          .describe('CloudWatch Logs group of the service, e.g. /ecs/demo-api'),
        filterPattern: z
          .string()
          .max(1024)
          .default(DEFAULT_ERROR_PATTERN)
          .describe('CloudWatch Logs filter pattern of an error line'),
        minutes: z.number().int().min(1).max(1440).default(15).describe('Count the error lines of the last N minutes'),
      })
      .strict()
      .optional()
      .describe('Count the error lines in the service’s log group (FilterLogEvents)'),
    alarms: z
      .object({
        names: z.array(z.string().min(1).max(255)).min(1).max(100).optional().describe('Only these alarms'),
        prefix: z.string().min(1).max(255).optional().describe('Only alarms whose name starts with this'),
      })
      .strict()
      .optional()
      .describe('Which alarms in ALARM to list; default: every alarm in ALARM in the region'),
    recentDeploymentWindow: durationString({ min: '1m', max: '30d' })
      .default('2h')
      .describe(
        'A deployment younger than this counts as recent (a rollback candidate); also the onlyIfDeployedWithin ' +
          'of a recommended ecsRollback',
      ),
    stoppedTasks: z.number().int().min(1).max(100).default(10).describe('How many of the newest stopped tasks to show'),
    reason: runbookCommon.reason,
    initiatedBy: runbookCommon.initiatedBy,
    initiatorProof: runbookCommon.initiatorProof,
    dryRun: runbookCommon.dryRun.describe('Accepted for symmetry: triage only reads, with or without it'),
    account: runbookCommon.account,
  })
  .strict();
export type TriageInput = z.input<typeof triageInput>;
export type TriageParams = z.output<typeof triageInput>;

export const triageWorkflowId = (i: { region: string; cluster: string; service: string }) =>
  `triage:${ecsServiceKey(i)}`;

// ---------- what the reads found ----------

/** A read that could not be made (e.g. a missing permission): AWS's error, `<type>: <message>`. */
export interface Unreadable {
  unreadable: string;
}
export type Read<T> = T | Unreadable;
export const isUnreadable = (r: unknown): r is Unreadable =>
  typeof r === 'object' && r !== null && typeof (r as Unreadable).unreadable === 'string';

export interface TriageDeployment {
  id: string;
  status: string;
  taskDefinition: string;
  rolloutState?: string;
  rolloutStateReason?: string;
  createdAt?: string;
  /** now − createdAt, e.g. "12m30s". */
  age?: string;
  desiredCount: number;
  runningCount: number;
}

export interface TriageService {
  status: string;
  taskDefinition: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  deploymentController: string;
  deployments: TriageDeployment[];
  /** Container images of the current revision (`name=image`). */
  images?: string[];
  /** The newest ACTIVE revision older than the current one (what ecsRollback would go back to); null: none. */
  previousRevision?: string | null;
  /** The load balancer target groups the service registers its tasks in. */
  targetGroupArns?: string[];
}

export interface TriageStoppedTask {
  arn: string;
  taskDefinition: string;
  stoppedAt?: string;
  stopCode?: string;
  /** AWS's reason, with the containers' reasons and non-zero exit codes. */
  reason: string;
  /** Stopped on purpose (scale-in, replaced by a deployment, a person, Spot): not a crash. */
  deliberate: boolean;
}

export interface TriageTargetGroup {
  targetGroupArn: string;
  total: number;
  healthy: number;
  /** Targets not healthy: `id state (reason)`. */
  unhealthy: string[];
}

export interface TriageAlarm {
  name: string;
  reason: string;
  updatedAt?: string;
}

export interface TriageLogs {
  logGroup: string;
  filterPattern: string;
  minutes: number;
  count: number;
  /** True when more lines matched than were counted (the read stops after a bounded number of pages). */
  capped: boolean;
  newest: { at: string; message: string }[];
}

export interface TriageDatabase {
  region: string;
  dbInstance: string;
  found: boolean;
  status?: string;
  events: { at: string; message: string }[];
}

export interface TriageEndpoint {
  url: string;
  expectStatus: number;
  attempts: number;
  ok: number;
  healthy: boolean;
  statuses: (number | null)[];
  lastError?: string;
  /** Average latency of the answers that came, ms. */
  latencyMs?: number;
}

export interface TriageMetrics {
  /** Average CPUUtilization (%) of the newest minute of the last 10, or null without datapoints. */
  cpuPercent: number | null;
  memoryPercent: number | null;
}

export interface TriageFacts {
  ref: { region: string; cluster: string; service: string };
  recentDeploymentWindow: string;
  service: Read<TriageService>;
  stoppedTasks: Read<TriageStoppedTask[]>;
  targets: Read<TriageTargetGroup[]>;
  alarms: Read<TriageAlarm[]>;
  metrics: Read<TriageMetrics>;
  logs?: Read<TriageLogs>;
  database?: Read<TriageDatabase>;
  endpoint?: TriageEndpoint;
}

export type RecommendedRunbook = 'ecsRollback' | 'emergencyScale' | 'ecsRestart' | 'none';

export interface TriageRecommendation {
  runbook: RecommendedRunbook;
  why: string;
  /** A complete input for that runbook (none for 'none'). */
  input?: Record<string, unknown>;
}

/** The run's result: what each read found, the deployments at the top, then the findings and the recommendation. */
export interface TriageResult extends TriageFacts {
  /** The service's deployments (PRIMARY first), with their age; empty when the service could not be read. */
  deployments: TriageDeployment[];
  findings: string[];
  recommendation: TriageRecommendation;
}

// ---------- the diagnosis ----------

const rev = (arn: string) => shortName(arn);
const sameRevision = (a: string, b: string) => a === b || rev(a) === rev(b);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
/** Step names and findings go into markdown tables: no pipes, one line. */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '/').trim();

/** The ecsRollback/ecsRestart `reason`: the finding it acts on, bounded to the field's 2000 characters. */
const reasonFrom = (text: string) => oneLine(`triage: ${text}`).slice(0, 2000);

/**
 * What is wrong and what to run next, from what the reads found. Pure and deterministic (`now` is the workflow's
 * clock): every rule is unit-tested.
 *
 * Rules, first that applies:
 * 1. The database is not available → no runbook on the service (restarting or rolling it back cannot help); the
 *    finding names the RDS status, and regionalFailover / snapshotRestore are named in the text only.
 * 2. A deployment ECS is carrying out whose tasks keep failing → ecsRollback, noting that the run will refuse it
 *    until the deployment ends, unless `stopInProgress` is added (suggested in the text, not put in the input).
 * 3. A recent deployment (within recentDeploymentWindow) and its tasks crash, alarms are in ALARM or the logs show
 *    errors → ecsRollback with onlyIfDeployedWithin = the window.
 * 4. CPU ≥ 85 % while targets and endpoint are healthy → emergencyScale to ceil(1.5 × desired) (at least +1).
 * 5. Tasks crash, fewer run than desired, targets or the endpoint are unhealthy, without a recent deployment →
 *    ecsRestart.
 * 6. Otherwise nothing to run.
 */
export function diagnose(f: TriageFacts, now: number): { findings: string[]; recommendation: TriageRecommendation } {
  const findings: string[] = [];
  const name = shortName(f.ref.service);
  const ref = { region: f.ref.region, cluster: f.ref.cluster, service: f.ref.service };
  const windowMs = parseDuration(f.recentDeploymentWindow);

  // --- the service and its deployments
  const svc = isUnreadable(f.service) ? undefined : f.service;
  if (!svc) findings.push(`The service could not be read (${(f.service as Unreadable).unreadable}).`);
  const primary = svc ? primaryDeployment(svc) : undefined;
  const deployedAt = primary?.createdAt ? Date.parse(primary.createdAt) : Number.NaN;
  const deployedAgo = Number.isNaN(deployedAt) ? undefined : Math.max(0, now - deployedAt);
  const recent = deployedAgo !== undefined && deployedAgo <= windowMs;
  const rolling = svc ? deploymentInProgress(svc) : undefined;
  if (svc && primary) {
    findings.push(
      `${name} runs ${rev(primary.taskDefinition)}, deployed ${deployedAgo !== undefined ? `${formatDuration(deployedAgo)} ago` : 'at a time ECS does not show'}` +
        ` (${recent ? 'recent' : 'not recent'}: window ${f.recentDeploymentWindow}; rollout ${primary.rolloutState ?? 'not reported'})` +
        (svc.previousRevision ? `; the previous revision is ${rev(svc.previousRevision)}` : '') +
        '.',
    );
  }
  if (rolling) findings.push(`A deployment is in progress: ${describeDeployment(rolling, now)}.`);
  const failedRollout = svc?.deployments.find((d) => d.rolloutState === 'FAILED');
  if (failedRollout) {
    findings.push(
      `Deployment ${failedRollout.id} of ${rev(failedRollout.taskDefinition)} FAILED` +
        `${failedRollout.rolloutStateReason ? `: ${failedRollout.rolloutStateReason}` : ''}.`,
    );
  }
  const short = svc && svc.runningCount < svc.desiredCount;
  if (svc && short) {
    findings.push(`Only ${svc.runningCount} of ${svc.desiredCount} tasks of ${name} are running.`);
  }

  // --- stopped tasks
  const stopped = isUnreadable(f.stoppedTasks) ? [] : f.stoppedTasks;
  if (isUnreadable(f.stoppedTasks)) findings.push(`Stopped tasks could not be read (${f.stoppedTasks.unreadable}).`);
  const crashed = stopped.filter((t) => !t.deliberate);
  const currentRevision = primary?.taskDefinition ?? svc?.taskDefinition;
  const crashedCurrent = currentRevision ? crashed.filter((t) => sameRevision(t.taskDefinition, currentRevision)) : [];
  const crashedRolling = rolling ? crashed.filter((t) => sameRevision(t.taskDefinition, rolling.taskDefinition)) : [];
  if (crashed.length) {
    const byRevision = new Map<string, TriageStoppedTask[]>();
    for (const t of crashed)
      byRevision.set(rev(t.taskDefinition), [...(byRevision.get(rev(t.taskDefinition)) ?? []), t]);
    for (const [revision, tasks] of byRevision) {
      const reasons = [...new Set(tasks.map((t) => t.reason))].slice(0, 2);
      findings.push(`${plural(tasks.length, 'task')} of ${revision} stopped unexpectedly: ${reasons.join(' / ')}.`);
    }
  }

  // --- targets, alarms, logs, metrics, database, endpoint
  const groups = isUnreadable(f.targets) ? [] : f.targets;
  if (isUnreadable(f.targets)) findings.push(`Target health could not be read (${f.targets.unreadable}).`);
  const sickGroups = groups.filter((g) => g.healthy < g.total || (g.total === 0 && (svc?.desiredCount ?? 0) > 0));
  for (const g of sickGroups) {
    if (g.total === 0) {
      findings.push(`No target is registered in ${shortName(g.targetGroupArn.replace(/\/[0-9a-f]+$/, ''))}.`);
      continue;
    }
    findings.push(
      `${g.total - g.healthy} of ${g.total} targets in ${shortName(g.targetGroupArn.replace(/\/[0-9a-f]+$/, ''))} are not healthy` +
        `${g.unhealthy.length ? ` (${g.unhealthy.slice(0, 3).join('; ')})` : ''}.`,
    );
  }
  const alarms = isUnreadable(f.alarms) ? [] : f.alarms;
  if (isUnreadable(f.alarms)) findings.push(`Alarms could not be read (${f.alarms.unreadable}).`);
  if (!isUnreadable(f.alarms) && alarms.length === 0) findings.push('No alarm is in ALARM.');
  for (const a of alarms) {
    findings.push(
      `Alarm ${a.name} is in ALARM${a.updatedAt ? ` since ${a.updatedAt}` : ''}: ${a.reason || 'no reason given'}.`,
    );
  }
  const logs = f.logs && !isUnreadable(f.logs) ? f.logs : undefined;
  if (f.logs && isUnreadable(f.logs)) findings.push(`The logs could not be read (${f.logs.unreadable}).`);
  const logErrors = logs ? logs.count : 0;
  if (logs && logs.count > 0) {
    findings.push(
      `${logs.capped ? 'More than ' : ''}${plural(logs.count, 'log line')} in ${logs.logGroup} matched ` +
        `"${logs.filterPattern}" in the last ${logs.minutes}m` +
        `${logs.newest[0] ? `; newest: ${logs.newest[0].message.slice(0, 200)}` : ''}.`,
    );
  }
  const metrics = isUnreadable(f.metrics) ? undefined : f.metrics;
  if (isUnreadable(f.metrics)) findings.push(`CPU and memory could not be read (${f.metrics.unreadable}).`);
  const cpu = metrics?.cpuPercent ?? null;
  const cpuHigh = cpu !== null && cpu >= HIGH_CPU_PERCENT;
  if (cpuHigh) findings.push(`CPU is at ${Math.round(cpu)} % (the last minute's average).`);
  if (metrics?.memoryPercent !== null && metrics?.memoryPercent !== undefined && metrics.memoryPercent >= 90) {
    findings.push(`Memory is at ${Math.round(metrics.memoryPercent)} % (the last minute's average).`);
  }
  const db = f.database && !isUnreadable(f.database) ? f.database : undefined;
  if (f.database && isUnreadable(f.database))
    findings.push(`The database could not be read (${f.database.unreadable}).`);
  const dbDown = db && (!db.found || db.status !== 'available');
  if (db && dbDown) {
    findings.push(
      db.found
        ? `Database ${db.dbInstance} (${db.region}) is ${db.status}, not available` +
            `${db.events[0] ? `; newest RDS event: ${db.events[0].message}` : ''}.`
        : `Database ${db.dbInstance} was not found in ${db.region}.`,
    );
  }
  const ep = f.endpoint;
  const endpointDown = ep !== undefined && !ep.healthy;
  if (ep && endpointDown) {
    const answers = ep.statuses.map((s) => (s === null ? 'no answer' : String(s))).join(', ');
    findings.push(
      `${ep.url} answered ${ep.ok} of ${ep.attempts} GETs with ${ep.expectStatus} (got ${answers})` +
        `${ep.lastError ? `; last error: ${ep.lastError}` : ''}.`,
    );
  }

  const troubled =
    crashedCurrent.length > 0 || alarms.length > 0 || logErrors > 0 || !!failedRollout || short || endpointDown;
  if (!troubled && !cpuHigh && !dbDown && sickGroups.length === 0 && !crashed.length) {
    findings.push(`Nothing wrong found with ${name}: its tasks run as desired and none crashed.`);
  }

  // --- the recommendation
  const rollbackInput = (finding: string, withWindow: boolean) => ({
    ...ref,
    reason: reasonFrom(finding),
    ...(withWindow ? { onlyIfDeployedWithin: f.recentDeploymentWindow } : {}),
  });
  const rollbackBlocked = (): string | undefined => {
    if (!svc) return undefined;
    if (svc.deploymentController !== 'ECS') {
      return `${name} is deployed by ${svc.deploymentController}, which ecsRollback cannot roll back: redeploy the previous revision through it (ecsDeploy)`;
    }
    if (svc.previousRevision === null) {
      return `there is no ACTIVE revision of ${familyOf(svc.taskDefinition)} older than ${rev(svc.taskDefinition)} to roll back to: fix forward (ecsDeploy)`;
    }
    return undefined;
  };

  let recommendation: TriageRecommendation;
  if (db && dbDown) {
    recommendation = {
      runbook: 'none',
      why:
        `database ${db.dbInstance} is ${db.found ? db.status : 'missing'}: a rollback or restart of ${name} cannot help ` +
        `while it is down. If it does not recover, consider regionalFailover (promote its cross-region replica) or ` +
        `snapshotRestore (restore it from a snapshot).`,
    };
  } else if (rolling && (crashedRolling.length > 0 || failedRollout)) {
    const evidence = crashedRolling.length
      ? `${plural(crashedRolling.length, 'task')} of ${rev(rolling.taskDefinition)} stopped (${crashedRolling[0]!.reason})`
      : `deployment ${failedRollout!.id} FAILED`;
    const blocked = rollbackBlocked();
    const finding = `deployment in progress of ${rev(rolling.taskDefinition)} is failing: ${evidence}`;
    recommendation = blocked
      ? { runbook: 'none', why: `${finding}; but ${blocked}.` }
      : {
          runbook: 'ecsRollback',
          why:
            `${finding}. ECS is still carrying that deployment out, so ecsRollback refuses it until ECS completes or ` +
            `fails it; to replace it now, add "stopInProgress": {"reason": "<why>"} to the input.`,
          input: rollbackInput(finding, recent),
        };
  } else if (recent && (crashedCurrent.length > 0 || alarms.length > 0 || logErrors > 0 || failedRollout)) {
    const evidence = [
      ...(crashedCurrent.length
        ? [`${plural(crashedCurrent.length, 'task')} crashed (${crashedCurrent[0]!.reason})`]
        : []),
      ...(alarms.length ? [`alarm ${alarms.map((a) => a.name).join(', ')} in ALARM`] : []),
      ...(logErrors > 0 ? [`${plural(logErrors, 'error line')} in ${logs!.minutes}m`] : []),
      ...(failedRollout && !crashedCurrent.length ? [`deployment ${failedRollout.id} FAILED`] : []),
    ].join(', ');
    const finding = `${rev(primary!.taskDefinition)} was deployed ${formatDuration(deployedAgo!)} ago and ${evidence}`;
    const blocked = rollbackBlocked();
    recommendation = blocked
      ? { runbook: 'none', why: `${finding}; but ${blocked}.` }
      : {
          runbook: 'ecsRollback',
          why:
            `${finding}: roll back to ${svc?.previousRevision ? rev(svc.previousRevision) : 'the previous revision'}` +
            ` (refused by the run if the deployment is older than ${f.recentDeploymentWindow} by then).`,
          input: rollbackInput(finding, true),
        };
  } else if (svc && cpuHigh && sickGroups.length === 0 && !endpointDown && crashedCurrent.length === 0) {
    const current = svc.desiredCount;
    const desiredCount = Math.max(Math.ceil(current * 1.5), current + 1);
    const finding = `CPU at ${Math.round(cpu)} % while ${name} is healthy (${svc.runningCount} of ${current} running)`;
    recommendation = {
      runbook: 'emergencyScale',
      why: `${finding}: add capacity, ${current} → ${desiredCount} tasks.`,
      input: { ...ref, desiredCount, maxCount: Math.max(20, desiredCount), reason: reasonFrom(finding) },
    };
  } else if (svc && (crashed.length > 0 || short || sickGroups.length > 0 || endpointDown)) {
    const evidence = [
      ...(crashed.length ? [`${plural(crashed.length, 'task')} stopped (${crashed[0]!.reason})`] : []),
      ...(short ? [`${svc.runningCount} of ${svc.desiredCount} running`] : []),
      ...(sickGroups.length ? ['targets not healthy'] : []),
      ...(endpointDown ? [`${ep!.url} unhealthy`] : []),
    ].join(', ');
    const finding = `${name} is unhealthy without a recent deployment: ${evidence}`;
    recommendation = {
      runbook: 'ecsRestart',
      why: `${finding}: start fresh tasks of ${rev(svc.taskDefinition)} (a new deployment of the same revision).`,
      input: { ...ref, reason: reasonFrom(finding) },
    };
  } else {
    recommendation = {
      runbook: 'none',
      why: svc
        ? troubled
          ? `nothing a runbook on ${name} would fix: see the findings.`
          : `nothing wrong found with ${name}.`
        : 'the service could not be read; fix the permission and run triage again.',
    };
  }
  return { findings: findings.map(oneLine), recommendation };
}

/** triage in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const triageEntry = runbookEntry({
  type: 'triage',
  slug: 'triage',
  title: 'Diagnose a service (deployments, stopped tasks, targets, alarms, logs, database, endpoint) — read only',
  schema: triageInput,
  workflowId: triageWorkflowId,
});
