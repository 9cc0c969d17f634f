// Approval gate: `approve`/`reject` signals and `approveUpdate`/`rejectUpdate` updates, registered when the
// workflow starts so nothing sent early is lost. The rules live in approval-policy.ts; this class records every
// decision (accepted or refused, with who, when and why) and blocks the run until the gate is decided.
import { condition, setHandler, workflowInfo } from '@temporalio/workflow';
import { approvePayload, describeZodError, rejectPayload, type ApprovalPolicy } from '../../api/common';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, type ApprovalAck } from '../../api/definitions';
import { formatDuration, parseDuration } from '../../api/duration';
import type { ApprovalDecisionRecord, PendingApproval, PlannedAction } from '../../api/status';
import { judgeDecision, type GateView } from './approval-policy';
import { fail } from './errors';
import type { Notifier } from './notify';
import type { Tracker } from './tracker';
import { must } from './must';

interface Gate extends GateView {
  name?: string;
  rejection?: { by: string; reason: string };
}

export class ApprovalGate {
  private gate: Gate;

  constructor(
    private readonly tracker: Tracker,
    private readonly policy: ApprovalPolicy,
    private readonly initiator: string | undefined,
    private readonly notifier?: Notifier,
  ) {
    this.gate = { phase: policy.required ? 'not-open' : 'not-required', approvedBy: [] };

    setHandler(
      approveSignal,
      (raw) => {
        this.receive('approve', raw, 'signal');
      },
      { description: 'Approve the pending (or next) approval gate: {"by": "<your name>", "comment": "optional"}' },
    );
    setHandler(
      rejectSignal,
      (raw) => {
        this.receive('reject', raw, 'signal');
      },
      { description: 'Reject: the run undoes what it changed and fails. {"by": "<your name>", "reason": "<why>"}' },
    );
    // Updates answer the caller at once. The validator turns away malformed payloads (nothing to record: there is
    // no identity to record against); policy refusals go through the handler so they are recorded in `status` and
    // in history like any other decision, and the caller receives "refused: …" as the update's failure.
    setHandler(approveUpdate, (raw) => this.answer('approve', raw), {
      validator: (raw) => validate('approve', raw),
      description: 'Approve and get an answer at once ("approved (1 of 2)" or "refused: …"): {"by": "<your name>"}',
    });
    setHandler(rejectUpdate, (raw) => this.answer('reject', raw), {
      validator: (raw) => validate('reject', raw),
      description: 'Reject and get an answer at once: {"by": "<your name>", "reason": "<why>"}',
    });
  }

  /**
   * Ask for approval of `plan`. Returns when approved; throws (non-retryable) when rejected or timed out, which
   * makes the run compensate. When the policy does not require approval the step is recorded as skipped.
   */
  async require(
    gateName: string,
    summary: string,
    plan: PlannedAction[],
    /** Ends the wait early with this failure (e.g. an abort signal while the gate is open). */
    interrupt?: () => Error | undefined,
  ): Promise<void> {
    if (!this.policy.required) {
      this.tracker.skipped(gateName, 'approval not required by the input policy');
      return;
    }
    await this.tracker.step(
      gateName,
      async () => {
        const openedAt = new Date();
        const timeoutMs = parseDuration(this.policy.timeout);
        const deadline = new Date(openedAt.getTime() + timeoutMs).toISOString();
        // Decisions sent before the gate opened were checked when they arrived; apply them now.
        this.gate.name = gateName;
        this.gate.phase = this.gate.rejection
          ? 'rejected'
          : this.gate.approvedBy.length >= this.policy.quorum
            ? 'approved'
            : 'open';
        const wfId = workflowInfo().workflowId;
        this.tracker.status.pendingApproval = {
          gate: gateName,
          openedAt: openedAt.toISOString(),
          deadline,
          approvers: this.policy.approvers,
          quorum: this.policy.quorum,
          approvedBy: this.gate.approvedBy,
          ...(this.initiator ? { initiator: this.initiator } : {}),
          secondPersonRequired: this.policy.requireSecondPerson,
          summary,
          plan,
          how: {
            approveSignal: 'approve',
            approveExample: { by: '<your name>', comment: 'optional' },
            rejectSignal: 'reject',
            rejectExample: { by: '<your name>', reason: '<why>' },
            cli: `npm run runbook -- approve ${wfId} --by <your name>`,
          },
        };
        this.tracker.setState('awaiting-approval');
        const waitingOver = () => this.gate.phase !== 'open' || interrupt?.() !== undefined;
        let decided: boolean;
        if (this.notifier?.enabled) {
          const pa = must(this.tracker.status.pendingApproval, 'pendingApproval');
          this.notifier.send(
            'approval-requested',
            `approval-requested:${gateName}`,
            approvalRequestText(this.tracker, pa),
          );
          // One reminder at most, at half the approval timeout.
          decided = await condition(waitingOver, Math.max(1, Math.floor(timeoutMs / 2)));
          if (!decided) {
            this.notifier.send(
              'approval-reminder',
              `approval-reminder:${gateName}`,
              `⏰ REMINDER: approval still needed for ${this.tracker.status.runbook} on ${this.tracker.status.target} ` +
                `(${this.gate.approvedBy.length} of ${this.policy.quorum}) — it times out at ${deadline}.\nApprove: ${pa.how.cli}`,
            );
            decided = await condition(waitingOver, Math.max(1, timeoutMs - Math.floor(timeoutMs / 2)));
          }
        } else {
          decided = await condition(waitingOver, timeoutMs);
        }
        const interrupted = this.gate.phase === 'open' ? interrupt?.() : undefined;
        if (interrupted) {
          delete this.tracker.status.pendingApproval;
          this.tracker.setState('running');
          this.gate.phase = 'rejected';
          this.gate.closedAt = new Date().toISOString();
          throw interrupted;
        }
        delete this.tracker.status.pendingApproval;
        this.tracker.setState('running');
        if (!decided) {
          this.notifier?.send(
            'approval-decided',
            `approval-decided:${gateName}`,
            `⌛ APPROVAL TIMED OUT: ${this.tracker.status.runbook} on ${this.tracker.status.target} — no decision within ${formatDuration(timeoutMs)}; treated as a rejection.`,
          );
          this.gate.phase = 'timed-out';
          this.gate.closedAt = new Date().toISOString();
          throw fail(
            'ApprovalTimedOut',
            `no approval within ${formatDuration(timeoutMs)} (${this.gate.approvedBy.length} of ${this.policy.quorum} approvals): treated as a rejection`,
          );
        }
        if (this.gate.phase === 'rejected') {
          const r = must(this.gate.rejection, 'rejection');
          this.notifier?.send(
            'approval-decided',
            `approval-decided:${gateName}`,
            `❌ REJECTED by ${r.by}: ${this.tracker.status.runbook} on ${this.tracker.status.target} — ${r.reason}. The run stops and undoes anything it changed.`,
          );
          throw fail('ApprovalRejected', `rejected by ${r.by}: ${r.reason}`);
        }
        this.notifier?.send(
          'approval-decided',
          `approval-decided:${gateName}`,
          `✅ APPROVED by ${this.gate.approvedBy.join(', ')}: ${this.tracker.status.runbook} on ${this.tracker.status.target} goes ahead.`,
        );
        return { approvedBy: [...this.gate.approvedBy] };
      },
      { details: (r) => ({ approvedBy: r.approvedBy }) },
    );
  }

  private receive(
    decision: 'approve' | 'reject',
    raw: unknown,
    via: 'signal' | 'update',
  ): { record: ApprovalDecisionRecord; ack?: ApprovalAck } {
    const at = new Date().toISOString();
    const parsed = (decision === 'approve' ? approvePayload : rejectPayload).safeParse(raw);
    if (!parsed.success) {
      const record: ApprovalDecisionRecord = {
        at,
        by: typeof (raw as { by?: unknown })?.by === 'string' ? (raw as { by: string }).by : '(unknown)',
        decision,
        via,
        accepted: false,
        refusal: `malformed ${decision}: ${describeZodError(parsed.error, decision)}`,
      };
      this.recordDecision(record);
      return { record };
    }
    const payload = parsed.data as { by: string; comment?: string; reason?: string };
    const verdict = judgeDecision(this.policy, this.initiator, this.gate, { decision, by: payload.by });
    const record: ApprovalDecisionRecord = {
      at,
      by: payload.by,
      decision,
      via,
      accepted: verdict.accepted,
      ...(this.gate.name ? { gate: this.gate.name } : {}),
      ...(payload.comment ? { comment: payload.comment } : {}),
      ...(payload.reason ? { reason: payload.reason } : {}),
      ...(verdict.accepted ? {} : { refusal: verdict.refusal }),
    };
    this.recordDecision(record);
    if (!verdict.accepted) return { record };

    if (decision === 'reject') {
      this.gate.rejection = { by: payload.by, reason: payload.reason ?? '' };
      if (this.gate.phase === 'open') {
        this.gate.phase = 'rejected';
        this.gate.closedAt = at;
      }
    } else {
      this.gate.approvedBy.push(payload.by);
      if (verdict.effect === 'approved') {
        this.gate.phase = 'approved';
        this.gate.closedAt = at;
      }
    }
    this.tracker.refresh();
    const gateState: ApprovalAck['gateState'] =
      verdict.effect === 'queued'
        ? 'not-open-yet'
        : this.gate.phase === 'approved'
          ? 'approved'
          : this.gate.phase === 'rejected'
            ? 'rejected'
            : 'pending';
    const approvals = this.gate.approvedBy.length;
    const message =
      decision === 'reject'
        ? gateState === 'not-open-yet'
          ? 'rejection recorded; the run will stop when it reaches the approval gate'
          : 'rejected: the run stops, undoes anything it changed, and fails'
        : gateState === 'approved'
          ? `approved (${approvals} of ${this.policy.quorum})`
          : gateState === 'not-open-yet'
            ? `approval recorded (${approvals} of ${this.policy.quorum}); it counts when the run reaches the gate`
            : `approval counted (${approvals} of ${this.policy.quorum}); waiting for ${this.policy.quorum - approvals} more`;
    return { record, ack: { accepted: true, decision, gateState, approvals, quorum: this.policy.quorum, message } };
  }

  private answer(decision: 'approve' | 'reject', raw: unknown): ApprovalAck {
    const { record, ack } = this.receive(decision, raw, 'update');
    if (!ack) throw fail('ApprovalRefused', `refused: ${record.refusal ?? 'not accepted'}`);
    return ack;
  }

  private recordDecision(record: ApprovalDecisionRecord): void {
    this.tracker.status.approvals.push(record);
    this.tracker.refresh();
  }
}

function validate(decision: 'approve' | 'reject', raw: unknown): void {
  const parsed = (decision === 'approve' ? approvePayload : rejectPayload).safeParse(raw);
  if (!parsed.success) throw new Error(`refused: malformed ${decision}: ${describeZodError(parsed.error, decision)}`);
}

/** The message that asks for approval, following the seeds' communication templates. */
function approvalRequestText(tracker: Tracker, pa: PendingApproval): string {
  const s = tracker.status;
  const who = pa.approvers.length ? pa.approvers.join(', ') : 'anyone';
  const except = pa.secondPersonRequired && pa.initiator ? ` except ${pa.initiator}` : '';
  return [
    `⏳ APPROVAL NEEDED: ${s.runbook} on ${s.target}`,
    ...(s.reason ? [`Reason: ${s.reason}`] : []),
    ...(s.initiatedBy ? [`Started by: ${s.initiatedBy}`] : []),
    `Plan: ${pa.summary}`,
    `Who may approve: ${who}${except} (${pa.quorum} needed) — until ${pa.deadline}`,
    `Approve: ${pa.how.cli}  (or signal "approve" with {"by": "<your name>"})`,
    `Reject: npm run runbook -- reject ${s.workflowId} --by <your name> --reason <why>`,
  ].join('\n');
}
