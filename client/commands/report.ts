// `runbook report <workflowId>`: the markdown incident report of a run (finished: from its result or failure;
// still running: rendered from its status so far).
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { statusQuery } from '../../api/definitions';
import type { RunbookReport } from '../../api/status';
import { renderIncidentReport } from '../../workflows/lib/report';
import { withConnection } from '../connection';
import { resolveRun } from '../resolve';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('print the incident report (markdown) of a run')
    .argument('<workflowId>')
    .option('--json', 'print the whole run report as JSON')
    .action(async (workflowId: string, o: { json?: boolean }) => {
      await withConnection(async (conn) => {
        const { handle, description } = await resolveRun(conn.client, workflowId);
        const execution = description.status.name;
        let report: RunbookReport | undefined;
        if (execution === 'COMPLETED') {
          report = (await handle.result()) as RunbookReport;
        } else if (execution !== 'RUNNING') {
          try {
            await handle.result();
          } catch (err) {
            if (err instanceof WorkflowFailedError) {
              report = (err.cause as { details?: unknown[] } | undefined)?.details?.[0] as RunbookReport | undefined;
            }
          }
        }
        if (report && o.json) return console.log(JSON.stringify(report, null, 2));
        if (report?.incidentReport) return console.log(report.incidentReport);
        const status = await handle.query(statusQuery);
        if (o.json) return console.log(JSON.stringify(status, null, 2));
        // A run that ended without a report of its own (cancelled, terminated, timed out, a dry run) ended when
        // Temporal closed it — not now; one still going has not ended at all.
        const endedAt = report?.endedAt ?? description.closeTime?.toISOString() ?? status.endedAt;
        const dryRun = report?.outcome === 'dry-run' || status.dryRun;
        const plan = report?.plan ?? status.plan ?? [];
        console.log(
          renderIncidentReport(
            status,
            {
              title: status.reason ?? `${status.runbook} on ${status.target}`,
              status: dryRun
                ? 'Dry run: nothing was changed'
                : `${execution}${execution === 'RUNNING' ? ` (${status.state})` : ` (runbook state ${status.state})`}` +
                  (status.error ? `: ${status.error}` : ''),
              impact: [],
              resolution: dryRun
                ? `A dry run: it read AWS and planned ${plan.length} change(s), and made none:\n\n` +
                  plan.map((a) => `- ${a.step} (${a.action})`).join('\n')
                : execution === 'RUNNING'
                  ? '_The run is still going._'
                  : (status.error ?? `The run was ${execution.toLowerCase()} before it finished.`),
            },
            endedAt ?? new Date().toISOString(),
            { stillRunning: !endedAt },
          ),
        );
      });
    });
}
