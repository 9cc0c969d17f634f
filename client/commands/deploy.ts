// `runbook abort|pause|resume|promote|rollback <workflowId>`: steer a traffic-shifting run (blueGreenDeploy).
import type { SignalDefinition } from '@temporalio/client';
import type { Command } from 'commander';
import {
  abortDeploySignal,
  pauseSignal,
  promoteSignal,
  resumeSignal,
  rollbackSignal,
  statusQuery,
} from '../../api/definitions';
import type { AwsProof } from '../../api/identity';
import { awsOptionHelp, proofField } from '../aws-proof';
import { withConnection } from '../connection';
import { UserError } from '../errors';
import { endedMeanwhile, requireOpen, resolveRun, viaLockNote } from '../resolve';

interface Steer {
  command: string;
  description: string;
  /** Abort and rollback must say why; the others only who. */
  withReason: boolean;
  signal: SignalDefinition<[{ by: string; reason: string }]> | SignalDefinition<[{ by: string }]>;
  said: string;
}

const STEERS: Steer[] = [
  {
    command: 'abort',
    description: 'roll a deployment back now: traffic to blue first, then green scaled back',
    withReason: true,
    signal: abortDeploySignal,
    said: 'abort sent: rolling back',
  },
  {
    command: 'rollback',
    description: 'during the blue standby: all traffic back to blue at once (earlier it acts like abort)',
    withReason: true,
    signal: rollbackSignal,
    said: 'rollback sent: traffic goes back to blue',
  },
  {
    command: 'pause',
    description: 'hold the progression (gates are still checked; a pause longer than maxPause rolls back)',
    withReason: false,
    signal: pauseSignal,
    said: 'paused',
  },
  {
    command: 'resume',
    description: 'let a paused deployment go on',
    withReason: false,
    signal: resumeSignal,
    said: 'resumed',
  },
  {
    command: 'promote',
    description: 'skip the rest of the current bake (gates are still checked once)',
    withReason: false,
    signal: promoteSignal,
    said: 'promote sent: the current bake ends after one more check',
  },
];

interface SteerOptions {
  by: string;
  reason?: string;
  aws?: boolean;
  json?: boolean;
}

async function send(workflowId: string, steer: Steer, opts: SteerOptions) {
  // A reason is sent as the run reads it (the payload schema trims it): the proof's digest is of the same text.
  const reason = steer.withReason ? (opts.reason ?? '').trim() : undefined;
  await withConnection(async (conn) => {
    const run = await resolveRun(conn.client, workflowId);
    const { handle } = run;
    const status = await handle.query(statusQuery);
    if (status.runbook !== 'blueGreenDeploy')
      throw new UserError(`refused: ${run.workflowId} is a ${status.runbook} run, not blueGreenDeploy`);
    if (status.state === 'succeeded' || status.state === 'failed')
      throw new UserError(`refused: ${run.workflowId} has already ${status.state}`);
    await requireOpen(run, steer.command);
    const shown = { by: opts.by, ...(reason !== undefined ? { reason } : {}) };
    const { proof } = await proofField(opts.aws, {
      workflowId: run.workflowId,
      runId: run.description.runId,
      decision: steer.signal.name,
      text: reason ?? '',
    });
    const payload: { by: string; reason?: string; proof?: AwsProof } = { ...shown, ...(proof ? { proof } : {}) };
    await handle
      .signal(steer.signal as SignalDefinition<[typeof payload]>, payload)
      .catch((err: unknown) => endedMeanwhile(err, run, steer.command));
    console.log(
      opts.json
        ? JSON.stringify({
            workflowId: run.workflowId,
            signal: steer.signal.name,
            ...shown,
            ...(proof ? { proof: 'aws' } : {}),
            sent: true,
          })
        : `${steer.said}${viaLockNote(run)}`,
    );
  });
}

export function registerDeploy(program: Command): void {
  for (const steer of STEERS) {
    const cmd = program
      .command(steer.command)
      .description(steer.description)
      .argument('<workflowId>')
      .requiredOption('--by <name>', 'who decides');
    if (steer.withReason) cmd.requiredOption('--reason <text>', 'why');
    cmd
      .option('--aws', awsOptionHelp(`this ${steer.command} of this run${steer.withReason ? ' and its reason' : ''}`))
      .option('--json', 'print what was sent as JSON')
      .action((id: string, o: SteerOptions) => send(id, steer, o));
  }
}
