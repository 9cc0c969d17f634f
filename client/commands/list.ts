// `runbook list`: running and recent runbook runs, through a visibility query on the runbooks' search attributes.
import type { Command } from 'commander';
import { formatDuration } from '../../api/duration';
import { RUNBOOKS } from '../../api/runbooks';
import { RunbookStatusKey, RunbookTargetKey } from '../../api/search-attributes';
import type { RunbookState } from '../../api/status';
import { withConnection } from '../connection';
import { UserError } from '../errors';
import { outputStyle, renderTable } from '../format';

/** Every RunbookStatus value (the compiler checks the list is complete). */
const STATES = [
  'validating',
  'running',
  'awaiting-approval',
  'waiting',
  'compensating',
  'needs-operator',
  'succeeded',
  'failed',
] as const satisfies readonly RunbookState[];
const allStatesListed: Exclude<RunbookState, (typeof STATES)[number]> extends never ? true : never = true;
void allStatesListed;
/** States a run is in only while it runs: a closed run still showing one was ended from outside (terminated…). */
const OPEN_STATES: readonly string[] = STATES.filter((s) => s !== 'succeeded' && s !== 'failed');

function checkFilters(opts: { runbook?: string; status?: string }): void {
  const types = RUNBOOKS.map((r) => r.type);
  if (opts.runbook && !types.includes(opts.runbook)) {
    const near = types.find((t) => t.toLowerCase() === opts.runbook!.toLowerCase());
    throw new UserError(
      `unknown --runbook ${opts.runbook}${near ? ` (did you mean ${near}?)` : ''}; one of: ${types.join(', ')}`,
      2,
    );
  }
  if (opts.status && !(STATES as readonly string[]).includes(opts.status)) {
    throw new UserError(`unknown --status ${opts.status}; one of: ${STATES.join(', ')}`, 2);
  }
}

export function registerList(program: Command): void {
  program
    .command('list')
    .description('running and recent runbook runs')
    .option('--running', 'only runs that are still open')
    .option('--runbook <type>', 'only this runbook')
    .option(
      '--status <state>',
      `only runs in this state (${STATES.join(', ')}); a state a run is in only while running matches only running runs`,
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
        checkFilters(opts);
        const types = opts.runbook ? [opts.runbook] : RUNBOOKS.map((r) => r.type);
        let query = `WorkflowType IN (${types.map((t) => `'${t.replace(/'/g, '')}'`).join(', ')})`;
        // A run terminated (or timed out) while awaiting approval keeps that search attribute forever: only a
        // running execution can really be in a running state.
        if (opts.running || (opts.status && OPEN_STATES.includes(opts.status))) {
          query += ` AND ExecutionStatus = 'Running'`;
        }
        const quote = (v: string) => `'${v.replace(/'/g, "\\'")}'`;
        if (opts.status) query += ` AND RunbookStatus = ${quote(opts.status)}`;
        if (opts.target) query += ` AND RunbookTarget = ${quote(opts.target)}`;
        const limit = Math.max(1, Number(opts.limit) || 20);
        await withConnection(async (conn) => {
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
            const recorded = String(wf.typedSearchAttributes.get(RunbookStatusKey) ?? '');
            // Closed from outside while in a running state: say how it ended, not the state it was left in.
            const state =
              wf.status.name !== 'RUNNING' && OPEN_STATES.includes(recorded)
                ? `${wf.status.name.toLowerCase()} (was ${recorded})`
                : recorded;
            rows.push({
              workflowId: wf.workflowId,
              type: wf.type,
              execution: wf.status.name,
              state,
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
          console.log(
            renderTable(
              outputStyle(),
              ['workflow ID', 'runbook', 'execution', 'state', 'target', 'started (UTC)', 'took'],
              rows.map((r) => [
                r.workflowId,
                r.type,
                r.execution,
                r.state,
                r.target,
                r.started.replace('T', ' ').slice(0, 19),
                r.took,
              ]),
            ),
          );
        });
      },
    );
}
