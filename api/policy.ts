// The organisation's policy: rules the worker reads from a file (RUNBOOKS_POLICY_FILE, worker/policy-file.ts) and
// every run fixes when it starts (recorded in its history, so a later change of the file never alters a running run).
// An input can only tighten it: for each rule the run uses the stricter of the two (effectiveApproval) and says which
// came from where. Pure code: the workflows use it.
import { z } from 'zod';
import { ACCOUNT_ID, ACCOUNT_NAME } from './accounts';
import type { ApprovalPolicy } from './common';
import { durationString, formatDuration, parseDuration } from './duration';
import { arnMatches, isArnPattern, type VerifiedPrincipal } from './identity';
import { RUNBOOK } from './runbooks';

/** Who: declared names (`bob`, compared case-insensitively) or AWS principal ARN patterns (`arn:aws:iam::*:user/sre-*`). */
const principals = z
  .array(z.string().trim().min(1, { message: 'expected a name or an ARN pattern' }).max(300))
  .max(200)
  .describe('Declared names, or AWS principal ARN patterns (* and ? globs) matched against verified identities');

const identityMode = z
  .enum(['declared', 'aws-iam'])
  .describe('declared: the name a person types is recorded; aws-iam: a signed proof of their AWS identity is required');

const boundedDuration = durationString({ min: '1s', max: '7d' });

export const approvalRules = z
  .object({
    required: z.boolean().optional().describe('A person must approve before any change, whatever the input says'),
    minQuorum: z.number().int().min(1).max(10).optional().describe('At least this many distinct approvals'),
    secondPerson: z.boolean().optional().describe('The person who started the run may not approve it'),
    timeout: z
      .object({ min: boundedDuration.optional(), max: boundedDuration.optional() })
      .strict()
      .optional()
      .describe('Bounds on the approval timeout the input asks for (raised to min, lowered to max)'),
    approvers: principals.optional().describe('Only these may approve or reject (the input may only narrow the list)'),
    identity: identityMode.optional(),
  })
  .strict();

export const runbookPolicy = z
  .object({
    approval: approvalRules.optional(),
    steering: z
      .object({ allowed: principals.optional(), identity: identityMode.optional() })
      .strict()
      .optional()
      .describe('Who may send abort, rollback, promote, pause, resume, keepScaled, retryStep and abandon'),
    acceptDataLoss: z
      .object({ approvers: principals })
      .strict()
      .optional()
      .describe('A run whose input accepts data loss needs an approval from one of these'),
    plannedSwitchover: z
      .object({ approvers: principals })
      .strict()
      .optional()
      .describe('A failover of a healthy primary (plannedSwitchover) needs an approval from one of these'),
    start: z
      .object({ allowed: principals.optional(), identity: identityMode.optional() })
      .strict()
      .optional()
      .describe('Who may start the runbook (the initiator: initiatedBy, or the verified identity of start --aws)'),
    locks: z
      .object({ wait: boundedDuration.optional() })
      .strict()
      .optional()
      .describe('A resource another run is changing: refuse at once (no wait), or wait up to this long in the queue'),
  })
  .strict();
export type RunbookPolicy = z.infer<typeof runbookPolicy>;

/** The runbook types a policy may name: the catalogue's (api/runbooks). */
export const POLICY_RUNBOOKS = Object.keys(RUNBOOK) as (keyof typeof RUNBOOK)[];
export type PolicyRunbook = (typeof POLICY_RUNBOOKS)[number];

/**
 * A named AWS account the runs may act in (input `account: <name>`): its ID, and optionally the role the worker
 * assumes there (else RUNBOOKS_ACCOUNT_ROLE's name in that account) and the external ID its trust policy asks for
 * (else RUNBOOKS_ACCOUNT_EXTERNAL_ID). See docs/accounts.md.
 */
export const accountEntry = z
  .object({
    id: z.string().regex(ACCOUNT_ID, { message: 'expected a 12-digit AWS account ID' }),
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, {
        message: 'expected an IAM role ARN such as arn:aws:iam::111122223333:role/runbooks-target',
      })
      .optional()
      .describe("The role the worker assumes in this account (default: RUNBOOKS_ACCOUNT_ROLE's name there)"),
    // AWS's own limits on an external ID: 2 to 1224 characters of [\w+=,.@:/-].
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, { message: 'expected 2 to 1224 characters of letters, digits and +=,.@:/-' })
      .optional()
      .describe("The sts:ExternalId the role's trust policy requires (default: RUNBOOKS_ACCOUNT_EXTERNAL_ID)"),
  })
  .strict()
  .superRefine((a, ctx) => {
    // A role of another account would act somewhere the name does not say.
    const roleAccount = a.roleArn?.split(':')[4];
    if (roleAccount !== undefined && roleAccount !== a.id) {
      ctx.addIssue({
        code: 'custom',
        path: ['roleArn'],
        message: `the role is in account ${roleAccount}, not in this account (${a.id})`,
      });
    }
  });
export type AccountEntry = z.infer<typeof accountEntry>;

export const policyFile = z
  .object({
    accounts: z
      .record(z.string(), accountEntry)
      .superRefine((accounts, ctx) => {
        // (A key check of its own: zod's record reports a bad key only as "Invalid key in record".)
        for (const name of Object.keys(accounts)) {
          if (!ACCOUNT_NAME.test(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message:
                'expected an account name: a letter, then letters, digits, _ . - (up to 63 characters), so that ' +
                'it cannot be mistaken for an account ID',
            });
          }
        }
      })
      .optional()
      .describe('Named AWS accounts an input may give as `account` (name → id, roleArn, externalId)'),
    default: runbookPolicy.optional().describe('Rules for every runbook, where its own entry does not say'),
    runbooks: z
      .object(
        Object.fromEntries(POLICY_RUNBOOKS.map((t) => [t, runbookPolicy.optional()])) as {
          [K in PolicyRunbook]: z.ZodOptional<typeof runbookPolicy>;
        },
      )
      .strict()
      .optional()
      .describe("Each runbook type's own rules"),
  })
  .strict();
export type PolicyFile = z.infer<typeof policyFile>;

/** The policy one run follows, as the worker hands it over (and the run's history records it). */
export interface LoadedPolicy {
  /** Where it came from, for people: `file /etc/runbooks/policy.yaml`, `built-in floors`, `none`. */
  source: string;
  rules: RunbookPolicy;
  /**
   * Whether the worker that started the run sends chat messages (a webhook is configured). False: the run schedules
   * no notification at all. Absent in runs recorded before it: they notify as they did.
   */
  chat?: boolean;
}

/**
 * With no policy file, the worker's floors: every approval gate is required, by a second person, and only the
 * initiator's own run may be started by anyone. A team that wants less writes a file saying so.
 */
export const BUILT_IN_FLOORS: PolicyFile = {
  default: { approval: { required: true, secondPerson: true, identity: 'declared' } },
};

/** No organisation rules at all: the input's own (tests, and runs recorded before policies existed). */
export const NO_POLICY: LoadedPolicy = { source: 'none', rules: {} };

/** One runbook's rules: its own entry, key by key over the default's. */
export function rulesFor(file: PolicyFile, runbook: string): RunbookPolicy {
  const own = file.runbooks?.[runbook as PolicyRunbook] ?? {};
  const base = file.default ?? {};
  const merged: RunbookPolicy = { ...base, ...own };
  for (const key of ['approval', 'steering', 'start', 'locks'] as const) {
    if (base[key] || own[key]) (merged as Record<string, unknown>)[key] = { ...base[key], ...own[key] };
  }
  return merged;
}

// ——— The stricter of input and policy ———

export type IdentityMode = z.infer<typeof identityMode>;
export type RuleSource = 'input' | 'policy' | 'input and policy';

/** The approval rules a run applies, with where each came from. */
export interface EffectiveApproval {
  policy: ApprovalPolicy & { identity: IdentityMode };
  /** For each rule: who set it — the input, the organisation policy (which raised or narrowed it), or both agree. */
  sources: Record<'required' | 'quorum' | 'requireSecondPerson' | 'timeout' | 'approvers' | 'identity', RuleSource>;
  /** What the policy raised: one sentence each, recorded as the run's warnings. */
  raised: string[];
}

/** The stricter of the input's approval policy and the organisation's rules, rule by rule. */
export function effectiveApproval(input: ApprovalPolicy, rules: RunbookPolicy['approval'] = {}): EffectiveApproval {
  const raised: string[] = [];
  const sources = {} as EffectiveApproval['sources'];

  const required = input.required || rules.required === true;
  sources.required = input.required ? (rules.required ? 'input and policy' : 'input') : required ? 'policy' : 'input';
  if (!input.required && required) {
    raised.push('approval.required: the input asked for no approval; the organisation policy requires one');
  }

  const floorQuorum = rules.minQuorum ?? 1;
  const quorum = Math.max(input.quorum, floorQuorum);
  sources.quorum = input.quorum >= floorQuorum ? (rules.minQuorum ? 'input and policy' : 'input') : 'policy';
  if (input.quorum < floorQuorum) {
    raised.push(`approval.quorum: raised from ${input.quorum} to ${floorQuorum}, the organisation policy's minimum`);
  }

  const requireSecondPerson = input.requireSecondPerson || rules.secondPerson === true;
  sources.requireSecondPerson = input.requireSecondPerson
    ? rules.secondPerson
      ? 'input and policy'
      : 'input'
    : requireSecondPerson
      ? 'policy'
      : 'input';
  if (!input.requireSecondPerson && requireSecondPerson) {
    raised.push('approval.requireSecondPerson: the organisation policy requires a second person');
  }

  let timeout = input.timeout;
  sources.timeout = 'input';
  const ms = parseDuration(input.timeout);
  if (rules.timeout?.min && ms < parseDuration(rules.timeout.min)) {
    timeout = rules.timeout.min;
    sources.timeout = 'policy';
    raised.push(`approval.timeout: raised from ${input.timeout} to ${timeout}, the organisation policy's minimum`);
  } else if (rules.timeout?.max && ms > parseDuration(rules.timeout.max)) {
    timeout = rules.timeout.max;
    sources.timeout = 'policy';
    raised.push(`approval.timeout: lowered from ${input.timeout} to ${timeout}, the organisation policy's maximum`);
  }

  let approvers = input.approvers;
  sources.approvers = 'input';
  const listed = rules.approvers ?? [];
  if (listed.length > 0) {
    if (input.approvers.length === 0) {
      approvers = listed;
      sources.approvers = 'policy';
    } else {
      // The input may only narrow the organisation's list: a name it lists must be on it, or matched by a pattern.
      const kept = input.approvers.filter((a) => allowedBy(listed, a));
      const dropped = input.approvers.filter((a) => !kept.includes(a));
      approvers = kept.length > 0 ? kept : listed;
      sources.approvers = dropped.length === 0 ? 'input and policy' : 'policy';
      if (dropped.length > 0) {
        raised.push(
          `approval.approvers: ${dropped.join(', ')} ${dropped.length === 1 ? 'is' : 'are'} not on the organisation's ` +
            `list (${listed.join(', ')}) and cannot approve` +
            (kept.length === 0 ? "; the organisation's list applies" : ''),
        );
      }
    }
  }

  const identity: IdentityMode = rules.identity ?? 'declared';
  sources.identity = rules.identity ? 'policy' : 'input';

  return {
    policy: { required, approvers, quorum, requireSecondPerson, timeout, identity },
    sources,
    raised,
  };
}

/** Whether an input's approver entry is allowed by the organisation's list. */
function allowedBy(listed: string[], entry: string): boolean {
  const key = entry.trim().toLowerCase();
  return listed.some((l) => l.trim().toLowerCase() === key || (isArnPattern(l) && arnMatches(l, entry)));
}

/**
 * Whether a person is on a list of names and ARN patterns. An ARN pattern matches a verified identity only. A name
 * matches the declared name — or, where the identity must be verified (`aws-iam`), the verified IAM user's name or
 * assumed-role session name (a declared name proves nothing there).
 */
export function onList(
  list: readonly string[],
  who: { declared: string; verified?: VerifiedPrincipal | undefined },
  mode: IdentityMode,
): boolean {
  const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();
  const v = who.verified;
  return list.some((entry) => {
    if (isArnPattern(entry)) return v !== undefined && arnMatches(entry, v.arn);
    if (mode === 'declared') return same(entry, who.declared);
    return v !== undefined && same(entry, v.kind === 'assumed-role' ? (v.session ?? '') : v.name);
  });
}

/** For the details: one line per rule, with where it came from. */
export function describeSources(e: EffectiveApproval): string[] {
  const p = e.policy;
  const from = (k: keyof EffectiveApproval['sources']) =>
    e.sources[k] === 'policy' ? 'organisation policy' : e.sources[k] === 'input' ? 'input' : 'input and policy';
  return [
    `required: ${p.required ? 'yes' : 'no'} (${from('required')})`,
    `quorum: ${p.quorum} (${from('quorum')})`,
    `second person: ${p.requireSecondPerson ? 'yes' : 'no'} (${from('requireSecondPerson')})`,
    `timeout: ${formatDuration(parseDuration(p.timeout))} (${from('timeout')})`,
    `approvers: ${p.approvers.length ? p.approvers.join(', ') : 'anyone'} (${from('approvers')})`,
    `identity: ${p.identity} (${from('identity')})`,
  ];
}
