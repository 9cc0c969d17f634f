// The incident report in the seeds' post-incident template (seed 000 "Incident Report Template"): summary, a
// timeline table with UTC times of every step and decision, the impact figures the run knows, and the headings
// humans fill in (root cause, lessons, action items).
import { formatDuration } from '../../api/duration';
import type { RunbookStatus } from '../../api/status';

export interface IncidentFacts {
  title: string;
  status: string;
  detectedAt?: string;
  /** Extra rows for the Impact section, e.g. RTO and data-loss estimate. */
  impact: [string, string][];
  resolution: string;
}

const hhmmss = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

/** `endedAt`: when the run ended — or, with `stillRunning`, when this report was made (the run goes on). */
export function renderIncidentReport(
  s: RunbookStatus,
  facts: IncidentFacts,
  endedAt: string,
  opts: { stillRunning?: boolean } = {},
): string {
  const rows: [string, string][] = [];
  if (facts.detectedAt) rows.push([facts.detectedAt, 'Incident detected']);
  rows.push([
    s.startedAt,
    `Runbook ${s.runbook} started${s.initiatedBy ? ` by ${s.initiatedBy}` : ''}${s.reason ? ` — ${s.reason}` : ''}`,
  ]);
  // Decisions before steps: the sort is stable, so a decision and the gate it closes (same instant) read in order.
  for (const a of s.approvals) {
    rows.push([
      a.at,
      `${a.decision} by ${a.by}: ${a.accepted ? 'accepted' : `refused (${a.refusal})`}${a.comment ? ` — ${a.comment}` : ''}`,
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
