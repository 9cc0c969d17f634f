// Terminal rendering of a run's status: header, step table, pending approval, decisions, compensations.
import Table from 'cli-table3';
import { formatDuration } from '../api/duration';
import type { RunbookStatus } from '../api/status';

const ICON: Record<string, string> = { succeeded: '✔', failed: '✖', running: '…', skipped: '–' };

export function renderStatus(s: RunbookStatus): string {
  const out: string[] = [];
  out.push(`${s.runbook}  ${s.workflowId}`);
  out.push(`target: ${s.target}   state: ${s.state}${s.dryRun ? '   (dry run)' : ''}`);
  if (s.reason) out.push(`reason: ${s.reason}`);
  if (s.initiatedBy) out.push(`initiated by: ${s.initiatedBy}`);
  if (s.error) out.push(`error: ${s.error}`);
  for (const w of s.warnings ?? []) out.push(`warning: ${w}`);

  const table = new Table({
    head: ['', 'step', 'started (UTC)', 'took', 'details'],
    wordWrap: true,
    colWidths: [3, 44, 21, 8, 60],
  });
  for (const step of s.steps ?? []) {
    const took = step.endedAt ? formatDuration(Date.parse(step.endedAt) - Date.parse(step.startedAt)) : '';
    const details = step.error ? `error: ${step.error}` : summarize(step.details);
    table.push([
      ICON[step.outcome] ?? step.outcome,
      step.name + (step.mutating ? ' *' : ''),
      step.startedAt.replace('T', ' ').slice(0, 19),
      took,
      details,
    ]);
  }
  out.push(table.toString(), '(* changes AWS)');

  const pa = s.pendingApproval;
  if (pa) {
    out.push(
      '',
      `WAITING FOR APPROVAL (${pa.approvedBy?.length ?? 0} of ${pa.quorum}) until ${pa.deadline}`,
      `  plan: ${pa.summary}`,
      `  who: ${pa.approvers?.length ? pa.approvers.join(', ') : 'anyone'}${pa.secondPersonRequired && pa.initiator ? ` except ${pa.initiator} (initiator)` : ''}`,
      `  approve: ${pa.how.cli}`,
      `  or signal "approve" with ${JSON.stringify({ by: '<your name>' })}; reject with signal "reject" ${JSON.stringify(pa.how.rejectExample)}`,
    );
  }
  if (s.traffic) {
    const t = s.traffic;
    out.push(
      '',
      `TRAFFIC: blue ${t.blue}% / green ${t.green}%${t.step !== undefined ? `   step ${t.step}%` : ''}${t.phase ? `   ${t.phase}` : ''}${t.paused ? '   PAUSED' : ''}`,
    );
  }
  if (s.readings?.length) {
    const latest = new Map<string, (typeof s.readings)[number]>();
    for (const r of s.readings) latest.set(r.gate, r);
    const gates = new Table({
      head: ['gate', 'kind', 'reading', 'threshold', 'verdict', 'at (UTC)', 'step'],
      wordWrap: true,
    });
    for (const r of latest.values()) {
      gates.push([
        r.gate,
        r.kind,
        String(r.value ?? '—'),
        r.threshold ?? '',
        r.verdict === 'fail' ? 'FAIL' : 'pass',
        r.at.slice(11, 19),
        `${r.step}%`,
      ]);
    }
    out.push('', `Gate readings (latest of ${s.readings.length}):`, gates.toString());
    const failed = s.readings.filter((r) => r.verdict === 'fail');
    for (const r of failed.slice(-3))
      out.push(
        `  failed: ${r.gate} read ${r.value ?? 'nothing'} at ${r.at} (${r.step}% green)${r.detail ? ` — ${r.detail}` : ''}`,
      );
  }
  const op = s.operator;
  if (op && s.state === 'needs-operator') {
    out.push(
      '',
      `NEEDS AN OPERATOR since ${op.since}: "${op.failedStep}" failed: ${op.error}`,
      `  done (stays done): ${op.done.join('; ') || 'nothing'}`,
      `  not done: ${op.notDone.join('; ') || 'nothing'}`,
      `  try the step again: npm run runbook -- retry ${s.workflowId} --by <your name>   (signal "retryStep" ${JSON.stringify(op.how.retryExample)})`,
      `  or stop here:       npm run runbook -- abandon ${s.workflowId} --by <your name> --reason <why>   (signal "abandon")`,
    );
  }
  if (s.plan?.length && s.dryRun) {
    out.push('', 'Planned changes (dry run, nothing changed):');
    for (const p of s.plan) out.push(`  - ${p.step}: ${p.action} ${JSON.stringify(p.params)}`);
  }
  if (s.approvals?.length) {
    out.push('', 'Decisions:');
    for (const a of s.approvals) {
      out.push(
        `  ${a.at}  ${a.decision} by ${a.by} via ${a.via}: ${a.accepted ? 'accepted' : `refused (${a.refusal})`}` +
          (a.comment ? ` — "${a.comment}"` : '') +
          (a.reason ? ` — reason: ${a.reason}` : ''),
      );
    }
  }
  if (s.compensations?.length) {
    out.push('', 'Compensations:');
    for (const c of s.compensations)
      out.push(`  ${c.endedAt}  ${c.name}: ${c.outcome}${c.error ? ` (${c.error})` : ''}`);
  }
  return out.join('\n');
}

function summarize(details: Record<string, unknown> | undefined): string {
  if (!details) return '';
  return Object.entries(details)
    .filter(([, v]) => v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
    .slice(0, 240);
}
