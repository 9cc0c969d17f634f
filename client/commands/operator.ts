// `runbook retry|abandon <workflowId>`: answer a run waiting in `needs-operator` after a failure past its point of no
// return — try the failed step again, or finish the run as failed leaving AWS as it is.
import type { Command } from 'commander';
import { abandonSignal, retryStepSignal, statusQuery } from '../../api/definitions';
import type { OperatorRequest } from '../../api/status';
import { awsOptionHelp, proofField } from '../aws-proof';
import { withConnection } from '../connection';
import { UserError } from '../errors';
import { requireOpen, resolveRun, type ResolvedRun } from '../resolve';

/** Run `send` against a run that is waiting for an operator; refuse any other. */
async function answerOperator(
  workflowId: string,
  send: (run: ResolvedRun, request: OperatorRequest) => Promise<void>,
): Promise<void> {
  await withConnection(async (conn) => {
    const run = await resolveRun(conn.client, workflowId);
    const status = await run.handle.query(statusQuery);
    if (status.state !== 'needs-operator' || !status.operator) {
      throw new UserError(`refused: ${run.workflowId} is ${status.state}, not waiting for an operator`);
    }
    await requireOpen(run, 'answer');
    await send(run, status.operator);
  });
}

export function registerOperator(program: Command): void {
  program
    .command('retry')
    .description('retry the failed step of a run that needs an operator')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .option('--aws', awsOptionHelp('this retry of this run'))
    .option('--json', 'print what was sent as JSON')
    .action((workflowId: string, opts: { by: string; aws?: boolean; json?: boolean }) =>
      answerOperator(workflowId, async (run, op) => {
        const proof = await proofField(opts.aws, {
          workflowId: run.workflowId,
          runId: run.description.runId,
          decision: retryStepSignal.name,
          text: '',
        });
        await run.handle.signal(retryStepSignal, { by: opts.by, ...proof });
        console.log(
          opts.json
            ? JSON.stringify({
                workflowId,
                signal: 'retryStep',
                by: opts.by,
                step: op.failedStep,
                ...(proof.proof ? { proof: 'aws' } : {}),
                sent: true,
              })
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
    .option('--aws', awsOptionHelp('abandoning this run and the reason'))
    .option('--json', 'print what was sent as JSON')
    .action((workflowId: string, opts: { by: string; reason: string; aws?: boolean; json?: boolean }) =>
      answerOperator(workflowId, async (run, op) => {
        // Sent as the run reads it (the payload schema trims it), so the proof's digest is of the same text.
        const reason = opts.reason.trim();
        const proof = await proofField(opts.aws, {
          workflowId: run.workflowId,
          runId: run.description.runId,
          decision: abandonSignal.name,
          text: reason,
        });
        await run.handle.signal(abandonSignal, { by: opts.by, reason, ...proof });
        console.log(
          opts.json
            ? JSON.stringify({
                workflowId,
                signal: 'abandon',
                by: opts.by,
                reason,
                done: op.done,
                ...(proof.proof ? { proof: 'aws' } : {}),
                sent: true,
              })
            : `abandoning: the run fails and leaves AWS as it is (done: ${op.done.join('; ') || 'nothing'})`,
        );
      }),
    );
}
