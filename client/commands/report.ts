// `runbook report <workflowId>`: the markdown incident report of a run (finished: from its result or failure;
// still running: rendered from its status so far).
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { statusQuery } from '../../api/definitions';
import type { RunbookReport } from '../../api/status';
import { renderIncidentReport } from '../../workflows/lib/report';
import { connect } from '../connection';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('print the incident report (markdown) of a run')
    .argument('<workflowId>')
    .option('--json', 'print the whole run report as JSON')
    .action(async (workflowId: string, o: { json?: boolean }) => {
      const conn = await connect();
      try {
        const handle = conn.client.workflow.getHandle(workflowId);
        const description = await handle.describe();
        let report: RunbookReport | undefined;
        if (description.status.name === 'COMPLETED') {
          report = (await handle.result()) as RunbookReport;
        } else if (description.status.name !== 'RUNNING') {
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
        console.log(
          renderIncidentReport(
            status,
            {
              title: status.reason ?? `${status.runbook} on ${status.target}`,
              status: `${description.status.name} (${status.state})${status.error ? `: ${status.error}` : ''}`,
              impact: [],
              resolution: description.status.name === 'RUNNING' ? '_The run is still going._' : (status.error ?? ''),
            },
            new Date().toISOString(),
          ),
        );
      } finally {
        await conn.close();
      }
    });
}
