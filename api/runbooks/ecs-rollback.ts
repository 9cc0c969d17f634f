// ecsRollback input: roll an ECS service back to the previous ACTIVE task-definition revision (or a given one).
import { z } from 'zod';
import { approvalPolicy, healthCheck, runbookInput, type HealthResult } from '../common';
import { durationString, formatDuration } from '../duration';
import { ecsServiceKey, ecsServiceRef, shortName } from './ecs';
import { runbookEntry } from './entry';

/**
 * The explicit override for a task-definition revision of another family than the service runs: another family is
 * (nearly always) another application, so a slip of the keyboard in `toRevision` or `version.taskDefinition` would put
 * that application on the service. Only a reason, in the input, lets it through.
 */
export const allowOtherFamily = z
  .object({
    reason: z.string().trim().min(1, { message: 'expected why a revision of another family is right here' }).max(2000),
  })
  .strict()
  .describe(
    'Allow a revision of another task-definition family than the service runs (another family is usually another ' +
      'application): {"reason": "<why>"}',
  );
export type AllowOtherFamily = z.output<typeof allowOtherFamily>;

/**
 * An input's allowOtherFamily only has something to allow when the input names the revision to deploy: otherwise (not
 * `namesRevision`) an issue on it, "only applies with <onlyWith>", where `onlyWith` names that field and why.
 */
export function allowOtherFamilyOnlyWith(
  value: { allowOtherFamily?: AllowOtherFamily | undefined },
  namesRevision: boolean,
  onlyWith: string,
  ctx: z.RefinementCtx,
): void {
  if (value.allowOtherFamily && !namesRevision) {
    ctx.addIssue({ code: 'custom', path: ['allowOtherFamily'], message: `only applies with ${onlyWith}` });
  }
}

/** `arn:…:task-definition/demo-api:3` or `demo-api:3` → `demo-api`. */
export function familyOf(taskDefinition: string): string {
  const tail = taskDefinition.split('/').pop() ?? taskDefinition;
  return tail.replace(/:\d+$/, '');
}

/**
 * The refusal when `given` (the revision a run would deploy) is of another family than the service runs, or undefined
 * when the families match. It names both families and how to override.
 */
export function otherFamilyRefusal(a: {
  /** The input field that named the revision, e.g. `toRevision`. */
  field: string;
  given: { arn: string; family: string };
  service: string;
  /** The task definition the service runs now. */
  runs: string;
}): string | undefined {
  const runsFamily = familyOf(a.runs);
  if (a.given.family === runsFamily) return undefined;
  return (
    `${a.field} ${shortName(a.given.arn)} is a revision of ${a.given.family}, not of ${runsFamily} ` +
    `(${a.service} runs ${shortName(a.runs)}): another family is usually another application, and its containers ` +
    `would replace ${a.service}'s. Check ${a.field}; to use it on purpose, add ` +
    `"allowOtherFamily": {"reason": "<why>"} to the input`
  );
}

/** One deployment of a service as describeService reports it (activities/ecs.ts `ServiceState.deployments`, with its reason). */
export interface EcsDeploymentView {
  id: string;
  status: string;
  taskDefinition: string;
  desiredCount: number;
  runningCount: number;
  rolloutState?: string;
  /** When ECS began it (ISO). */
  createdAt?: string;
}

/** What the rollback's checks read of a described service. */
export interface EcsServiceView {
  taskDefinition: string;
  desiredCount: number;
  runningCount: number;
  deploymentController?: string;
  deployments: EcsDeploymentView[];
}

type EcsServiceRef = { region: string; cluster: string; service: string };

/** The AWS CLI command that shows a service's deployments. */
const deploymentsCommand = (r: EcsServiceRef) =>
  `aws ecs describe-services --region ${r.region} --cluster ${shortName(r.cluster)} --services ${shortName(r.service)} ` +
  `--query 'services[0].deployments'`;

/**
 * The service's current deployment: the PRIMARY one. Its `createdAt` is when the revision the service runs was
 * deployed — ECS records no other "deployed at" for a service (a task definition's registeredAt is when it was
 * registered, not when it went live).
 */
export const primaryDeployment = (s: EcsServiceView): EcsDeploymentView | undefined =>
  s.deployments.find((d) => d.status === 'PRIMARY');

/**
 * The deployment ECS is still carrying out on an ECS-controlled service, or undefined when it has none. The notion of
 * the stability wait (serviceVerdict in activities/ecs.ts), read the other way round:
 * - a deployment whose rolloutState is IN_PROGRESS, except a single deployment whose counts lag the service's (a record
 *   ECS no longer updates: the emulator never updates its deployments after CreateService, so every emulated service
 *   shows its creation's deployment IN_PROGRESS with 0 tasks running; the wait leaves such a record to the service's
 *   counts too);
 * - or more than one deployment (a rollout from the ACTIVE ones to the PRIMARY, its old tasks not drained yet) whose
 *   PRIMARY is neither COMPLETED nor FAILED (AWS reports no rolloutState for some services).
 * CODE_DEPLOY and EXTERNAL services have task sets instead (and this runbook refuses them before asking).
 */
export function deploymentInProgress(s: EcsServiceView): EcsDeploymentView | undefined {
  if ((s.deploymentController ?? 'ECS') !== 'ECS') return undefined;
  const single = s.deployments.length === 1;
  const inStep = (d: EcsDeploymentView) => d.runningCount === s.runningCount && d.desiredCount === s.desiredCount;
  const rolling = s.deployments.find((d) => d.rolloutState === 'IN_PROGRESS' && (!single || inStep(d)));
  if (rolling) return rolling;
  const primary = primaryDeployment(s);
  if (s.deployments.length > 1 && primary && !['COMPLETED', 'FAILED'].includes(primary.rolloutState ?? '')) {
    return primary;
  }
  return undefined;
}

/**
 * Seed 004's rule ("if recent deployment — ROLLBACK"): the refusal when the service has run its current revision for
 * longer than `within` (the input's onlyIfDeployedWithin) — then the problem is probably not the last deployment — or
 * when ECS does not say when that deployment began; undefined when it is recent enough.
 */
export function deployedTooLongAgoRefusal(a: {
  ref: EcsServiceRef;
  s: EcsServiceView;
  /** The input's onlyIfDeployedWithin, as written, and in milliseconds. */
  within: { text: string; ms: number };
  now: number;
}): string | undefined {
  const service = shortName(a.ref.service);
  const runs = shortName(a.s.taskDefinition);
  const primary = primaryDeployment(a.s);
  const drop = 'drop onlyIfDeployedWithin from the input to roll back anyway';
  const deployedAt = primary?.createdAt !== undefined ? Date.parse(primary.createdAt) : Number.NaN;
  if (!primary || Number.isNaN(deployedAt)) {
    return (
      `refusing to roll back: when ${service} began to run ${runs} is unknown (ECS shows ` +
      `${primary ? `its PRIMARY deployment ${primary.id} without a createdAt` : 'no PRIMARY deployment'}), so ` +
      `onlyIfDeployedWithin (${a.within.text}) cannot be checked. Check its deployments (${deploymentsCommand(a.ref)}); ` +
      drop
    );
  }
  const age = Math.max(0, a.now - deployedAt);
  if (age <= a.within.ms) return undefined;
  return (
    `refusing to roll back: ${service} has run ${runs} for ${formatDuration(age)} (deployed ` +
    `${new Date(deployedAt).toISOString()}), longer than onlyIfDeployedWithin (${a.within.text}): the problem is ` +
    `probably not the last deployment (seed 004). Look for another cause first (logs, database, dependencies, load); ` +
    `if the last deployment is still the likely cause, ${drop}`
  );
}

/** How a deployment in progress is named in messages: `<id> of <revision>, started <age> ago (<iso>), n of m tasks running`. */
export function describeDeployment(d: EcsDeploymentView, now: number): string {
  const at = d.createdAt !== undefined ? Date.parse(d.createdAt) : Number.NaN;
  const started = Number.isNaN(at)
    ? 'started at a time ECS does not show'
    : `started ${formatDuration(Math.max(0, now - at))} ago (${new Date(at).toISOString()})`;
  return (
    `${d.id} of ${shortName(d.taskDefinition)}, ${started}, ${d.runningCount} of ${d.desiredCount} tasks running` +
    `, rolloutState ${d.rolloutState ?? 'not reported'}`
  );
}

/** The refusal of a service on which ECS is still carrying out a deployment (without `stopInProgress`). */
export function inProgressRefusal(a: {
  ref: EcsServiceRef;
  s: EcsServiceView;
  deployment: EcsDeploymentView;
  now: number;
}): string {
  const others = a.s.deployments
    .filter((d) => d !== a.deployment)
    .map((d) => `${d.status} ${shortName(d.taskDefinition)}, ${d.runningCount} of ${d.desiredCount} tasks running`);
  return (
    `refusing to roll back: ${shortName(a.ref.service)} has a deployment in progress: ${describeDeployment(a.deployment, a.now)}` +
    (others.length ? ` (other deployments: ${others.join('; ')})` : '') +
    `. A rollback now would replace it mid-way. Wait until ECS completes or fails it (${deploymentsCommand(a.ref)}), ` +
    `then decide; to replace it with the rollback on purpose, add ` +
    `"stopInProgress": {"reason": "<why>"} to the input`
  );
}

/**
 * The explicit override for a deployment still in progress: the rollback's UpdateService replaces it (ECS makes the
 * rollback revision's deployment the PRIMARY and drains the tasks of the one in progress). ECS's StopServiceDeployment
 * is not used: see workflows/ecsRollback.ts.
 */
export const stopInProgress = z
  .object({
    reason: z.string().trim().min(1, { message: 'expected why the deployment in progress may be replaced' }).max(2000),
  })
  .strict()
  .describe(
    'Roll back even though ECS is still carrying out a deployment of the service (rolloutState IN_PROGRESS, or old ' +
      'tasks still draining): the rollback replaces that deployment (ECS stops starting its tasks and drains them) ' +
      'and the run records a warning naming it. Without it such a service is refused. {"reason": "<why>"}',
  );

export const ecsRollbackInput = runbookInput(
  {
    ...ecsServiceRef,
    toRevision: z
      .string()
      .regex(/^(arn:aws[a-z-]*:ecs:[^:]+:\d{12}:task-definition\/)?[A-Za-z0-9_-]+:\d+$/, {
        message: 'expected "family:revision" or a task-definition ARN',
      })
      .optional()
      .describe('Revision to roll back to; default: the newest ACTIVE revision older than the current one'),
    allowOtherFamily: allowOtherFamily.optional(),
    health: healthCheck.optional().describe('Health check after the rollback (N consecutive successful answers)'),
    stableTimeout: durationString({ min: '10s', max: '2h' })
      .default('15m')
      .describe('How long to wait for the service to become stable'),
    onlyIfDeployedWithin: durationString({ min: '1m', max: '30d' })
      .optional()
      .describe(
        "Seed 004's rule: roll back only if the current revision was deployed within this long (its PRIMARY " +
          "deployment's createdAt); an older one is refused, naming its age, changing nothing (the problem is " +
          'probably not the last deployment). Default: no check',
      ),
    stopInProgress: stopInProgress.optional(),
  },
  approvalPolicy(false),
  // Without toRevision the runbook picks an older revision of the service's own family: nothing to allow.
  (v, ctx) =>
    allowOtherFamilyOnlyWith(
      v,
      !!v.toRevision,
      'toRevision (without it the revision is of the service’s own family)',
      ctx,
    ),
);

export type EcsRollbackInput = z.input<typeof ecsRollbackInput>;
export type EcsRollbackParams = z.output<typeof ecsRollbackInput>;

export const ecsRollbackWorkflowId = (i: { region: string; cluster: string; service: string }) =>
  `ecs-rollback:${ecsServiceKey(i)}`;

export interface EcsRollbackResult {
  cluster: string;
  service: string;
  fromTaskDefinition: string;
  toTaskDefinition: string;
  desiredCount: number;
  runningCount: number;
  healthy?: boolean;
  health?: HealthResult;
}

/** ecsRollback in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const ecsRollbackEntry = runbookEntry({
  type: 'ecsRollback',
  slug: 'ecs-rollback',
  title: 'Roll an ECS service back to the previous task definition',
  schema: ecsRollbackInput,
  workflowId: ecsRollbackWorkflowId,
});
