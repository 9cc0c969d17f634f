// The approval rules as a pure function, so every edge case (quorum, self-approval, unlisted approver,
// duplicate, late decision) is decided in one place and unit-tested without a workflow.
import type { ApprovalPolicy } from '../../api/common';
import { principalKey, type VerifiedPrincipal } from '../../api/identity';
import { onList, type IdentityMode } from '../../api/policy';

export type GatePhase = 'not-open' | 'open' | 'approved' | 'rejected' | 'timed-out' | 'not-required';

export interface GateView {
  phase: GatePhase;
  /** Distinct people whose approval counted at this gate (their declared names). */
  approvedBy: string[];
  /** The same people as compared (verified ARN, or the declared name); defaults to approvedBy. */
  approvedKeys?: string[];
  /** The requirements (below) an accepted approval has met so far. */
  satisfied?: string[];
  closedAt?: string;
}

/** A sender: the name they typed, and who AWS says they are when their decision carried a proof that verified. */
export interface Sender {
  declared: string;
  verified?: VerifiedPrincipal | undefined;
}

export interface DecisionRequest {
  decision: 'approve' | 'reject';
  by: string;
  verified?: VerifiedPrincipal | undefined;
}

/** An approval the gate needs beyond its quorum: one approver from `from` (e.g. because the input accepts data loss). */
export interface Requirement {
  why: string;
  from: readonly string[];
}

export type Verdict =
  | {
      accepted: true;
      /** queued: the gate is not open yet, the decision is applied when it opens. */
      effect: 'queued' | 'counted' | 'approved' | 'rejected';
      approvals: number;
      /** Requirements met once this decision counts (only when there are any). */
      satisfied?: string[];
    }
  | { accepted: false; refusal: string };

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** How the gate tells people apart: the verified identity where there is one, else the declared name. */
export const senderKey = (s: Sender): string =>
  s.verified ? principalKey(s.verified) : s.declared.trim().toLowerCase();

/** Where a policy must see a verified identity, what a declared-only decision is told. */
export const VERIFIED_IDENTITY_REQUIRED =
  "this runbook's policy requires a verified AWS identity (identity: aws-iam); a typed name is not enough";

export function judgeDecision(
  policy: Pick<ApprovalPolicy, 'required' | 'approvers' | 'quorum' | 'requireSecondPerson'> & {
    identity?: IdentityMode;
  },
  initiator: string | { declared?: string | undefined; verified?: VerifiedPrincipal | undefined } | undefined,
  gate: GateView,
  request: DecisionRequest,
  requirements: readonly Requirement[] = [],
): Verdict {
  const { decision, by } = request;
  const mode = policy.identity ?? 'declared';
  const who: Sender = { declared: by, verified: request.verified };
  if (!policy.required || gate.phase === 'not-required') {
    return { accepted: false, refusal: 'this run does not require approval' };
  }
  if (gate.phase === 'approved' || gate.phase === 'rejected' || gate.phase === 'timed-out') {
    const how = gate.phase === 'timed-out' ? 'timed out' : gate.phase;
    return {
      accepted: false,
      refusal: `the approval gate is closed (${how}${gate.closedAt ? ` at ${gate.closedAt}` : ''}); this ${decision} changes nothing`,
    };
  }
  if (mode === 'aws-iam' && !who.verified) return { accepted: false, refusal: VERIFIED_IDENTITY_REQUIRED };
  const started = typeof initiator === 'string' ? { declared: initiator } : (initiator ?? {});
  const isInitiator =
    (started.declared !== undefined && same(by, started.declared)) ||
    (started.verified !== undefined &&
      who.verified !== undefined &&
      principalKey(started.verified) === principalKey(who.verified));
  const listed = policy.approvers.length === 0 || onList(policy.approvers, who, mode);
  const name = who.verified ? `${by} (${who.verified.arn})` : by;
  const notListed = `${name} is not an allowed approver (allowed: ${policy.approvers.join(', ')})`;

  if (decision === 'reject') {
    // Whoever started a run may always call it off; otherwise the approver list applies to rejections too.
    if (!listed && !isInitiator) return { accepted: false, refusal: notListed };
    return { accepted: true, effect: gate.phase === 'open' ? 'rejected' : 'queued', approvals: gate.approvedBy.length };
  }

  if (!listed) return { accepted: false, refusal: notListed };
  if (isInitiator && policy.requireSecondPerson) {
    return { accepted: false, refusal: `${name} started this run and a second person is required` };
  }
  const keys = gate.approvedKeys ?? gate.approvedBy.map((a) => a.trim().toLowerCase());
  if (keys.includes(senderKey(who))) {
    return {
      accepted: false,
      refusal: `${name} has already approved (${gate.approvedBy.length} of ${policy.quorum}); a quorum needs distinct people`,
    };
  }
  const approvals = gate.approvedBy.length + 1;
  const satisfied = requirements
    .filter((r) => (gate.satisfied ?? []).includes(r.why) || onList(r.from, who, mode))
    .map((r) => r.why);
  const extra = requirements.length ? { satisfied } : {};
  if (gate.phase === 'not-open') return { accepted: true, effect: 'queued', approvals, ...extra };
  const done = approvals >= policy.quorum && satisfied.length === requirements.length;
  return { accepted: true, effect: done ? 'approved' : 'counted', approvals, ...extra };
}

/** What the gate still waits for beyond the quorum: "an approval from <list> (<why>)", or nothing. */
export function outstanding(requirements: readonly Requirement[], satisfied: readonly string[]): string[] {
  return requirements
    .filter((r) => !satisfied.includes(r.why))
    .map((r) => `an approval from ${r.from.join(', ')} (${r.why})`);
}
