// `runbook status <workflowId>`: the run's steps, pending approval, decisions and compensations.
import type { Command } from 'commander';
import { statusQuery } from '../../api/definitions';
import type { RunbookStatus } from '../../api/status';
import { uiLink, withConnection } from '../connection';
import { renderStatus } from '../format';
import { resolveRun } from '../resolve';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show a run's steps, pending approval, decisions and compensations")
    .argument('<workflowId>')
    .option('--json', 'print the status as JSON')
    .action(async (workflowId: string, opts: { json?: boolean }) => {
      await withConnection(async (conn) => {
        const run = await resolveRun(conn.client, workflowId);
        const { handle, description } = run;
        const status: RunbookStatus = await handle.query(statusQuery);
        if (opts.json) {
          const lock = run.viaLock ? { lock: run.viaLock } : {};
          console.log(JSON.stringify({ execution: description.status.name, ...lock, ...status }, null, 2));
          return;
        }
        if (run.viaLock) console.log(`${run.viaLock} is a lock held by ${run.workflowId}:\n`);
        console.log(renderStatus(status));
        console.log(`\nexecution: ${description.status.name}   UI: ${uiLink(conn, run.workflowId, description.runId)}`);
      });
    });
}
