// What a run leaves behind when it ends: its report (timeline, approvals, signals, compensations, result) and, in
// it, the one incident report in the seeds' post-incident template (seed 000 "Incident Report Template"): summary,
// a timeline table with UTC times of every step and decision, the impact figures the run knows, and the headings
// humans fill in (root cause, lessons, action items). The frame (runbook.ts) calls these; a runbook adds only its
// facts (ctx.incident).
import { formatDuration } from '../../api/duration';
import { describeRto } from './rto';
import type { ReportOutcome, RunbookReport, RunbookStatus, VerifiedSender } from '../../api/status';

/**
 * What a runbook knows about the incident beyond the run itself, stated with `ctx.incident` once it has done its
 * work. Every field is optional: without any, the report is the run's timeline with the frame's wording.
 */
export interface IncidentFacts {
  /** The heading when the run has no `reason` (the reason is the heading otherwise). */
  title?: string;
  /** What "resolved" means for this run, e.g. `serving from the secondary region`. */
  resolvedAs?: string;
  /** When the incident was detected (before the run started): the timeline and the duration start there. */
  detectedAt?: string;
  /** The recovery time, also put in the notification. */
  rtoSeconds?: number;
  /** The input's `rtoTarget`: the report and the notification say whether the RTO met it; a miss is a warning. */
  rtoTargetSeconds?: number;
  dataLossEstimateSeconds?: number;
  /** Impact rows after the runbook's duration; by default the RTO and the data-loss estimate above. */
  impact?: [string, string][];
  /** What was done, in a paragraph; by default "<runbook> completed on <target>". */
  resolution?: string;
}

/** The incident report's wording, as rendered. */
export interface RenderedFacts {
  title: string;
  status: string;
  detectedAt?: string;
  impact: [string, string][];
  resolution: string;
}

/** The report every run ends with (a dry run's has its plan and no incident report). */
export function runbookReport<R>(
  s: RunbookStatus,
  o: {
    outcome: ReportOutcome;
    target: string;
    facts: IncidentFacts | undefined;
    extra?: Partial<RunbookReport<R>>;
  },
): RunbookReport<R> {
  const endedAt = new Date().toISOString();
  const extra = o.extra ?? {};
  return {
    runbook: s.runbook,
    workflowId: s.workflowId,
    target: o.target,
    outcome: o.outcome,
    ...(s.reason ? { reason: s.reason } : {}),
    ...(s.initiatedBy ? { initiatedBy: s.initiatedBy } : {}),
    startedAt: s.startedAt,
    endedAt,
    durationMs: Date.parse(endedAt) - Date.parse(s.startedAt),
    timeline: s.steps,
    approvals: s.approvals,
    ...(s.signals ? { signals: s.signals } : {}),
    compensations: s.compensations,
    warnings: s.warnings,
    ...(s.readings ? { readings: s.readings } : {}),
    ...(s.policy ? { policy: s.policy } : {}),
    ...extra,
    ...(o.outcome === 'dry-run'
      ? {}
      : { incidentReport: incidentReport(s, o.outcome, endedAt, { facts: o.facts ?? {}, error: extra.error }) }),
  };
}

/**
 * The incident report of a run that ended with `outcome`. A run that finished with warnings (e.g. a health check that
 * failed after the change) is not plainly resolved: the status says what is left to look at; a failed step without
 * a warning of its own is named the same way.
 */
function incidentReport(
  s: RunbookStatus,
  outcome: ReportOutcome,
  endedAt: string,
  o: { facts: IncidentFacts; error?: string | undefined },
): string {
  const f = o.facts;
  const impact: [string, string][] = [
    ['Runbook duration', formatDuration(Date.parse(endedAt) - Date.parse(s.startedAt))],
  ];
  if (f.impact) impact.push(...f.impact);
  else {
    if (f.rtoSeconds !== undefined) impact.push(['RTO', formatDuration(f.rtoSeconds * 1000)]);
    if (f.dataLossEstimateSeconds !== undefined)
      impact.push(['Data-loss estimate', `up to ${f.dataLossEstimateSeconds}s of writes`]);
  }
  if (f.rtoSeconds !== undefined && f.rtoTargetSeconds !== undefined) {
    impact.push(['RTO against target', describeRto(f.rtoSeconds * 1000, f.rtoTargetSeconds * 1000).text]);
  }
  const failedSteps = s.steps.filter((step) => step.outcome === 'failed').map((step) => `${step.name} failed`);
  const caveats = s.warnings.length ? s.warnings : failedSteps;
  const error = o.error ?? s.error ?? '';
  const status =
    outcome === 'failed'
      ? `Failed: ${error}`
      : caveats.length
        ? `Resolved with warnings${f.resolvedAs ? ` (${f.resolvedAs})` : ''}: ${caveats.join('; ')}`
        : `Resolved${f.resolvedAs ? `: ${f.resolvedAs}` : ''}`;
  return renderIncidentReport(
    s,
    {
      title: s.reason ?? f.title ?? `${s.runbook} on ${s.target}`,
      status,
      ...(f.detectedAt ? { detectedAt: f.detectedAt } : {}),
      impact,
      resolution:
        outcome === 'failed'
          ? `The runbook failed: ${error}`
          : (f.resolution ??
            `${s.runbook} completed on ${s.target}${s.warnings.length ? ' with warnings (below)' : ''}.`),
    },
    endedAt,
  );
}

const hhmmss = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

/** `endedAt`: when the run ended — or, with `stillRunning`, when this report was made (the run goes on). */
export function renderIncidentReport(
  s: RunbookStatus,
  facts: RenderedFacts,
  endedAt: string,
  opts: { stillRunning?: boolean } = {},
): string {
  const rows: [string, string][] = [];
  if (facts.detectedAt) rows.push([facts.detectedAt, 'Incident detected']);
  rows.push([
    s.startedAt,
    `Runbook ${s.runbook} started${s.initiatedBy ? ` by ${s.initiatedBy}` : ''}` +
      `${s.policy?.initiator?.verified ? ` (verified ${s.policy.initiator.verified.arn})` : ''}${s.reason ? ` — ${s.reason}` : ''}`,
  ]);
  // Decisions before steps: the sort is stable, so a decision and the gate it closes (same instant) read in order.
  // Every decision, accepted or refused: who (with the AWS identity that verified it), and why refused.
  const who = (by: string, verified: VerifiedSender | undefined) =>
    verified ? `${by} (verified ${verified.arn})` : by;
  for (const a of s.approvals) {
    rows.push([
      a.at,
      `${a.decision} by ${who(a.by, a.verified)}: ${a.accepted ? 'accepted' : `refused (${a.refusal})`}${a.comment ? ` — ${a.comment}` : ''}`,
    ]);
  }
  for (const g of s.signals ?? []) {
    rows.push([
      g.at,
      `${g.signal} by ${who(g.by, g.verified)}: ${g.accepted ? 'accepted' : `refused (${g.refusal})`}${g.reason ? ` — ${g.reason}` : ''}`,
    ]);
  }
  for (const step of s.steps) {
    if (step.name === 'Acquire resource') continue;
    // Listed when the step ended: that is when its outcome (and, for an approval, the decision) was known.
    const phases = typeof step.details?.phases === 'string' ? ` — ${step.details.phases}` : '';
    rows.push([
      step.endedAt ?? step.startedAt,
      `${step.name}: ${step.outcome}${step.error ? ` (${step.error})` : phases}`,
    ]);
  }
  for (const c of s.compensations) rows.push([c.startedAt, `Compensation: ${c.name}: ${c.outcome}`]);
  rows.push([
    endedAt,
    opts.stillRunning ? `Report made; the run is still going: ${facts.status}` : `Runbook finished: ${facts.status}`,
  ]);
  rows.sort((a, b) => a[0].localeCompare(b[0]));

  const started = facts.detectedAt ?? s.startedAt;
  const lines = [
    `# Incident Report: ${facts.title}`,
    '',
    '## Summary',
    `- **Date:** ${started.slice(0, 10)}`,
    `- **Duration:** ${formatDuration(Date.parse(endedAt) - Date.parse(started))}${opts.stillRunning ? ' so far' : ''}`,
    '- **Severity:** _to be set by the incident lead_',
    `- **Status:** ${facts.status}`,
    `- **Runbook run:** ${s.runbook} \`${s.workflowId}\` on \`${s.target}\``,
    '',
    '## Timeline',
    '| Time (UTC) | Event |',
    '|------------|-------|',
    ...rows.map(([at, event]) => `| ${hhmmss(at)} | ${event.replace(/\|/g, '\\|')} |`),
    '',
    '## Impact',
    ...facts.impact.map(([k, v]) => `- **${k}:** ${v}`),
    '- **Users Affected:** _to be filled in_',
    '- **SLA Impact:** _to be filled in_',
    '',
    '## Root Cause',
    '_To be written by the people who investigate it._',
    '',
    '## Resolution',
    facts.resolution,
    ...(s.warnings.length ? ['', '**Warnings:**', ...s.warnings.map((w) => `- ${w}`)] : []),
    '',
    '## Lessons Learned',
    '### What Went Well',
    '- ',
    '',
    '### What Could Be Improved',
    '- ',
    '',
    '## Action Items',
    '| Action | Owner | Due Date | Status |',
    '|--------|-------|----------|--------|',
    '| | | | |',
    '',
  ];
  return lines.join('\n');
}
