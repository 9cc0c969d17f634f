// `runbook retry|abandon <workflowId>`: answer a run waiting in `needs-operator` after a failure past its point of no
// return — try the failed step again, or finish the run as failed leaving AWS as it is.
import type { Command } from 'commander';
import { abandonSignal, retryStepSignal, statusQuery } from '../../api/definitions';
import { connect } from '../connection';
import { UserError } from '../errors';

export function registerOperator(program: Command): void {
  program
    .command('retry')
    .description('retry the failed step of a run that needs an operator')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .option('--json', 'print what was sent as JSON')
    .action(async (workflowId: string, opts: { by: string; json?: boolean }) => {
      const conn = await connect();
      try {
        const handle = conn.client.workflow.getHandle(workflowId);
        const status = await handle.query(statusQuery);
        if (status.state !== 'needs-operator' || !status.operator) {
          throw new UserError(`refused: ${workflowId} is ${status.state}, not waiting for an operator`);
        }
        await handle.signal(retryStepSignal, { by: opts.by });
        console.log(
          opts.json
            ? JSON.stringify({
                workflowId,
                signal: 'retryStep',
                by: opts.by,
                step: status.operator.failedStep,
                sent: true,
              })
            : `retrying "${status.operator.failedStep}"`,
        );
      } finally {
        await conn.close();
      }
    });

  program
    .command('abandon')
    .description('finish a run that needs an operator as failed, leaving AWS as it is')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print what was sent as JSON')
    .action(async (workflowId: string, opts: { by: string; reason: string; json?: boolean }) => {
      const conn = await connect();
      try {
        const handle = conn.client.workflow.getHandle(workflowId);
        const status = await handle.query(statusQuery);
        if (status.state !== 'needs-operator' || !status.operator) {
          throw new UserError(`refused: ${workflowId} is ${status.state}, not waiting for an operator`);
        }
        await handle.signal(abandonSignal, { by: opts.by, reason: opts.reason });
        const done = status.operator.done;
        console.log(
          opts.json
            ? JSON.stringify({ workflowId, signal: 'abandon', by: opts.by, reason: opts.reason, done, sent: true })
            : `abandoning: the run fails and leaves AWS as it is (done: ${done.join('; ') || 'nothing'})`,
        );
      } finally {
        await conn.close();
      }
    });
}
