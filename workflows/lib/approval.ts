// Approval gate: `approve`/`reject` signals and `approveUpdate`/`rejectUpdate` updates, registered when the
// workflow starts so nothing sent early is lost. The rules live in approval-policy.ts and, for the run, in its
// governance (the organisation's policy made stricter by the input; governance.ts): a decision that arrives before
// they are settled waits for them, and one that carries a proof of identity is verified first. This class records
// every decision (accepted or refused, with who — declared and verified —, how, when and why) and blocks the run
// until the gate is decided.
import { condition, setHandler, workflowInfo } from '@temporalio/workflow';
import { approvePayload, describeZodError, rejectPayload, type ApprovalPolicy } from '../../api/common';
import { approveSignal, approveUpdate, rejectSignal, rejectUpdate, type ApprovalAck } from '../../api/definitions';
import { formatDuration, parseDuration } from '../../api/duration';
import type { VerifiedPrincipal } from '../../api/identity';
import type { ApprovalDecisionRecord, PendingApproval, PlannedAction } from '../../api/status';
import { judgeDecision, outstanding, senderKey, VERIFIED_IDENTITY_REQUIRED, type GateView } from './approval-policy';
import { verifiedSender, type Governance } from './governance';
import { fail } from './errors';
import { approvalWaited } from './metrics';
import type { Notifier } from './notify';
import type { Tracker } from './tracker';
import { must } from './must';

interface Gate extends GateView {
  name?: string;
  rejection?: { by: string; reason: string };
  approvedKeys: string[];
  satisfied: string[];
}

type Payload = { by: string; comment?: string; reason?: string; proof?: unknown };
interface Outcome {
  record: ApprovalDecisionRecord;
  ack?: ApprovalAck;
}

export class ApprovalGate {
  private gate: Gate;

  constructor(
    private readonly tracker: Tracker,
    private readonly governance: Governance,
    private readonly notifier?: Notifier,
  ) {
    this.gate = { phase: 'not-open', approvedBy: [], approvedKeys: [], satisfied: [] };

    setHandler(
      approveSignal,
      async (raw) => {
        await this.receive('approve', raw, 'signal');
      },
      { description: 'Approve the pending (or next) approval gate: {"by": "<your name>", "comment": "optional"}' },
    );
    setHandler(
      rejectSignal,
      async (raw) => {
        await this.receive('reject', raw, 'signal');
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
  /** The rules in force (settled before any gate opens). */
  private get policy(): ApprovalPolicy & { identity: 'declared' | 'aws-iam' } {
    return must(this.governance.approval, 'the approval policy').policy;
  }

  async require(
    gateName: string,
    summary: string,
    plan: PlannedAction[],
    /** Ends the wait early with this failure (e.g. an abort signal while the gate is open). */
    interrupt?: () => Error | undefined,
  ): Promise<void> {
    if (!this.policy.required) {
      this.tracker.skipped(
        gateName,
        this.governance.source === 'none'
          ? 'approval not required by the input policy'
          : 'approval not required by the input policy nor by the organisation policy',
      );
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
        this.gate.phase = this.gate.rejection ? 'rejected' : this.quorate() ? 'approved' : 'open';
        const wfId = workflowInfo().workflowId;
        this.tracker.status.pendingApproval = {
          gate: gateName,
          openedAt: openedAt.toISOString(),
          deadline,
          approvers: this.policy.approvers,
          quorum: this.policy.quorum,
          approvedBy: this.gate.approvedBy,
          ...(this.initiatorName() ? { initiator: this.initiatorName() } : {}),
          secondPersonRequired: this.policy.requireSecondPerson,
          ...(this.policy.identity === 'aws-iam' ? { identity: 'aws-iam' as const } : {}),
          ...(this.governance.requirements.length
            ? { alsoNeeds: outstanding(this.governance.requirements, this.gate.satisfied) }
            : {}),
          summary,
          plan,
          how: {
            approveSignal: 'approve',
            approveExample: { by: '<your name>', comment: 'optional' },
            rejectSignal: 'reject',
            rejectExample: { by: '<your name>', reason: '<why>' },
            cli: `npm run runbook -- approve ${wfId} --by <your name>${this.policy.identity === 'aws-iam' ? ' --aws' : ''}`,
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
        approvalWaited(
          this.tracker.status.runbook,
          gateName,
          interrupted
            ? 'interrupted'
            : !decided
              ? 'timed-out'
              : this.gate.phase === 'rejected'
                ? 'rejected'
                : 'approved',
          (Date.now() - openedAt.getTime()) / 1000,
        );
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

  /** The quorum is met and nothing else is outstanding. */
  private quorate(): boolean {
    return (
      this.gate.approvedBy.length >= this.policy.quorum &&
      outstanding(this.governance.requirements, this.gate.satisfied).length === 0
    );
  }

  private initiatorName(): string | undefined {
    const i = this.governance.initiator;
    return i.declared ?? i.verified?.arn;
  }

  /**
   * A decision as it arrives: malformed → recorded refused at once. Otherwise it waits for the run's rules when they
   * are not settled yet, and a proof of identity is verified (an activity) before the decision is judged.
   */
  private receive(decision: 'approve' | 'reject', raw: unknown, via: 'signal' | 'update'): Outcome | Promise<Outcome> {
    const parsed = (decision === 'approve' ? approvePayload : rejectPayload).safeParse(raw);
    if (!parsed.success) {
      const record: ApprovalDecisionRecord = {
        at: new Date().toISOString(),
        by: typeof (raw as { by?: unknown })?.by === 'string' ? (raw as { by: string }).by : '(unknown)',
        decision,
        via,
        accepted: false,
        refusal: `malformed ${decision}: ${describeZodError(parsed.error, decision)}`,
      };
      this.recordDecision(record);
      return { record };
    }
    const payload = parsed.data as Payload;
    // Runs recorded before policies settle at once, and a decision without a proof is judged as it arrives.
    if (this.governance.isSettled && !payload.proof) return this.decide(decision, payload, via, undefined);
    return (async () => {
      await this.governance.whenSettled();
      if (!payload.proof) return this.decide(decision, payload, via, undefined);
      const text = (decision === 'approve' ? payload.comment : payload.reason) ?? '';
      const v = await this.governance.verify(parsed.data.proof as never, decision, text);
      if ('refusal' in v) {
        const record: ApprovalDecisionRecord = {
          at: new Date().toISOString(),
          by: payload.by,
          decision,
          via,
          accepted: false,
          ...(this.gate.name ? { gate: this.gate.name } : {}),
          refusal: v.refusal,
        };
        this.recordDecision(record);
        return { record };
      }
      return this.decide(decision, payload, via, v.principal);
    })();
  }

  private decide(
    decision: 'approve' | 'reject',
    payload: Payload,
    via: 'signal' | 'update',
    verified: VerifiedPrincipal | undefined,
  ): Outcome {
    const at = new Date().toISOString();
    const verdict = judgeDecision(
      this.policy,
      this.governance.initiator,
      this.gate,
      { decision, by: payload.by, verified },
      this.governance.requirements,
    );
    const refusal = verdict.accepted
      ? undefined
      : verdict.refusal === VERIFIED_IDENTITY_REQUIRED
        ? `${verdict.refusal}: ${decision} with the CLI: npm run runbook -- ${decision} ${workflowInfo().workflowId} ` +
          `--by <your name>${decision === 'reject' ? ' --reason <why>' : ''} --aws`
        : verdict.refusal;
    const record: ApprovalDecisionRecord = {
      at,
      by: payload.by,
      decision,
      via,
      accepted: verdict.accepted,
      ...(this.gate.name ? { gate: this.gate.name } : {}),
      ...(payload.comment ? { comment: payload.comment } : {}),
      ...(payload.reason ? { reason: payload.reason } : {}),
      ...(verified ? { verified: verifiedSender(verified) } : {}),
      ...(refusal !== undefined ? { refusal } : {}),
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
      this.gate.approvedKeys.push(senderKey({ declared: payload.by, verified }));
      if (verdict.satisfied) this.gate.satisfied = verdict.satisfied;
      if (verdict.effect === 'approved') {
        this.gate.phase = 'approved';
        this.gate.closedAt = at;
      }
      const pending = this.tracker.status.pendingApproval;
      if (pending?.alsoNeeds) pending.alsoNeeds = outstanding(this.governance.requirements, this.gate.satisfied);
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
    const quorum = this.policy.quorum;
    const still = outstanding(this.governance.requirements, this.gate.satisfied);
    const message =
      decision === 'reject'
        ? gateState === 'not-open-yet'
          ? 'rejection recorded; the run will stop when it reaches the approval gate'
          : 'rejected: the run stops, undoes anything it changed, and fails'
        : gateState === 'approved'
          ? `approved (${approvals} of ${quorum})`
          : gateState === 'not-open-yet'
            ? `approval recorded (${approvals} of ${quorum}); it counts when the run reaches the gate`
            : approvals >= quorum && still.length
              ? `approval counted (${approvals} of ${quorum}); still waiting for ${still.join('; ')}`
              : `approval counted (${approvals} of ${quorum}); waiting for ${quorum - approvals} more`;
    return { record, ack: { accepted: true, decision, gateState, approvals, quorum, message } };
  }

  private async answer(decision: 'approve' | 'reject', raw: unknown): Promise<ApprovalAck> {
    const { record, ack } = await this.receive(decision, raw, 'update');
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
