// Signal, query and update definitions shared by workflows, client and tests.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApprovePayload, ByOptionalReasonPayload, ByPayload, ByReasonPayload, RejectPayload } from './common';
import type { RunbookStatus } from './status';

export const TASK_QUEUE = 'runbooks';

/** Approve the pending (or next) approval gate. Fire and forget; the decision and any refusal show in `status`. */
export const approveSignal = defineSignal<[ApprovePayload]>('approve');
/** Reject: the run compensates what it did and fails. */
export const rejectSignal = defineSignal<[RejectPayload]>('reject');

/** Result of an approval sent as an update: the caller learns at once whether it counted. */
export interface ApprovalAck {
  accepted: true;
  decision: 'approve' | 'reject';
  /** approved / rejected once the gate has decided; pending while more approvals are needed. */
  gateState: 'pending' | 'approved' | 'rejected' | 'not-open-yet';
  approvals: number;
  quorum: number;
  message: string;
}
/** The same decisions as updates with validators: a refused decision is rejected to the caller with the reason. */
export const approveUpdate = defineUpdate<ApprovalAck, [ApprovePayload]>('approveUpdate');
export const rejectUpdate = defineUpdate<ApprovalAck, [RejectPayload]>('rejectUpdate');

export const statusQuery = defineQuery<RunbookStatus>('status');

/** emergencyScale: keep the new count, cancel the scheduled scale-back. */
export type KeepScaledPayload = ByOptionalReasonPayload;
export const keepScaledSignal = defineSignal<[KeepScaledPayload]>('keepScaled');

/** After a point of no return, a step that failed leaves the run in `needs-operator`: try that step again … */
export const retryStepSignal = defineSignal<[ByPayload]>('retryStep');
/** … or finish the run as failed, leaving AWS as it is (the state is written out in `status` and the failure). */
export const abandonSignal = defineSignal<[ByReasonPayload]>('abandon');

/** blueGreenDeploy: roll back now (traffic to blue first, then green scaled back). */
export const abortDeploySignal = defineSignal<[ByReasonPayload]>('abort');
/** blueGreenDeploy: hold the progression (gates are still checked) … */
export const pauseSignal = defineSignal<[ByPayload]>('pause');
/** … and let it go on. */
export const resumeSignal = defineSignal<[ByPayload]>('resume');
/** blueGreenDeploy: skip the rest of the current bake (gates are still checked once). */
export const promoteSignal = defineSignal<[ByPayload]>('promote');
/** blueGreenDeploy, during blue's standby at 100 % green: all traffic back to blue at once, run ends rolled back. */
export const rollbackSignal = defineSignal<[ByReasonPayload]>('rollback');
