// ecsRollback input: roll an ECS service back to the previous ACTIVE task-definition revision (or a given one).
import { z } from 'zod';
import { approvalPolicy, healthCheck, runbookInput, type HealthResult } from '../common';
import { durationString } from '../duration';
import { ecsServiceKey, ecsServiceRef, shortName } from './ecs';

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
