// AWS's state machines, in AWS minutes, compressed by the layer's clock: one table per resource type says which
// phases an operation goes through and how long each lasts; faults swap a table row for what AWS does when it goes
// wrong. The layer (layer.ts) applies them to what moto answers, which is always the end state at once.

/** A phase of a resource: the status AWS shows, and for how many AWS minutes. `Infinity`: it stays there. */
export interface Phase {
  status: string;
  minutes: number;
}

/** RDS instances: operation → phases before the end state moto already shows. */
export const RDS_INSTANCE: Record<string, Phase[]> = {
  CreateDBInstance: [
    { status: 'creating', minutes: 8 },
    { status: 'backing-up', minutes: 2 },
  ],
  RestoreDBInstanceFromDBSnapshot: [
    { status: 'creating', minutes: 8 },
    { status: 'backing-up', minutes: 2 },
  ],
  RestoreDBInstanceToPointInTime: [
    { status: 'creating', minutes: 8 },
    { status: 'backing-up', minutes: 2 },
  ],
  CreateDBInstanceReadReplica: [
    { status: 'creating', minutes: 10 },
    { status: 'backing-up', minutes: 2 },
  ],
  // The replica source stays set until the promotion has finished (the layer keeps it in the answer).
  PromoteReadReplica: [
    { status: 'modifying', minutes: 3 },
    { status: 'backing-up', minutes: 2 },
  ],
  ModifyDBInstance: [{ status: 'modifying', minutes: 1 }],
  // A rename: found under neither name for a moment, then `renaming` under the new one.
  Rename: [{ status: 'renaming', minutes: 1 }],
  RebootDBInstance: [{ status: 'rebooting', minutes: 1 }],
  DeleteDBInstance: [{ status: 'deleting', minutes: 4 }],
};

/** How long a new instance, or a renamed one under its new name, answers DBInstanceNotFound (AWS minutes). */
export const RDS_NOT_FOUND_AFTER_CREATE = 0.2;
export const RDS_RENAME_GAP = 0.5;

export const RDS_SNAPSHOT: Phase[] = [{ status: 'creating', minutes: 5 }];

/** ECS: minutes for one task of a new deployment to start, and for the old ones to drain after. */
export const ECS_TASK_START = 0.5;
export const ECS_DRAIN = 0.5;

/**
 * ECS: how long a deployment the circuit breaker failed stays listed (ACTIVE, rolloutState FAILED) once the rollback
 * is complete; after that only the rollback's deployment is listed.
 */
export const FAILED_DEPLOYMENT_LISTED = 10;

/** Route 53: a change is PENDING this long before INSYNC (AWS: usually under a minute). */
export const ROUTE53_PENDING = 1;

/** ELBv2: a newly registered target is `initial` this long (health-check interval × healthy threshold). */
export const ELB_TARGET_INITIAL = 0.5;

/**
 * CodeDeploy ECS blue/green: how long a new deployment is `Created` before it starts, then its lifecycle events in
 * order (AWS minutes). Install — the replacement (green) task set starting — is the longest; AllowTraffic ends with
 * production traffic on the replacement. After AfterAllowTraffic the original task set is kept for the group's
 * `terminationWaitTimeInMinutes`, then terminated (CODEDEPLOY_TERMINATE), and the deployment is `Succeeded`.
 */
export const CODEDEPLOY_CREATED = 0.5;
export const CODEDEPLOY_ECS_EVENTS: Phase[] = [
  { status: 'BeforeInstall', minutes: 0.2 },
  { status: 'Install', minutes: 2.5 },
  { status: 'AfterInstall', minutes: 0.3 },
  { status: 'AllowTestTraffic', minutes: 0.3 },
  { status: 'AfterAllowTestTraffic', minutes: 0.5 },
  { status: 'BeforeAllowTraffic', minutes: 0.3 },
  { status: 'AllowTraffic', minutes: 0.5 },
  { status: 'AfterAllowTraffic', minutes: 0.3 },
];
export const CODEDEPLOY_TERMINATE = 0.5;
/** A rollback deployment (CodeDeploy's own, creator `codeDeployRollback`): traffic back to the original task set. */
export const CODEDEPLOY_ROLLBACK_EVENTS: Phase[] = [
  { status: 'BeforeAllowTraffic', minutes: 0.2 },
  { status: 'AllowTraffic', minutes: 0.5 },
  { status: 'AfterAllowTraffic', minutes: 0.2 },
];

/** The faults one can switch on, what each does, and what it takes (shown in the dev banner and the doc). */
export const FAULTS = {
  'restore-fails': 'the next restore or replica creation ends in incompatible-restore instead of available',
  'promote-stuck': 'a promotion stays in modifying (the replica source still set) and never finishes',
  'deploy-circuit-breaker':
    'the next ECS deployment fails its tasks: rolloutState FAILED, then ECS rolls back to the previous revision',
  'tasks-crash-loop': 'the next ECS deployment’s tasks keep stopping with CannotPullContainerError; it never completes',
  'route53-slow': 'Route 53 changes stay PENDING for an hour',
  'throttle-storm': 'a share of all calls ({"rate": 0.3}) is answered with Throttling (HTTP 400) or 503',
  'region-outage': 'every call to one region ({"region": "us-east-1"}) is answered 503 ServiceUnavailable',
  'rename-lag': 'a renamed DB instance is found under neither name for ten minutes',
  'codedeploy-hook-fails':
    'the next CodeDeploy ECS deployment fails its AfterAllowTestTraffic hook (HOOK_EXECUTION_FAILURE), then rolls back',
  'access-denied': 'one operation ({"operation": "UpdateService"}) is refused with AccessDenied',
} as const;

export type FaultName = keyof typeof FAULTS;

export interface Fault {
  name: FaultName;
  /** region-outage: the region; others: only calls to this region. */
  region?: string;
  /** throttle-storm: the share of calls refused (0–1). */
  rate?: number;
  /** access-denied: the operation refused. */
  operation?: string;
  /** How many times the fault fires before it is spent (default: unlimited for storms/outages, 1 otherwise). */
  times?: number;
}

/** When a resource left its phases, and the status it shows at `now` (undefined: the end state). */
export function phaseAt(phases: Phase[], startedAt: number, now: number, minuteMs: number): string | undefined {
  let t = startedAt;
  for (const p of phases) {
    t += p.minutes * minuteMs;
    if (now < t) return p.status;
  }
  return undefined;
}

export function phasesEnd(phases: Phase[], startedAt: number, minuteMs: number): number {
  return startedAt + phases.reduce((sum, p) => sum + p.minutes, 0) * minuteMs;
}
