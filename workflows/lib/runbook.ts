// The frame every runbook runs in: validate the raw input (the Temporal UI sends raw JSON), take the resource,
// run the body step by step, and on failure, rejection or cancellation unwind the compensation stack before
// failing with the original cause. The result is always a report (timeline, approvals, compensations).
import { ApplicationFailure, CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { ApprovalPolicy } from '../../api/common';
import type { AwsProof } from '../../api/identity';
import { NO_POLICY } from '../../api/policy';
import type { TypedRunbookEntry } from '../../api/runbooks';
import { describeZodError } from '../../api/common';
import { FailureType } from '../../api/failures';
import type { PlannedAction, RunbookReport } from '../../api/status';
import { ApprovalGate } from './approval';
import { CompensationStack } from './compensation';
import { fail, rootFailure } from './errors';
import { Governance, refuseUnverifiedStart } from './governance';
import { local } from './proxies';
import { governSignals } from './signals';
import { acquireResource, acquireResources, type ResourceRef } from './lock';
import { Notifier } from './notify';
import { OperatorGate, type Progress } from './operator';
import { runbookReport, type IncidentFacts } from './report';
import { formatDuration, parseDuration } from '../../api/duration';
import { Tracker, type StepOptions } from './tracker';
import { describeRto } from './rto';
import * as metrics from './metrics';

interface CommonParams {
  dryRun: boolean;
  reason?: string | undefined;
  initiatedBy?: string | undefined;
  /** Runbooks without an approval step (e.g. scheduled verification) have none. */
  approval?: ApprovalPolicy;
  initiatorProof?: AwsProof | undefined;
  /** Failover/failback: the input's choices the organisation may want a named approver for. */
  acceptDataLoss?: { reason: string } | undefined;
  plannedSwitchover?: { reason: string } | undefined;
}

const NO_APPROVAL: ApprovalPolicy = {
  required: false,
  approvers: [],
  quorum: 1,
  requireSecondPerson: false,
  timeout: '1h',
};

export interface RunbookContext<P, C = undefined, R = unknown> {
  params: P;
  /** The runbook's own operator controls (RunbookDefinition.controls). */
  controls: C;
  workflowId: string;
  /** A read-only step. */
  step<T>(name: string, fn: () => Promise<T>, opts?: StepOptions<T>): Promise<T>;
  /** A mutating step; `undo` (built from its result) is pushed on the compensation stack once it succeeded. */
  change<T>(
    name: string,
    fn: () => Promise<T>,
    opts?: StepOptions<T> & { undo?: (result: T) => { name: string; run: () => Promise<unknown> } | undefined },
  ): Promise<T>;
  /**
   * Declare the changes the run is about to make: recorded (shown at the approval gate and in `status`). Returns
   * 'dry-run' when nothing may change — the runbook then returns DRY_RUN, and the run ends with the plan as its
   * report — else 'go'.
   */
  planned(plan: PlannedAction[]): 'dry-run' | 'go';
  /**
   * Take every AWS resource the run will change (a service, a DB instance, a record, a router), whichever runbook
   * holds them: called once, before the first change. A resource another run holds refuses this run (ResourceBusy,
   * naming the holder) — or, where the organisation policy says so, the run waits its turn, visibly.
   */
  lockResources(resources: ResourceRef[]): Promise<void>;
  /** The approval gate for the declared plan (skipped when the policy does not require approval). */
  approval(summary: string, gateName?: string, interrupt?: () => Error | undefined): Promise<void>;
  compensations: CompensationStack;
  /**
   * The point of no return: from here a failure is not compensated; steps run through `critical` wait for an
   * operator instead (`retryStep` / `abandon`).
   */
  pointOfNoReturn(what: string): void;
  critical<T>(name: string, fn: () => Promise<T>, progress: () => Progress, opts?: StepOptions<T>): Promise<T>;
  /** A sentence added to the failure message should the run fail from here on (e.g. what was kept). */
  noteOnFailure(sentence: string): void;
  warn(message: string): void;
  /** A chat notification beyond the frame's own (e.g. a watched gate that fails): sent once per `key`. */
  alert(key: string, text: string): void;
  /**
   * What the runbook knows about the incident (RTO, data-loss estimate, what "resolved" means, what was done): the
   * frame renders the run's one incident report with it, and puts the RTO in the notification. Stated once the work
   * is done; a run that fails before then is reported with the frame's wording.
   */
  incident(facts: IncidentFacts): void;
  /**
   * The failure to throw when the run fails yet has a result worth keeping (e.g. every database's outcome when one
   * of them failed): the report of the failed run carries `result`.
   */
  failWithResult(type: FailureType, message: string, result: R): Error;
  tracker: Tracker;
}

/** A runbook's own part: its resource, its controls and its steps (the rest comes from its catalogue entry). */
export interface RunbookDefinition<S extends z.ZodType, R, C = undefined> {
  /**
   * The runbook's own operator signals (beyond approve/reject and retryStep/abandon, which the frame has): built
   * as the run starts, before anything else, so none is lost; handlers go through onSignal (signals.ts), so every
   * payload is validated and recorded. The runbook reads them as `ctx.controls`.
   */
  controls?: (tracker: Tracker) => C;
  /** The resource this run acts on, in words (`us-east-1/demo/api`); the entry's workflowId is its lock. */
  target(params: z.output<S>): string;
  /** The runbook's steps: its result, or DRY_RUN when `ctx.planned` said this is a dry run. */
  execute(ctx: RunbookContext<z.output<S>, C, R>): Promise<R | typeof DRY_RUN>;
}

/** What a runbook returns in a dry run, once it has declared its plan (`ctx.planned`). */
export const DRY_RUN: unique symbol = Symbol('dry run');

/**
 * Run the runbook of catalogue entry `entry` (api/runbooks: its type, input schema and workflow ID, the lock) on
 * `rawInput`. Must be called synchronously at the top of the workflow function (before any await) so the status
 * query and approval handlers exist from the first workflow task.
 */
export async function runRunbook<S extends z.ZodType, R, C = undefined>(
  entry: TypedRunbookEntry<S>,
  rawInput: unknown,
  def: RunbookDefinition<S, R, C>,
): Promise<RunbookReport<R>> {
  const tracker = new Tracker(entry.type);
  metrics.runStarted(entry.type);
  // The rules the run follows: every operator message waits for them (approval.ts, signals.ts). Runs recorded before
  // organisation policies follow their input alone, settled at once below.
  const governance = new Governance();
  governSignals(governance);
  const withPolicy = patched('organisation-policy-v1');
  const controls = def.controls?.(tracker) as C;
  const notifier = new Notifier(workflowInfo().workflowId);
  const parsed = entry.schema.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const message = `invalid input: ${describeZodError(parsed.error)}. Nothing was changed.`;
    tracker.status.error = message;
    tracker.setState('failed');
    metrics.runFinished(entry.type, 'invalid-input');
    throw fail('InvalidInput', message);
  }
  const params = parsed.data as z.output<S> & CommonParams;
  const target = def.target(params);
  tracker.describe({
    target,
    dryRun: params.dryRun,
    ...(params.reason ? { reason: params.reason } : {}),
    ...(params.initiatedBy ? { initiatedBy: params.initiatedBy } : {}),
  });
  const inputApproval = params.approval ?? NO_APPROVAL;
  if (!withPolicy) {
    governance.settle({
      loaded: NO_POLICY,
      inputApproval,
      initiator: { declared: params.initiatedBy },
      asks: { acceptDataLoss: false, plannedSwitchover: false },
    });
  }
  const gate = new ApprovalGate(tracker, governance, notifier);
  const operator = new OperatorGate(tracker, notifier);
  const compensations = new CompensationStack(tracker.status, () => tracker.refresh());
  let plan: PlannedAction[] = [];
  const failureNotes: string[] = [];

  let failedWithResult: { err: Error; result: R } | undefined;
  let facts: IncidentFacts | undefined;
  const ctx: RunbookContext<z.output<S>, C, R> = {
    params,
    controls,
    workflowId: workflowInfo().workflowId,
    tracker,
    compensations,
    step: (name, fn, opts) => tracker.step(name, fn, opts),
    async change(name, fn, opts = {}) {
      const result = await tracker.step(name, fn, { ...opts, mutating: true });
      const undo = opts.undo?.(result);
      if (undo) compensations.push(undo.name, undo.run);
      return result;
    },
    planned(actions) {
      plan = actions;
      tracker.setPlan(actions);
      return params.dryRun ? 'dry-run' : 'go';
    },
    lockResources: (resources) => {
      const wait = governance.rules.locks?.wait;
      return acquireResources(tracker, resources, { waitMs: wait ? parseDuration(wait) : undefined });
    },
    approval: (summary, gateName = 'Approval', interrupt) => gate.require(gateName, summary, plan, interrupt),
    warn: (message) => tracker.warn(message),
    alert: (key, text) => notifier.send('alert', key, `${text}\nRun: ${headline()}`),
    incident: (f) => {
      facts = f;
      metrics.incidentFacts(entry.type, f);
      if (f.rtoSeconds !== undefined && f.rtoTargetSeconds !== undefined) {
        const rto = describeRto(f.rtoSeconds * 1000, f.rtoTargetSeconds * 1000);
        if (rto.met === false) tracker.warn(`RTO ${rto.text}`);
      }
    },
    noteOnFailure: (sentence) => failureNotes.push(sentence),
    pointOfNoReturn(what) {
      compensations.clear();
      tracker.mark('Point of no return', 'succeeded', { what });
    },
    critical: (name, fn, progress, opts) => operator.step(name, fn, progress, opts),
    failWithResult(type, message, result) {
      const err = fail(type, message);
      failedWithResult = { err, result };
      return err;
    },
  };

  const report = (outcome: RunbookReport['outcome'], extra: Partial<RunbookReport<R>> = {}): RunbookReport<R> =>
    runbookReport(tracker.status, { outcome, target, facts, extra });
  const headline = () => `${entry.type} on ${target}${tracker.status.reason ? ` (${tracker.status.reason})` : ''}`;

  try {
    if (withPolicy) {
      await settleRules(governance, tracker, notifier, {
        runbook: entry.type,
        inputApproval: params.approval,
        initiatedBy: params.initiatedBy,
        initiatorProof: params.initiatorProof,
        reason: params.reason,
        asks: { acceptDataLoss: !!params.acceptDataLoss, plannedSwitchover: !!params.plannedSwitchover },
      });
    }
    // A dry run changes nothing, so it neither takes nor waits for the resource.
    if (!params.dryRun) {
      const lock = entry.workflowId(params);
      await tracker.step('Acquire resource', () => acquireResource(lock, target), {
        params: { lock },
      });
    }
    const result = await def.execute(ctx);
    tracker.status.currentStep = undefined;
    tracker.setState('succeeded');
    if (result === DRY_RUN) {
      metrics.runFinished(entry.type, 'dry-run');
      return report('dry-run', { plan });
    }
    const done = report(tracker.status.warnings.length ? 'succeeded-with-warnings' : 'succeeded', { result });
    metrics.runFinished(entry.type, done.warnings.length ? 'succeeded-with-warnings' : 'succeeded');
    const rto = facts?.rtoSeconds;
    const rtoTarget = facts?.rtoTargetSeconds;
    notifier.send(
      'finished',
      'finished',
      `${done.warnings.length ? '⚠️ RESOLVED WITH WARNINGS' : '✅ RESOLVED'}: ${headline()} completed in ${formatDuration(done.durationMs)}` +
        (rto !== undefined
          ? ` (RTO ${describeRto(rto * 1000, rtoTarget === undefined ? undefined : rtoTarget * 1000).text})`
          : '') +
        (done.warnings.length ? `\nWarnings: ${done.warnings.join(' | ')}` : '') +
        `\nReport: npm run runbook -- report ${done.workflowId}`,
    );
    await notifier.flush();
    return done;
  } catch (err) {
    const cause = rootFailure(err);
    const cancelled = isCancellation(err);
    let undone = '';
    if (compensations.size) {
      tracker.setState('compensating');
      const records = await compensations.unwind();
      for (const r of records) metrics.compensationRan(entry.type, r.outcome);
      const failed = records.filter((r) => r.outcome === 'failed');
      undone = failed.length
        ? ` Compensation: ${records.length - failed.length} of ${records.length} undone; FAILED: ${failed
            .map((r) => `${r.name} (${r.error})`)
            .join('; ')} — check these by hand.`
        : ` Compensated: ${records.map((r) => (r.note ? `${r.name} (${r.note})` : r.name)).join('; ')}.`;
    } else if (!tracker.status.steps.some((s) => s.mutating && s.outcome !== 'failed')) {
      undone = ' Nothing was changed.';
    }
    const what = (cancelled ? 'cancelled' : cause.message).replace(/\.\s*$/, '');
    const message = `${what}.${undone}${failureNotes.length ? ` ${failureNotes.join(' ')}` : ''}`;
    tracker.status.error = message;
    tracker.status.currentStep = undefined;
    tracker.setState('failed');
    metrics.runFinished(entry.type, metrics.failedOutcome(cancelled, cause.type));
    notifier.send(
      'failed',
      'failed',
      `🔴 RUNBOOK ${cancelled ? 'CANCELLED' : 'FAILED'}: ${headline()}\nStatus: ${message}\nReport: npm run runbook -- report ${workflowInfo().workflowId}`,
    );
    await CancellationScope.nonCancellable(() => notifier.flush());
    if (cancelled) throw err;
    // A runbook may fail with its result attached (failWithResult: backupVerification's per-database results).
    const attached = failedWithResult && failedWithResult.err === err ? failedWithResult.result : undefined;
    throw ApplicationFailure.create({
      type: cause.type ?? FailureType.RunbookFailed,
      message,
      nonRetryable: true,
      details: [report('failed', { error: message, ...(attached !== undefined ? { result: attached } : {}) })],
    });
  }
}

/**
 * Fix the run's rules when it starts: the organisation policy the worker hands over (a local activity: recorded in
 * history), the initiator's proof of identity verified, the input's approval policy raised where it asks for less
 * (each raise a warning), who may start it. Refuses the run (nothing changed) when the policy does not allow it.
 */
async function settleRules(
  governance: Governance,
  tracker: Tracker,
  notifier: Notifier,
  o: {
    runbook: string;
    inputApproval: ApprovalPolicy | undefined;
    initiatedBy: string | undefined;
    initiatorProof: AwsProof | undefined;
    reason: string | undefined;
    asks: { acceptDataLoss: boolean; plannedSwitchover: boolean };
  },
): Promise<void> {
  const loaded = await local.organisationPolicy({ runbook: o.runbook });
  // A worker without a webhook: no notification activity in the run's history at all.
  if (loaded.chat === false) notifier.disable();
  let verified;
  if (o.initiatorProof) {
    const v = await governance.verify(o.initiatorProof, 'start', o.reason ?? '');
    if ('refusal' in v) {
      governance.settle({ loaded, inputApproval: o.inputApproval ?? NO_APPROVAL, initiator: {}, asks: o.asks });
      throw refuseUnverifiedStart(v.refusal);
    }
    verified = v.principal;
  }
  governance.settle({
    loaded,
    inputApproval: o.inputApproval ?? NO_APPROVAL,
    initiator: { declared: o.initiatedBy, verified },
    asks: o.asks,
  });
  tracker.status.policy = { ...governance.view(), ...(o.inputApproval ? { input: o.inputApproval } : {}) };
  tracker.refresh();
  if (o.inputApproval) {
    for (const raised of governance.approval?.raised ?? []) tracker.warn(`organisation policy: ${raised}`);
  }
  governance.checkStart(o.runbook, `npm run runbook -- start ${o.runbook} <input.json> --by <your name> --aws`);
  const effective = governance.approval?.policy;
  if (o.inputApproval && effective?.required && effective.requireSecondPerson && !o.initiatedBy && !verified) {
    throw fail(
      'InvalidInput',
      'invalid input: input.initiatedBy: required: the organisation policy requires approval by a second person, so ' +
        'the run must say who started it.',
    );
  }
}
