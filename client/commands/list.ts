// `runbook list`: running and recent runbook runs, through a visibility query on the runbooks' search attributes.
import Table from 'cli-table3';
import type { Command } from 'commander';
import { formatDuration } from '../../api/duration';
import { RUNBOOKS } from '../../api/runbooks';
import { RunbookStatusKey, RunbookTargetKey } from '../../api/search-attributes';
import { connect } from '../connection';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('running and recent runbook runs')
    .option('--running', 'only runs that are still open')
    .option('--runbook <type>', 'only this runbook')
    .option(
      '--status <state>',
      'only runs in this state (running, awaiting-approval, needs-operator, succeeded, failed, …)',
    )
    .option('--target <resource>', 'only runs on this target (as shown in the target column)')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print as JSON')
    .action(
      async (opts: {
        running?: boolean;
        runbook?: string;
        status?: string;
        target?: string;
        limit: string;
        json?: boolean;
      }) => {
        const types = opts.runbook ? [opts.runbook] : RUNBOOKS.map((r) => r.type);
        let query = `WorkflowType IN (${types.map((t) => `'${t.replace(/'/g, '')}'`).join(', ')})`;
        if (opts.running) query += ` AND ExecutionStatus = 'Running'`;
        const quote = (v: string) => `'${v.replace(/'/g, "\\'")}'`;
        if (opts.status) query += ` AND RunbookStatus = ${quote(opts.status)}`;
        if (opts.target) query += ` AND RunbookTarget = ${quote(opts.target)}`;
        const limit = Math.max(1, Number(opts.limit) || 20);
        const conn = await connect();
        try {
          const rows: {
            workflowId: string;
            type: string;
            execution: string;
            state: string;
            target: string;
            started: string;
            took: string;
          }[] = [];
          for await (const wf of conn.client.workflow.list({ query })) {
            const end = wf.closeTime ?? new Date();
            rows.push({
              workflowId: wf.workflowId,
              type: wf.type,
              execution: wf.status.name,
              state: String(wf.typedSearchAttributes.get(RunbookStatusKey) ?? ''),
              target: String(wf.typedSearchAttributes.get(RunbookTargetKey) ?? ''),
              started: wf.startTime.toISOString(),
              took: formatDuration(end.getTime() - wf.startTime.getTime()),
            });
            if (rows.length >= limit) break;
          }
          if (opts.json) {
            console.log(JSON.stringify(rows, null, 2));
            return;
          }
          if (!rows.length) {
            console.log('no runbook runs found');
            return;
          }
          const table = new Table({
            head: ['workflow ID', 'runbook', 'execution', 'state', 'target', 'started (UTC)', 'took'],
          });
          for (const r of rows)
            table.push([
              r.workflowId,
              r.type,
              r.execution,
              r.state,
              r.target,
              r.started.replace('T', ' ').slice(0, 19),
              r.took,
            ]);
          console.log(table.toString());
        } finally {
          await conn.close();
        }
      },
    );
}
