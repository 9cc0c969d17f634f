// The approval rules as a pure function, so every edge case (quorum, self-approval, unlisted approver,
// duplicate, late decision) is decided in one place and unit-tested without a workflow.
import type { ApprovalPolicy } from '../../api/common';

export type GatePhase = 'not-open' | 'open' | 'approved' | 'rejected' | 'timed-out' | 'not-required';

export interface GateView {
  phase: GatePhase;
  /** Distinct people whose approval counted at this gate. */
  approvedBy: string[];
  closedAt?: string;
}

export interface DecisionRequest {
  decision: 'approve' | 'reject';
  by: string;
}

export type Verdict =
  | {
      accepted: true;
      /** queued: the gate is not open yet, the decision is applied when it opens. */
      effect: 'queued' | 'counted' | 'approved' | 'rejected';
      approvals: number;
    }
  | { accepted: false; refusal: string };

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

export function judgeDecision(
  policy: Pick<ApprovalPolicy, 'required' | 'approvers' | 'quorum' | 'requireSecondPerson'>,
  initiator: string | undefined,
  gate: GateView,
  request: DecisionRequest,
): Verdict {
  const { decision, by } = request;
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
  const isInitiator = initiator !== undefined && same(by, initiator);
  const listed = policy.approvers.length === 0 || policy.approvers.some((a) => same(a, by));

  if (decision === 'reject') {
    // Whoever started a run may always call it off; otherwise the approver list applies to rejections too.
    if (!listed && !isInitiator) {
      return {
        accepted: false,
        refusal: `${by} is not an allowed approver (allowed: ${policy.approvers.join(', ')})`,
      };
    }
    return { accepted: true, effect: gate.phase === 'open' ? 'rejected' : 'queued', approvals: gate.approvedBy.length };
  }

  if (!listed) {
    return {
      accepted: false,
      refusal: `${by} is not an allowed approver (allowed: ${policy.approvers.join(', ')})`,
    };
  }
  if (isInitiator && policy.requireSecondPerson) {
    return { accepted: false, refusal: `${by} started this run and a second person is required` };
  }
  if (gate.approvedBy.some((a) => same(a, by))) {
    return {
      accepted: false,
      refusal: `${by} has already approved (${gate.approvedBy.length} of ${policy.quorum}); a quorum needs distinct people`,
    };
  }
  const approvals = gate.approvedBy.length + 1;
  if (gate.phase === 'not-open') return { accepted: true, effect: 'queued', approvals };
  return { accepted: true, effect: approvals >= policy.quorum ? 'approved' : 'counted', approvals };
}
