// `runbook retry|abandon <workflowId>`: answer a run waiting in `needs-operator` after a failure past its point of no
// return — try the failed step again, or finish the run as failed leaving AWS as it is.
import type { WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { abandonSignal, retryStepSignal, statusQuery } from '../../api/definitions';
import type { OperatorRequest } from '../../api/status';
import { withConnection } from '../connection';
import { UserError } from '../errors';
import { requireOpen, resolveRun } from '../resolve';

/** Run `send` against a run that is waiting for an operator; refuse any other. */
async function answerOperator(
  workflowId: string,
  send: (handle: WorkflowHandle, request: OperatorRequest) => Promise<void>,
): Promise<void> {
  await withConnection(async (conn) => {
    const run = await resolveRun(conn.client, workflowId);
    const status = await run.handle.query(statusQuery);
    if (status.state !== 'needs-operator' || !status.operator) {
      throw new UserError(`refused: ${run.workflowId} is ${status.state}, not waiting for an operator`);
    }
    await requireOpen(run, 'answer');
    await send(run.handle, status.operator);
  });
}

export function registerOperator(program: Command): void {
  program
    .command('retry')
    .description('retry the failed step of a run that needs an operator')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .option('--json', 'print what was sent as JSON')
    .action((workflowId: string, opts: { by: string; json?: boolean }) =>
      answerOperator(workflowId, async (handle, op) => {
        await handle.signal(retryStepSignal, { by: opts.by });
        console.log(
          opts.json
            ? JSON.stringify({ workflowId, signal: 'retryStep', by: opts.by, step: op.failedStep, sent: true })
            : `retrying "${op.failedStep}"`,
        );
      }),
    );

  program
    .command('abandon')
    .description('finish a run that needs an operator as failed, leaving AWS as it is')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print what was sent as JSON')
    .action((workflowId: string, opts: { by: string; reason: string; json?: boolean }) =>
      answerOperator(workflowId, async (handle, op) => {
        await handle.signal(abandonSignal, { by: opts.by, reason: opts.reason });
        console.log(
          opts.json
            ? JSON.stringify({
                workflowId,
                signal: 'abandon',
                by: opts.by,
                reason: opts.reason,
                done: op.done,
                sent: true,
              })
            : `abandoning: the run fails and leaves AWS as it is (done: ${op.done.join('; ') || 'nothing'})`,
        );
      }),
    );
}
