// What a run reports about itself: the `status` query, the current-details markdown and the final report
// all read these shapes.
import type { ApprovalPolicy } from './common';
import type { EffectiveApproval, RunbookPolicy } from './policy';

export type RunbookState =
  | 'validating'
  | 'running'
  | 'awaiting-approval'
  | 'waiting'
  | 'compensating'
  | 'needs-operator'
  | 'succeeded'
  | 'failed';

export type StepOutcome = 'running' | 'succeeded' | 'failed' | 'skipped';

export interface StepRecord {
  name: string;
  startedAt: string;
  endedAt?: string;
  outcome: StepOutcome;
  /** True when the step changes something in AWS. */
  mutating: boolean;
  details?: Record<string, unknown>;
  error?: string;
}

export interface ApprovalDecisionRecord {
  at: string;
  by: string;
  decision: 'approve' | 'reject';
  /** How it arrived: a signal (fire and forget) or an update (answered at once). */
  via: 'signal' | 'update';
  accepted: boolean;
  /** Why a decision was refused. */
  refusal?: string;
  comment?: string;
  reason?: string;
  gate?: string;
  /** Who AWS says sent it, when it carried a proof that verified (CLI --aws): the identity that counted. */
  verified?: VerifiedSender;
}

/** A sender's verified AWS identity, as recorded with a decision. */
export interface VerifiedSender {
  arn: string;
  /** An assumed role's session name (with AWS SSO, the person's user name). */
  session?: string;
}

/**
 * An operator signal other than approve/reject (pause, resume, promote, abort, rollback, retryStep, abandon,
 * keepScaled), as the run took it: a signal gets no answer, so this record is where its sender sees whether it
 * counted, and if not, why (a malformed payload, or one the run could not take at that moment).
 */
export interface SignalRecord {
  at: string;
  signal: string;
  /** Who sent it (`(unknown)` when the payload did not say). */
  by: string;
  accepted: boolean;
  refusal?: string;
  reason?: string;
  /** Who AWS says sent it, when it carried a proof that verified (CLI --aws). */
  verified?: VerifiedSender;
}

/** The rules a run follows, fixed when it started: the organisation's, the input's, and what applied. */
export interface PolicyView {
  /** Where the organisation's rules came from: `file …`, `built-in floors`, or `none`. */
  source: string;
  /** The organisation's rules for this runbook (api/policy.ts RunbookPolicy). */
  organisation: RunbookPolicy;
  /** The approval policy the input asked for (with its defaults). */
  input?: ApprovalPolicy;
  /** What the run applies: the stricter of the two, rule by rule. */
  effective?: EffectiveApproval['policy'];
  /** For each approval rule: the input, the organisation policy, or both. */
  sources?: EffectiveApproval['sources'];
  /** The initiator, and their verified AWS identity when the run was started with --aws. */
  initiator?: { declared?: string; verified?: VerifiedSender };
}

export interface PendingApproval {
  gate: string;
  openedAt: string;
  deadline: string;
  /** Names that may approve; empty means anyone (other than the initiator when a second person is required). */
  approvers: string[];
  quorum: number;
  approvedBy: string[];
  initiator?: string;
  secondPersonRequired: boolean;
  /** `aws-iam`: only an approval carrying a verified AWS identity counts (CLI --aws); absent: declared names. */
  identity?: 'declared' | 'aws-iam';
  /** What the gate needs beyond the quorum, e.g. "an approval from … (acceptDataLoss)". */
  alsoNeeds?: string[];
  /** What the approver is asked to agree to. */
  summary: string;
  plan: PlannedAction[];
  how: {
    approveSignal: 'approve';
    approveExample: { by: string; comment?: string };
    rejectSignal: 'reject';
    rejectExample: { by: string; reason: string };
    cli: string;
  };
}

export interface CompensationRecord {
  name: string;
  startedAt: string;
  endedAt: string;
  outcome: 'succeeded' | 'failed';
  error?: string;
  /** What the compensation found or did, when it says (e.g. "ECS's circuit breaker had already rolled back"). */
  note?: string;
}

/** A change the run will make (dry run result, approval plan). */
export interface PlannedAction {
  step: string;
  action: string;
  params: Record<string, unknown>;
}

export interface RunbookStatus {
  runbook: string;
  workflowId: string;
  target: string;
  state: RunbookState;
  currentStep?: string;
  startedAt: string;
  endedAt?: string;
  dryRun: boolean;
  reason?: string;
  initiatedBy?: string;
  steps: StepRecord[];
  approvals: ApprovalDecisionRecord[];
  /** Operator signals other than approvals, accepted or refused (absent until the first one). */
  signals?: SignalRecord[];
  pendingApproval?: PendingApproval;
  /** The rules the run follows (absent in runs recorded before organisation policies). */
  policy?: PolicyView;
  compensations: CompensationRecord[];
  plan?: PlannedAction[];
  warnings: string[];
  error?: string;
  /** Set while the run waits for an operator after a failure past its point of no return. */
  operator?: OperatorRequest;
  /** Traffic-shifting runbooks: every gate reading taken so far (name, value, threshold, verdict). */
  readings?: GateReading[];
  /** Traffic-shifting runbooks: the split the router holds now, and whether progression is paused. */
  traffic?: { blue: number; green: number; step?: number; paused?: boolean; phase?: string };
}

export interface GateReading {
  at: string;
  /** Traffic step (green weight) being watched. */
  step: number;
  gate: string;
  kind: 'alarm' | 'metric' | 'burn-rate' | 'http' | 'health' | 'target-health';
  value: string | number | null;
  threshold?: string;
  verdict: 'pass' | 'fail';
  detail?: string;
}

export interface OperatorRequest {
  failedStep: string;
  error: string;
  since: string;
  /** What has been done (stays done) and what has not, in words. */
  done: string[];
  notDone: string[];
  how: {
    retrySignal: 'retryStep';
    retryExample: { by: string };
    abandonSignal: 'abandon';
    abandonExample: { by: string; reason: string };
  };
  attempts: number;
}

export type ReportOutcome = 'succeeded' | 'succeeded-with-warnings' | 'dry-run' | 'failed';

/** Every runbook's result: what happened, when, and the runbook-specific outcome. */
export interface RunbookReport<R = unknown> {
  runbook: string;
  workflowId: string;
  target: string;
  outcome: ReportOutcome;
  reason?: string;
  initiatedBy?: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  timeline: StepRecord[];
  approvals: ApprovalDecisionRecord[];
  /** Operator signals other than approvals, accepted or refused. */
  signals?: SignalRecord[];
  compensations: CompensationRecord[];
  warnings: string[];
  /** Dry run: the changes the run would have made. */
  plan?: PlannedAction[];
  /** The runbook's own outcome (absent for a dry run or a failure). */
  result?: R;
  /** A failed run: the error a person reads. */
  error?: string;
  /** Traffic-shifting runbooks: every gate reading. */
  readings?: GateReading[];
  /** The rules the run followed: the organisation's, the input's, what applied (absent before policies). */
  policy?: PolicyView;
  /** Markdown in the seeds' post-incident template (timeline table; root cause and action items for humans). */
  incidentReport?: string;
}

/** Data checks run against a restored database (names, values and verdicts only: no credentials). */
export interface DataCheckSummary {
  target: string;
  connected: boolean;
  connectError?: string;
  results: { name: string; value: number | null; expect: string; pass: boolean; error?: string }[];
  passed: boolean;
}

/** One decision as the status views list them: an approval decision or another operator signal. */
export interface DecisionEntry {
  at: string;
  /** `approve` / `reject`, or the signal's name. */
  what: string;
  by: string;
  via: 'signal' | 'update';
  /** An approve/reject (the views name how it arrived), not another signal. */
  approval: boolean;
  accepted: boolean;
  refusal?: string | undefined;
  comment?: string | undefined;
  /** The sender's AWS identity, when their message carried a proof that verified. */
  verified?: VerifiedSender | undefined;
  reason?: string | undefined;
}

/** Approvals and the other operator signals in the order they arrived (the Temporal UI's details and the CLI). */
export function decisionsOf(s: Pick<RunbookStatus, 'approvals' | 'signals'>): DecisionEntry[] {
  return [
    ...(s.approvals ?? []).map((a) => ({
      at: a.at,
      what: a.decision,
      by: a.by,
      via: a.via,
      approval: true,
      accepted: a.accepted,
      refusal: a.refusal,
      comment: a.comment,
      reason: a.reason,
      verified: a.verified,
    })),
    ...(s.signals ?? []).map((g) => ({
      at: g.at,
      what: g.signal,
      by: g.by,
      via: 'signal' as const,
      approval: false,
      accepted: g.accepted,
      refusal: g.refusal,
      reason: g.reason,
      verified: g.verified,
    })),
  ].sort((a, b) => a.at.localeCompare(b.at));
}
