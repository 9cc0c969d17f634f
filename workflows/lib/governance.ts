// The rules a run follows, fixed when it starts: the organisation's policy (handed over by the worker through a
// local activity, so it is recorded in history and a replay reads the same rules), made stricter — never weaker —
// by the input; who started the run (declared, or verified with a signed proof); who may steer it. Decisions that
// arrive before the rules are settled wait for them (`whenSettled`), so none is judged by rules that do not apply.
import { condition, workflowInfo } from '@temporalio/workflow';
import type { ApprovalPolicy } from '../../api/common';
import type { AwsProof, VerifiedPrincipal } from '../../api/identity';
import {
  effectiveApproval,
  onList,
  type EffectiveApproval,
  type IdentityMode,
  type LoadedPolicy,
  type RunbookPolicy,
} from '../../api/policy';
import type { PolicyView, VerifiedSender } from '../../api/status';
import { errorMessage, fail } from './errors';
import type { Requirement } from './approval-policy';
import { aws } from './proxies';

export const verifiedSender = (p: VerifiedPrincipal): VerifiedSender => ({
  arn: p.arn,
  ...(p.session ? { session: p.session } : {}),
});

export class Governance {
  private settled = false;
  /** The organisation's rules for this runbook (none until settled; none at all in runs from before policies). */
  rules: RunbookPolicy = {};
  source = 'none';
  approval: EffectiveApproval | undefined;
  requirements: Requirement[] = [];
  initiator: { declared?: string; verified?: VerifiedPrincipal } = {};
  /** Proofs already counted on this run (a proof counts once). */
  private readonly usedNonces = new Set<string>();

  /** Resolves once the rules are settled. */
  whenSettled(): Promise<void> {
    return condition(() => this.settled);
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /**
   * Settle the rules: the organisation's (`loaded`) over the input's approval policy, the approvals the input's
   * own choices need (acceptDataLoss, plannedSwitchover), and the initiator.
   */
  settle(o: {
    loaded: LoadedPolicy;
    inputApproval: ApprovalPolicy | undefined;
    initiator: { declared?: string | undefined; verified?: VerifiedPrincipal | undefined };
    /** The input's choices that need an approver from a list, when the organisation's rules name one. */
    asks: { acceptDataLoss: boolean; plannedSwitchover: boolean };
  }): void {
    this.rules = o.loaded.rules;
    this.source = o.loaded.source;
    this.approval = o.inputApproval ? effectiveApproval(o.inputApproval, o.loaded.rules.approval) : undefined;
    this.initiator = {
      ...(o.initiator.declared ? { declared: o.initiator.declared } : {}),
      ...(o.initiator.verified ? { verified: o.initiator.verified } : {}),
    };
    const needs: Requirement[] = [];
    const dataLoss = o.loaded.rules.acceptDataLoss?.approvers ?? [];
    if (o.asks.acceptDataLoss && dataLoss.length) needs.push({ why: 'acceptDataLoss', from: dataLoss });
    const planned = o.loaded.rules.plannedSwitchover?.approvers ?? [];
    if (o.asks.plannedSwitchover && planned.length) needs.push({ why: 'plannedSwitchover', from: planned });
    this.requirements = needs;
    this.settled = true;
  }

  /** For the status: the organisation's rules, the input's, what applies, where each came from, who started it. */
  view(): PolicyView {
    const a = this.approval;
    const i = this.initiator;
    return {
      source: this.source,
      organisation: this.rules,
      ...(a ? { effective: a.policy, sources: a.sources } : {}),
      ...(i.declared || i.verified
        ? {
            initiator: {
              ...(i.declared ? { declared: i.declared } : {}),
              ...(i.verified ? { verified: verifiedSender(i.verified) } : {}),
            },
          }
        : {}),
    };
  }

  /**
   * Verify a proof bound to `decision` on this run (`text`: its comment or reason): the principal AWS names, or why
   * not. A proof counts once. `start`: the run did not exist when it was signed, so it is bound to no run ID.
   */
  async verify(
    proof: AwsProof,
    decision: string,
    text: string,
  ): Promise<{ principal: VerifiedPrincipal } | { refusal: string }> {
    const info = workflowInfo();
    try {
      const v = await aws.verifyAwsProof({
        proof,
        expect: { workflowId: info.workflowId, ...(decision === 'start' ? {} : { runId: info.runId }), decision, text },
      });
      if (this.usedNonces.has(v.nonce)) {
        return { refusal: 'this proof was already used on this run: every --aws decision is signed anew' };
      }
      this.usedNonces.add(v.nonce);
      const { nonce: _nonce, signedAt: _signedAt, ...principal } = v;
      return { principal };
    } catch (err) {
      return { refusal: `the proof of identity does not verify: ${errorMessage(err)}` };
    }
  }

  /**
   * Whether `sender` may send the steering signal `signal` (abort, rollback, promote, pause, resume, keepScaled,
   * retryStep, abandon): undefined when allowed, else why not.
   */
  steeringRefusal(
    signal: string,
    sender: { declared: string; verified?: VerifiedPrincipal | undefined },
  ): string | undefined {
    const s = this.rules.steering;
    const mode: IdentityMode = s?.identity ?? 'declared';
    if (mode === 'aws-iam' && !sender.verified) {
      return `this runbook's policy requires a verified AWS identity to send ${signal} (identity: aws-iam): send it with the CLI and --aws`;
    }
    const allowed = s?.allowed ?? [];
    if (allowed.length && !onList(allowed, sender, mode)) {
      const who = sender.verified ? `${sender.declared} (${sender.verified.arn})` : sender.declared;
      return `${who} may not send ${signal} on this run (allowed: ${allowed.join(', ')})`;
    }
    return undefined;
  }

  /**
   * The start rules: who may start this runbook, and whether a verified identity is needed. Throws PolicyRefused
   * (nothing has changed yet) when the initiator may not start it.
   */
  checkStart(runbook: string, command: string): void {
    const s = this.rules.start;
    const mode: IdentityMode = s?.identity ?? 'declared';
    const i = this.initiator;
    if (mode === 'aws-iam' && !i.verified) {
      throw fail(
        'PolicyRefused',
        `the organisation policy requires a verified AWS identity to start ${runbook}: start it with the CLI and --aws ` +
          `(${command}).`,
      );
    }
    const allowed = s?.allowed ?? [];
    if (allowed.length === 0) return;
    const sender = { declared: i.declared ?? '', ...(i.verified ? { verified: i.verified } : {}) };
    if (!i.declared && !i.verified) {
      throw fail(
        'PolicyRefused',
        `the organisation policy names who may start ${runbook} (${allowed.join(', ')}); this run does not say who ` +
          `started it (initiatedBy, or start --aws).`,
      );
    }
    if (!onList(allowed, sender, mode)) {
      const who = i.verified ? `${i.declared ?? i.verified.name} (${i.verified.arn})` : (i.declared ?? '');
      throw fail('PolicyRefused', `${who} may not start ${runbook} (allowed: ${allowed.join(', ')}).`);
    }
  }
}

/** A failed verification of the initiator's proof: refuse the start, naming why. */
export function refuseUnverifiedStart(refusal: string): Error {
  return fail('PolicyRefused', `the proof of who started this run does not verify (${refusal}).`);
}
