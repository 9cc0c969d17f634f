// `runbook watch <workflowId>`: a live view of a run — steps (done / running / waiting / failed, with durations), gate
// readings, the pending approval or operator request — redrawn in place on a terminal, plain lines otherwise. Exits
// with the run's outcome: 0 succeeded, 1 failed/cancelled/terminated.
import type { Command } from 'commander';
import { statusQuery } from '../../api/definitions';
import type { RunbookStatus } from '../../api/status';
import { withConnection } from '../connection';
import { UserError } from '../errors';
import { outputStyle, renderStatus } from '../format';
import { resolveRun } from '../resolve';

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('follow a run live until it ends; exit code = its outcome')
    .argument('<workflowId>')
    .option('--interval <ms>', 'refresh interval in milliseconds', '1000')
    .option('--json', 'one JSON status per line each time it changes, then {"workflowId","execution"} at the end')
    .action(async (workflowId: string, o: { interval: string; json?: boolean }) => {
      await withConnection(async (conn) => {
        const style = outputStyle();
        // On a terminal log-update redraws in place (ESM-only, hence the dynamic import); elsewhere plain lines.
        const draw = style.tty && !o.json ? (await import('log-update')).default : undefined;
        const printed = new Set<string>();
        let lastJson = '';
        const { handle } = await resolveRun(conn.client, workflowId);
        for (;;) {
          const description = await handle.describe();
          let status: RunbookStatus | undefined;
          try {
            status = await handle.query(statusQuery);
          } catch {
            /* no worker to answer yet: keep polling */
          }
          const open = description.status.name === 'RUNNING';
          if (status && o.json) {
            const line = JSON.stringify(status);
            if (line !== lastJson) console.log(line);
            lastJson = line;
          } else if (status) {
            if (draw) {
              draw(
                `${renderStatus(status, style)}\n\nexecution: ${description.status.name}   (Ctrl-C stops watching, not the run)`,
              );
            } else {
              for (const line of plainLines(status)) {
                if (!printed.has(line)) {
                  printed.add(line);
                  console.log(line);
                }
              }
            }
          }
          if (!open) {
            draw?.done();
            console.log(
              o.json
                ? JSON.stringify({ workflowId, execution: description.status.name, error: status?.error })
                : `${workflowId}: ${description.status.name}${status?.error ? ` — ${status.error}` : ''}`,
            );
            if (description.status.name !== 'COMPLETED') throw new UserError(`run ended ${description.status.name}`, 1);
            return;
          }
          await new Promise((r) => setTimeout(r, Math.max(200, Number(o.interval) || 1000)));
        }
      });
    });
}

/** One line per fact, printed once each: good for logs and pipes. */
function plainLines(s: RunbookStatus): string[] {
  const lines = [`${s.runbook} ${s.workflowId} on ${s.target}`];
  for (const step of s.steps) {
    const took = step.endedAt
      ? ` (${Math.round((Date.parse(step.endedAt) - Date.parse(step.startedAt)) / 100) / 10}s)`
      : '';
    lines.push(
      `${step.startedAt.slice(11, 19)} ${step.outcome === 'running' ? 'running ' : `${step.outcome} `}${step.name}${took}`,
    );
  }
  if (s.state === 'awaiting-approval' && s.pendingApproval) {
    lines.push(`waiting for approval: ${s.pendingApproval.how.cli}`);
  }
  if (s.state === 'needs-operator' && s.operator) {
    lines.push(`needs an operator: "${s.operator.failedStep}" failed: ${s.operator.error}`);
  }
  for (const r of s.readings ?? []) {
    if (r.verdict === 'fail') lines.push(`gate ${r.gate} FAILED at ${r.step}%: ${r.value ?? 'nothing'}`);
  }
  return lines;
}
