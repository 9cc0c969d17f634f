// Pieces every runbook input shares: approval policy, health check, who started the run and why.
import { z } from 'zod';
import { durationString } from './duration';

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
    .refine((p) => p.approvers.length === 0 || p.quorum <= p.approvers.length, {
      message: 'quorum is larger than the list of approvers: the run could never be approved',
      path: ['quorum'],
    });
}
export type ApprovalPolicy = z.infer<ReturnType<typeof approvalPolicy>>;

/** An HTTP health check: `consecutive` successful answers in a row within `timeout`. */
export const healthCheck = z
  .object({
    url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).describe('URL to GET'),
    expectStatus: z.number().int().min(100).max(599).default(200).describe('HTTP status that counts as healthy'),
    consecutive: z.number().int().min(1).max(100).default(3).describe('Successful answers needed in a row'),
    // At most 30s: the check heartbeats after every probe and the activity's heartbeat timeout is 1m.
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

export const awsRegion = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, { message: 'expected an AWS region such as "us-east-1"' });

/** Fields every runbook input carries. */
export const runbookCommon = {
  reason: z.string().trim().min(1).max(2000).optional().describe('Why this runbook is being run (shown in reports)'),
  initiatedBy: identity.optional().describe('Who started the run; needed when a second person must approve'),
  dryRun: z.boolean().default(false).describe('Run read-only steps and return the planned changes, changing nothing'),
};

/** The initiator must be known when the second-person rule is to be enforced. */
export function requireInitiatorWhenSecondPerson(
  value: { initiatedBy?: string | undefined; approval: ApprovalPolicy },
  ctx: z.RefinementCtx,
): void {
  if (value.approval.required && value.approval.requireSecondPerson && !value.initiatedBy) {
    ctx.addIssue({
      code: 'custom',
      path: ['initiatedBy'],
      message:
        'required when approval.required and approval.requireSecondPerson are true (who started the run may not approve it)',
    });
  }
}

/** Approve/reject payloads (signals and updates). */
export const approvePayload = z.object({ by: identity, comment: z.string().max(2000).optional() }).strict();
export const rejectPayload = z
  .object({ by: identity, reason: z.string().trim().min(1, { message: 'expected a reason' }).max(2000) })
  .strict();
export type ApprovePayload = z.infer<typeof approvePayload>;
export type RejectPayload = z.infer<typeof rejectPayload>;

/** One line per problem, each naming the field: `approval.quorum: expected a number ≥ 1 (got 0)`. */
export function describeZodError(error: z.ZodError, root = 'input'): string {
  return error.issues
    .map((issue) => {
      const path = [root, ...issue.path.map(String)].join('.');
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}
