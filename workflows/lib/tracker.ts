// Step tracker: the run's timeline and state, answered by the `status` query, mirrored into the Temporal UI's
// current details (short markdown) and into search attributes so the UI and `runbook list` can filter.
import { log, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { statusQuery } from '../../api/definitions';
import { formatDuration } from '../../api/duration';
import { RunbookInitiatorKey, RunbookNameKey, RunbookStatusKey, RunbookTargetKey } from '../../api/search-attributes';
import {
  decisionsOf,
  type PlannedAction,
  type PolicyView,
  type RunbookState,
  type RunbookStatus,
  type StepRecord,
} from '../../api/status';
import { errorMessage } from './errors';
import { stepFinished } from './metrics';

export interface StepOptions<T> {
  /** The step changes something in AWS. */
  mutating?: boolean;
  /** Details recorded when the step starts (parameters). */
  params?: Record<string, unknown>;
  /** Details recorded from the step's result. */
  details?: (result: T) => Record<string, unknown>;
  /**
   * A step that returns (the run goes on, or the runbook decides what follows) but did not succeed, e.g. one database
   * of several that failed, or a health check that found the target unhealthy: never record such a step as succeeded.
   */
  outcome?: (result: T) => 'succeeded' | 'failed';
  /** Why a step that returned failed (see `outcome`): recorded as its error, as a thrown error would be. */
  failure?: (result: T) => string;
}

const nowIso = () => new Date().toISOString();

/** A run's status before any step: also used by the lock workflow, which answers `status` too. */
export function initialStatus(runbook: string, target: string, state: RunbookState): RunbookStatus {
  const info = workflowInfo();
  return {
    runbook,
    workflowId: info.workflowId,
    target,
    state,
    startedAt: info.startTime.toISOString(),
    dryRun: false,
    steps: [],
    approvals: [],
    compensations: [],
    warnings: [],
  };
}

export class Tracker {
  readonly status: RunbookStatus;

  constructor(runbook: string) {
    this.status = initialStatus(runbook, '(validating input)', 'validating');
    setHandler(statusQuery, () => this.status, {
      description: 'Steps, state, pending approval (who may approve, how), decisions, compensations, readings',
    });
  }

  /** Called once the input is valid: what the run acts on and who asked. */
  describe(fields: { target: string; dryRun: boolean; reason?: string; initiatedBy?: string }): void {
    Object.assign(this.status, fields);
    upsertSearchAttributes([
      { key: RunbookNameKey, value: this.status.runbook },
      { key: RunbookTargetKey, value: fields.target },
      ...(fields.initiatedBy ? [{ key: RunbookInitiatorKey, value: fields.initiatedBy }] : []),
    ]);
    this.setState('running');
  }

  setState(state: RunbookState): void {
    if (this.status.state !== state) {
      this.status.state = state;
      upsertSearchAttributes([{ key: RunbookStatusKey, value: state }]);
    }
    if (state === 'succeeded' || state === 'failed') this.status.endedAt = nowIso();
    this.refresh();
  }

  setPlan(plan: PlannedAction[]): void {
    this.status.plan = plan;
    this.refresh();
  }

  warn(message: string): void {
    this.status.warnings.push(message);
    this.refresh();
  }

  /** Run one step, recording start, end, outcome and details. */
  async step<T>(name: string, fn: () => Promise<T>, opts: StepOptions<T> = {}): Promise<T> {
    const record: StepRecord = {
      name,
      startedAt: nowIso(),
      outcome: 'running',
      mutating: opts.mutating ?? false,
      ...(opts.params ? { details: { ...opts.params } } : {}),
    };
    this.status.steps.push(record);
    this.status.currentStep = name;
    this.refresh();
    // One line per step start and end in the worker's log (replay-safe: `log` is silent while replaying).
    log.info(`step started: ${name}`, { runbook: this.status.runbook, step: name });
    try {
      const result = await fn();
      record.outcome = opts.outcome ? opts.outcome(result) : 'succeeded';
      if (record.outcome === 'failed' && opts.failure) record.error = opts.failure(result);
      if (opts.details) record.details = { ...record.details, ...opts.details(result) };
      // A wait's result says which phases AWS went through ("modifying @0s → backing-up @12s → available @31s"):
      // the timeline shows them.
      const phases = (result as { phases?: unknown } | undefined)?.phases;
      if (typeof phases === 'string' && phases) record.details = { ...record.details, phases };
      return result;
    } catch (err) {
      record.outcome = 'failed';
      record.error = errorMessage(err);
      throw err;
    } finally {
      record.endedAt = nowIso();
      stepFinished(
        this.status.runbook,
        name,
        record.outcome,
        (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000,
      );
      const ended = {
        runbook: this.status.runbook,
        step: name,
        outcome: record.outcome,
        durationMs: Date.parse(record.endedAt) - Date.parse(record.startedAt),
        ...(record.error ? { error: record.error } : {}),
      };
      if (record.outcome === 'failed') log.warn(`step failed: ${name}`, ended);
      else log.info(`step finished: ${name}`, ended);
      this.refresh();
    }
  }

  /** A step that was decided without running anything (e.g. approval not required). */
  skipped(name: string, why: string): void {
    this.mark(name, 'skipped', { why });
  }

  /** A moment in the timeline (e.g. the point of no return), recorded as a zero-length step. */
  mark(name: string, outcome: 'succeeded' | 'skipped', details: Record<string, unknown>): void {
    const at = nowIso();
    this.status.steps.push({ name, startedAt: at, endedAt: at, outcome, mutating: false, details });
    this.refresh();
  }

  /** Re-render the UI's current details. Cheap; called after every change. */
  refresh(): void {
    setCurrentDetails(renderDetails(this.status));
  }
}

/** Short markdown for the Temporal UI: first line says what needs doing, then the step table. */
export function renderDetails(s: RunbookStatus): string {
  const lines: string[] = [];
  const pa = s.pendingApproval;
  if (pa && s.state === 'awaiting-approval') {
    const who = pa.approvers.length ? pa.approvers.join(', ') : 'anyone';
    const except = pa.secondPersonRequired && pa.initiator ? ` except ${pa.initiator} (the initiator)` : '';
    lines.push(
      `⏳ **Waiting for approval** (${pa.approvedBy.length} of ${pa.quorum}) until ${pa.deadline}: ${who}${except} may approve. ` +
        `Send signal \`approve\` with \`${JSON.stringify(pa.how.approveExample)}\` (or \`reject\` with \`${JSON.stringify(pa.how.rejectExample)}\`); ` +
        `the update \`approveUpdate\` takes the same input and answers at once. ` +
        `CLI: \`${pa.how.cli}\``,
      '',
      `**Plan:** ${pa.summary}`,
      '',
    );
  } else if (s.operator && s.state === 'needs-operator') {
    const op = s.operator;
    lines.push(
      `🛑 **Needs an operator**: "${op.failedStep}" failed: ${op.error}. Send signal \`retryStep\` with ` +
        `\`${JSON.stringify(op.how.retryExample)}\` to try it again, or \`abandon\` with \`${JSON.stringify(op.how.abandonExample)}\` ` +
        `to stop here (nothing is undone).`,
      '',
      `**Done:** ${op.done.join('; ') || 'nothing'}`,
      '',
      `**Not done:** ${op.notDone.join('; ') || 'nothing'}`,
      '',
    );
  } else {
    lines.push(`**${s.runbook}** on \`${s.target}\`: **${s.state}**${s.currentStep ? ` · ${s.currentStep}` : ''}`, '');
  }
  if (s.error) lines.push(`❌ ${s.error}`, '');
  if (s.policy && s.policy.source !== 'none' && (pa || s.state === 'awaiting-approval' || s.policy.effective)) {
    lines.push(...policyLines(s.policy), '');
  }
  if (s.traffic) {
    const t = s.traffic;
    lines.push(
      `**Traffic:** blue ${t.blue}% / green ${t.green}%${t.step !== undefined ? ` · step ${t.step}%` : ''}${t.phase ? ` · ${t.phase}` : ''}${t.paused ? ' · ⏸ paused' : ''}`,
      '',
    );
  }
  if (s.readings?.length) {
    const latest = new Map<string, (typeof s.readings)[number]>();
    for (const r of s.readings) latest.set(r.gate, r);
    lines.push('| Gate | Reading | Threshold | Verdict | At |', '|---|---|---|---|---|');
    for (const r of latest.values()) {
      lines.push(
        `| ${r.gate} | ${r.value ?? '—'} | ${r.threshold ?? ''} | ${r.verdict === 'fail' ? '❌ fail' : '✅ pass'} | ${r.at.slice(11, 19)} |`,
      );
    }
    lines.push('');
  }
  for (const w of s.warnings) lines.push(`⚠️ ${w}`);
  if (s.warnings.length) lines.push('');
  if (s.steps.length) {
    lines.push('| Step | Outcome | Started (UTC) | Took |', '|---|---|---|---|');
    for (const step of s.steps) {
      const took = step.endedAt ? formatDuration(Date.parse(step.endedAt) - Date.parse(step.startedAt)) : '…';
      lines.push(`| ${step.name} | ${step.outcome} | ${step.startedAt.slice(11, 19)} | ${took} |`);
    }
  }
  if (s.approvals.length || s.signals?.length) {
    // Signals are not answered: this list is where a person who signalled from the UI sees whether it counted.
    lines.push('', '**Decisions**');
    for (const d of decisionsOf(s)) {
      const verdict = d.accepted ? '✅ counted' : `❌ refused: ${d.refusal ?? 'not accepted'}`;
      const how = d.approval ? ` (${d.via}${d.verified ? ', signed' : ''})` : d.verified ? ' (signed)' : '';
      const note = d.reason ?? d.comment;
      const by = d.verified ? `${d.by} = ${d.verified.arn}` : d.by;
      lines.push(`- ${d.at.slice(11, 19)} ${d.what} by ${by}${how}: ${verdict}${note ? ` — ${note}` : ''}`);
    }
  }
  if (s.compensations.length) {
    lines.push('', '**Compensations**');
    for (const c of s.compensations) lines.push(`- ${c.name}: ${c.outcome}${c.error ? ` (${c.error})` : ''}`);
  }
  return lines.join('\n');
}

/** Which rule came from where: the organisation's policy, the input, or both (the current details). */
function policyLines(p: PolicyView): string[] {
  const e = p.effective;
  const from = (k: keyof NonNullable<PolicyView['sources']>) => {
    const src = p.sources?.[k];
    return src === 'policy' ? 'organisation policy' : src === 'input and policy' ? 'input and policy' : 'input';
  };
  const who = p.initiator?.verified
    ? `${p.initiator.declared ?? ''} = ${p.initiator.verified.arn} (verified)`
    : (p.initiator?.declared ?? 'not said');
  if (!e) return [`**Rules** (organisation policy: ${p.source}) · started by ${who}`];
  return [
    `**Rules** (organisation policy: ${p.source}) · started by ${who}`,
    '',
    `approval ${e.required ? 'required' : 'not required'} (${from('required')}) · quorum ${e.quorum} (${from('quorum')}) · ` +
      `second person ${e.requireSecondPerson ? 'yes' : 'no'} (${from('requireSecondPerson')}) · timeout ${e.timeout} ` +
      `(${from('timeout')}) · approvers ${e.approvers.length ? e.approvers.join(', ') : 'anyone'} (${from('approvers')}) · ` +
      `identity ${e.identity === 'aws-iam' ? 'verified AWS identity (--aws)' : 'declared names'} (${from('identity')})`,
  ];
}
