// `runbook status <workflowId>`: the run's steps, pending approval, decisions and compensations.
import type { Command } from 'commander';
import { statusQuery } from '../../api/definitions';
import type { RunbookStatus } from '../../api/status';
import { connect, uiLink } from '../connection';
import { renderStatus } from '../format';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show a run's steps, pending approval, decisions and compensations")
    .argument('<workflowId>')
    .option('--json', 'print the status as JSON')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      const conn = await connect();
      try {
        const handle = conn.client.workflow.getHandle(workflowId);
        const description = await handle.describe();
        const status: RunbookStatus = await handle.query(statusQuery);
        if (opts.json) {
          console.log(JSON.stringify({ execution: description.status.name, ...status }, null, 2));
          return;
        }
        console.log(renderStatus(status));
        console.log(`\nexecution: ${description.status.name}   UI: ${uiLink(conn, workflowId, description.runId)}`);
      } finally {
        await conn.close();
      }
    });
}
