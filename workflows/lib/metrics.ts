// Runbook metrics, emitted from workflow code through the SDK's workflow metric meter. The meter goes through a
// sink that the SDK skips while a workflow replays and that adds no command to history, so these calls change
// nothing a replay compares: no patch() is needed, and a run replayed on another worker is not counted twice.
// The worker's Runtime exports them with Temporal's own series (worker/telemetry.ts). Labels: `runbook` (the
// workflow type), `outcome`, `step`, `gate`, `kind`, `verdict`; the SDK adds `namespace`, `task_queue` and
// `workflow_type`. Every helper is a no-op outside a workflow (unit tests that drive this code without a worker).
import type { MetricTags } from '@temporalio/common';
import { inWorkflowContext, metricMeter, workflowInfo } from '@temporalio/workflow';

/**
 * The series this project adds, as Prometheus shows them (Core's exporter keeps the names as given: no `_total` or
 * unit suffix is appended, so counters carry `_total` and durations `_seconds` in their names here). Histograms
 * export `<name>_bucket`, `<name>_sum` and `<name>_count`. The dashboard, the alert rules and their test read
 * this list (deploy/observability, test/unit/observability.test.ts).
 */
export const RUNBOOK_METRICS = {
  runsStarted: 'runbooks_runs_started_total',
  runsFinished: 'runbooks_runs_finished_total',
  stepDuration: 'runbooks_step_duration_seconds',
  approvalWait: 'runbooks_approval_wait_seconds',
  compensations: 'runbooks_compensations_total',
  needsOperator: 'runbooks_needs_operator_total',
  rto: 'runbooks_rto_seconds',
  rtoTargetMissed: 'runbooks_rto_target_missed_total',
  dataLossEstimate: 'runbooks_data_loss_estimate_seconds',
  gateEvaluations: 'runbooks_gate_evaluations_total',
} as const;

/**
 * Histogram buckets (seconds) per series: Core's default buckets are made for milliseconds. Passed to the
 * Prometheus exporter as histogramBucketOverrides (worker/telemetry.ts).
 */
export const RUNBOOK_HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [RUNBOOK_METRICS.stepDuration]: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200],
  [RUNBOOK_METRICS.approvalWait]: [1, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400],
  [RUNBOOK_METRICS.rto]: [5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600],
  [RUNBOOK_METRICS.dataLossEstimate]: [0, 1, 5, 10, 30, 60, 300, 900, 3600],
};

/** How a run ended, as the `outcome` label says it. */
export type RunOutcome =
  | 'succeeded'
  | 'succeeded-with-warnings'
  | 'dry-run'
  | 'invalid-input'
  | 'rejected'
  | 'abandoned'
  | 'cancelled'
  | 'failed';

/** The `outcome` of a run that failed, from its root failure's type. */
export function failedOutcome(cancelled: boolean, failureType: string | undefined): RunOutcome {
  if (cancelled) return 'cancelled';
  if (failureType === 'InvalidInput') return 'invalid-input';
  if (failureType === 'ApprovalRejected' || failureType === 'ApprovalTimedOut') return 'rejected';
  if (failureType === 'Abandoned') return 'abandoned';
  return 'failed';
}

/**
 * A step's name as a label: the same step must be one series whatever run it is in, so retries by an operator
 * ("… (operator retry 2)") count as the step, and numbers ("Shift 25% to green") become `N`. Resource names some
 * steps carry stay (bounded by the resources a team has).
 */
export function stepLabel(name: string): string {
  return name
    .replace(/ \(operator retry \d+\)$/, '')
    .replace(/\d+(\.\d+)?/g, 'N')
    .slice(0, 80);
}

function emit(fn: () => void): void {
  if (inWorkflowContext()) fn();
}

const counter = (name: string, tags: MetricTags, description: string) =>
  emit(() => metricMeter.createCounter(name, undefined, description).add(1, tags));
const histogram = (name: string, seconds: number, tags: MetricTags, description: string) =>
  emit(() => metricMeter.createHistogram(name, 'float', 's', description).record(Math.max(0, seconds), tags));

export function runStarted(runbook: string): void {
  counter(RUNBOOK_METRICS.runsStarted, { runbook }, 'Runbook runs started');
}

export function runFinished(runbook: string, outcome: RunOutcome): void {
  counter(RUNBOOK_METRICS.runsFinished, { runbook, outcome }, 'Runbook runs finished, by outcome');
}

export function stepFinished(runbook: string, step: string, outcome: string, seconds: number): void {
  histogram(
    RUNBOOK_METRICS.stepDuration,
    seconds,
    { runbook, step: stepLabel(step), outcome },
    'Runbook step duration',
  );
}

/** An approval gate closed: `decision` approved, rejected, timed-out or interrupted. */
export function approvalWaited(runbook: string, gate: string, decision: string, seconds: number): void {
  histogram(
    RUNBOOK_METRICS.approvalWait,
    seconds,
    { runbook, gate: stepLabel(gate), decision },
    'Time an approval gate waited for its decision',
  );
}

export function compensationRan(runbook: string, outcome: 'succeeded' | 'failed'): void {
  counter(RUNBOOK_METRICS.compensations, { runbook, outcome }, 'Compensations run');
}

export function needsOperator(runbook: string, step: string): void {
  counter(RUNBOOK_METRICS.needsOperator, { runbook, step: stepLabel(step) }, 'Runs that entered needs-operator');
}

/** A failover's (or failback's) RTO and data-loss estimate, as the runbook stated them (ctx.incident). */
export function incidentFacts(
  runbook: string,
  facts: {
    rtoSeconds?: number | undefined;
    rtoTargetSeconds?: number | undefined;
    dataLossEstimateSeconds?: number | undefined;
  },
): void {
  if (facts.rtoSeconds !== undefined) {
    histogram(RUNBOOK_METRICS.rto, facts.rtoSeconds, { runbook }, 'Recovery time of a failover');
    if (facts.rtoTargetSeconds !== undefined && facts.rtoSeconds > facts.rtoTargetSeconds) {
      counter(RUNBOOK_METRICS.rtoTargetMissed, { runbook }, 'Failovers whose RTO exceeded their target');
    }
  }
  if (facts.dataLossEstimateSeconds !== undefined) {
    histogram(
      RUNBOOK_METRICS.dataLossEstimate,
      facts.dataLossEstimateSeconds,
      { runbook },
      'Data-loss estimate of a failover (seconds of writes)',
    );
  }
}

/** One gate reading (gates.ts, which does not know its runbook: the workflow type is the runbook). */
export function gateEvaluated(kind: string, verdict: 'pass' | 'fail'): void {
  emit(() =>
    counter(
      RUNBOOK_METRICS.gateEvaluations,
      { runbook: workflowInfo().workflowType, kind, verdict },
      'Gate readings (alarms, metrics, health and HTTP checks), by verdict',
    ),
  );
}
