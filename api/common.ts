// Pieces every runbook input shares: approval policy, health check, who started the run and why.
import { z } from 'zod';
import { ACCOUNT_REF, ACCOUNT_REF_MESSAGE } from './accounts';
import { durationString } from './duration';
import { awsProof } from './identity';

// Load zod's English messages explicitly: bundlers that honour zod's `sideEffects: false` (the workflow bundle)
// would otherwise drop them and every message would read "Invalid input".
z.config(z.locales.en());

export const identity = z
  .string()
  .trim()
  .min(1, { message: 'expected a non-empty name' })
  .max(200)
  .regex(/^[^\s].*$/, { message: 'expected a name' });

/** Approval policy. Defaults are the safe choice; `required` differs per runbook. */
export function approvalPolicy(requiredByDefault: boolean) {
  return z
    .object({
      required: z.boolean().default(requiredByDefault).describe('Whether a person must approve before any change'),
      approvers: z
        .array(identity)
        .max(50)
        .default([])
        .describe('Who may approve or reject; empty means anyone (except the initiator when requireSecondPerson)'),
      quorum: z.number().int().min(1).max(10).default(1).describe('Distinct approvals needed'),
      requireSecondPerson: z
        .boolean()
        .default(true)
        .describe('The person who started the run (initiatedBy) may not approve it'),
      timeout: durationString({ min: '1s', max: '7d' })
        .default('1h')
        .describe('No decision within this time counts as a rejection: the run compensates and fails'),
    })
    .strict()
    .default({
      required: requiredByDefault,
      approvers: [],
      quorum: 1,
      requireSecondPerson: true,
      timeout: '1h',
    })
    .superRefine((p, ctx) => {
      // Names compare case-insensitively at the gate, so "bob" and "BOB" are one person: one approval.
      const first = new Map<string, number>();
      p.approvers.forEach((name, i) => {
        const key = sameName(name);
        const earlier = first.get(key);
        if (earlier === undefined) first.set(key, i);
        else
          ctx.addIssue({
            code: 'custom',
            path: ['approvers', i],
            message: `${name} is listed twice (as ${p.approvers[earlier]}; names compare case-insensitively)`,
          });
      });
      if (p.approvers.length > 0 && p.quorum > first.size) {
        ctx.addIssue({
          code: 'custom',
          path: ['quorum'],
          message: `${p.quorum} approvals needed but only ${first.size} distinct approver(s) listed: the run could never be approved`,
        });
      }
    });
}

/** How the approval gate compares names (see workflows/lib/approval-policy.ts). */
export const sameName = (name: string) => name.trim().toLowerCase();
export type ApprovalPolicy = z.infer<ReturnType<typeof approvalPolicy>>;

/** An HTTP health check: `consecutive` successful answers in a row within `timeout`. */
export const healthCheck = z
  .object({
    url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).describe('URL to GET'),
    expectStatus: z.number().int().min(100).max(599).default(200).describe('HTTP status that counts as healthy'),
    consecutive: z.number().int().min(1).max(100).default(3).describe('Successful answers needed in a row'),
    // At most 30s between probes (each probe is reported in the check's heartbeat; the worker keeps it alive between).
    interval: durationString({ min: '100ms', max: '30s' }).default('5s').describe('Pause between probes'),
    timeout: durationString({ min: '1s', max: '1h' }).default('2m').describe('Give up after this long'),
  })
  .strict();
export type HealthCheck = z.infer<typeof healthCheck>;

/** What a health check found. */
export interface HealthResult {
  url: string;
  healthy: boolean;
  attempts: number;
  consecutiveOk: number;
  lastStatus?: number;
  lastError?: string;
  elapsedMs: number;
}

/**
 * The recovery-time target (seed 000: 15 minutes): the report and the notification compare the measured RTO with it,
 * and a run that took longer finishes with a warning saying by how much.
 */
export const rtoTarget = durationString({ min: '1s', max: '7d' }).describe(
  'Recovery-time target, e.g. "15m": the report and the notification say whether the RTO met it (a miss is a warning)',
);

export const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, { message: 'expected an AWS region such as "us-east-1"' });

/** Fields every runbook input carries. */
export const runbookCommon = {
  reason: z.string().trim().min(1).max(2000).optional().describe('Why this runbook is being run (shown in reports)'),
  initiatedBy: identity.optional().describe('Who started the run; needed when a second person must approve'),
  dryRun: z.boolean().default(false).describe('Run read-only steps and return the planned changes, changing nothing'),
  initiatorProof: awsProof
    .optional()
    .describe('Proof of who started the run: a signed sts:GetCallerIdentity request (CLI start --aws)'),
  // Carried to every activity in a header (workflows/interceptors/account.ts); the worker assumes the account's role.
  account: z
    .string()
    .regex(ACCOUNT_REF, { message: ACCOUNT_REF_MESSAGE })
    .optional()
    .describe(
      "The AWS account the target lives in: a 12-digit account ID or a name from the organisation policy's " +
        "accounts; the worker acts there through an assumed role (docs/accounts.md). Absent: the worker's own account",
    ),
};

/** The initiator must be known when the second-person rule is to be enforced. */
export function requireInitiatorWhenSecondPerson(
  value: { initiatedBy?: string | undefined; approval: ApprovalPolicy },
  ctx: z.RefinementCtx,
): void {
  const a = value.approval;
  if (a.required && a.requireSecondPerson && !value.initiatedBy) {
    ctx.addIssue({
      code: 'custom',
      path: ['initiatedBy'],
      message:
        'required when approval.required and approval.requireSecondPerson are true (who started the run may not approve it)',
    });
  }
  // The initiator may not approve: the listed approvers left must still make the quorum.
  if (a.required && a.requireSecondPerson && value.initiatedBy && a.approvers.length > 0) {
    const initiator = sameName(value.initiatedBy);
    const distinct = new Set(a.approvers.map(sameName));
    const others = new Set([...distinct].filter((n) => n !== initiator));
    // (A list too short even with the initiator is already refused by the policy itself.)
    if (distinct.size >= a.quorum && others.size < a.quorum) {
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'approvers'],
        message:
          `${value.initiatedBy} started the run and may not approve it (requireSecondPerson), which leaves ` +
          `${others.size} approver(s) for a quorum of ${a.quorum}: the run could never be approved; add approvers ` +
          `or have someone else start it`,
      });
    }
  }
}

/**
 * The input schema of a runbook with an approval gate: its own fields, then `approval` and the fields every runbook
 * input carries (runbookCommon); unknown fields are refused. `checks`, the runbook's own rules across fields, run
 * before the rule on the initiator (requireInitiatorWhenSecondPerson), so their issues come first.
 */
export function runbookInput<S extends z.ZodRawShape>(
  shape: S,
  approval: ReturnType<typeof approvalPolicy>,
  checks?: (value: z.output<RunbookInputSchema<S>>, ctx: z.RefinementCtx) => void,
) {
  const schema: RunbookInputSchema<S> = z.object({ ...shape, approval, ...runbookCommon }).strict();
  return schema.superRefine((value, ctx) => {
    checks?.(value, ctx);
    // `value` has the fields of runbookCommon and `approval` (TypeScript cannot see it through the generic shape).
    requireInitiatorWhenSecondPerson(value as Parameters<typeof requireInitiatorWhenSecondPerson>[0], ctx);
  });
}
type RunbookInputSchema<S extends z.ZodRawShape> = z.ZodObject<
  S & { approval: ReturnType<typeof approvalPolicy> } & typeof runbookCommon,
  z.core.$strict
>;

/**
 * What an operator sends (signals and updates): one schema per payload shape, each operator message's TypeScript
 * type derived from it (api/definitions.ts). The workflows validate every payload with these and record a refused
 * one with the reason (workflows/lib/signals.ts).
 */
/**
 * Every operator message may carry `proof`: a signed sts:GetCallerIdentity request proving who sent it (api/identity.ts;
 * the CLI's `--aws`). Where the organisation policy requires a verified identity, a message without one is refused.
 */
const proof = awsProof.optional().describe('A signed sts:GetCallerIdentity request bound to this decision (CLI --aws)');
const reason = z.string().trim().min(1, { message: 'expected a reason' }).max(2000);
/** `{by}`: pause, resume, promote, retryStep. */
export const byPayload = z.object({ by: identity, proof }).strict();
/** `{by, reason}`: reject, abort, rollback, abandon — anything that stops or undoes a run says why. */
export const byReasonPayload = z.object({ by: identity, reason, proof }).strict();
/** `{by, comment?}`: approve. */
export const approvePayload = z.object({ by: identity, comment: z.string().max(2000).optional(), proof }).strict();
/** `{by, reason?}`: keepScaled. */
export const byOptionalReasonPayload = z
  .object({ by: identity, reason: z.string().max(2000).optional(), proof })
  .strict();
export const rejectPayload = byReasonPayload;
export type ByPayload = z.input<typeof byPayload>;
export type ByReasonPayload = z.input<typeof byReasonPayload>;
export type ApprovePayload = z.input<typeof approvePayload>;
export type RejectPayload = ByReasonPayload;
export type ByOptionalReasonPayload = z.input<typeof byOptionalReasonPayload>;

/** One line per problem, each naming the field: `approval.quorum: expected a number ≥ 1 (got 0)`. */
export function describeZodError(error: z.ZodError, root = 'input'): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].join('.');
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}
