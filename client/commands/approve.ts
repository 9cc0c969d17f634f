// `runbook approve|reject <workflowId>`: sent as an Update so the answer comes back at once
// ("approved (1 of 2)" or "refused: …"), and recorded in the run's status either way.
import type { Command } from 'commander';
import { approveUpdate, rejectUpdate } from '../../api/definitions';
import { awsOptionHelp, proofField } from '../aws-proof';
import { withConnection } from '../connection';
import { endedMeanwhile, requireOpen, resolveRun, viaLockNote } from '../resolve';

export function registerApproval(program: Command): void {
  program
    .command('approve')
    .description('approve the pending approval gate of a run')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who approves')
    .option('--comment <text>', 'comment recorded with the approval')
    .option('--aws', awsOptionHelp('this approval of this run and its comment'))
    .option('--json', 'print the answer as JSON')
    .action(async (workflowId: string, opts: { by: string; comment?: string; aws?: boolean; json?: boolean }) => {
      await withConnection(async (conn) => {
        const run = await resolveRun(conn.client, workflowId);
        await requireOpen(run, 'approve');
        const comment = opts.comment || undefined;
        const proof = await proofField(opts.aws, {
          workflowId: run.workflowId,
          runId: run.description.runId,
          decision: 'approve',
          text: comment ?? '',
        });
        const ack = await run.handle
          .executeUpdate(approveUpdate, {
            args: [{ by: opts.by, ...(comment ? { comment } : {}), ...proof }],
          })
          .catch((err: unknown) => endedMeanwhile(err, run, 'approve'));
        console.log(
          opts.json ? JSON.stringify({ ...ack, workflowId: run.workflowId }) : `${ack.message}${viaLockNote(run)}`,
        );
      });
    });

  program
    .command('reject')
    .description('reject a run at its approval gate: it undoes what it changed and fails')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who rejects')
    .requiredOption('--reason <text>', 'why')
    .option('--aws', awsOptionHelp('this rejection of this run and its reason'))
    .option('--json', 'print the answer as JSON')
    .action(async (workflowId: string, opts: { by: string; reason: string; aws?: boolean; json?: boolean }) => {
      await withConnection(async (conn) => {
        const run = await resolveRun(conn.client, workflowId);
        await requireOpen(run, 'reject');
        // Sent as the run reads it (the payload schema trims it), so the proof's digest is of the same text.
        const reason = opts.reason.trim();
        const proof = await proofField(opts.aws, {
          workflowId: run.workflowId,
          runId: run.description.runId,
          decision: 'reject',
          text: reason,
        });
        const ack = await run.handle
          .executeUpdate(rejectUpdate, { args: [{ by: opts.by, reason, ...proof }] })
          .catch((err: unknown) => endedMeanwhile(err, run, 'reject'));
        console.log(
          opts.json ? JSON.stringify({ ...ack, workflowId: run.workflowId }) : `${ack.message}${viaLockNote(run)}`,
        );
      });
    });
}
