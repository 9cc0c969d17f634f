// `runbook abort|pause|resume|promote|rollback <workflowId>`: steer a traffic-shifting run (blueGreenDeploy).
import type { WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import {
  abortDeploySignal,
  pauseSignal,
  promoteSignal,
  resumeSignal,
  rollbackSignal,
  statusQuery,
} from '../../api/definitions';
import { connect } from '../connection';
import { UserError } from '../errors';

async function send(
  workflowId: string,
  name: string,
  payload: Record<string, string>,
  signal: (h: WorkflowHandle) => Promise<void>,
  said: string,
  json?: boolean,
) {
  const conn = await connect();
  try {
    const handle = conn.client.workflow.getHandle(workflowId);
    const status = await handle.query(statusQuery);
    if (status.runbook !== 'blueGreenDeploy')
      throw new UserError(`refused: ${workflowId} is a ${status.runbook} run, not blueGreenDeploy`);
    if (status.state === 'succeeded' || status.state === 'failed')
      throw new UserError(`refused: ${workflowId} has already ${status.state}`);
    await signal(handle);
    console.log(json ? JSON.stringify({ workflowId, signal: name, ...payload, sent: true }) : said);
  } finally {
    await conn.close();
  }
}

export function registerDeploy(program: Command): void {
  program
    .command('abort')
    .description('roll a deployment back now: traffic to blue first, then green scaled back')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print what was sent as JSON')
    .action((id: string, o: { by: string; reason: string; json?: boolean }) =>
      send(
        id,
        'abort',
        { by: o.by, reason: o.reason },
        (h) => h.signal(abortDeploySignal, { by: o.by, reason: o.reason }),
        'abort sent: rolling back',
        o.json,
      ),
    );
  program
    .command('rollback')
    .description('during the blue standby: all traffic back to blue at once (earlier it acts like abort)')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .requiredOption('--reason <text>', 'why')
    .option('--json', 'print what was sent as JSON')
    .action((id: string, o: { by: string; reason: string; json?: boolean }) =>
      send(
        id,
        'rollback',
        { by: o.by, reason: o.reason },
        (h) => h.signal(rollbackSignal, { by: o.by, reason: o.reason }),
        'rollback sent: traffic goes back to blue',
        o.json,
      ),
    );
  program
    .command('pause')
    .description('hold the progression (gates are still checked; a pause longer than maxPause rolls back)')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .option('--json', 'print what was sent as JSON')
    .action((id: string, o: { by: string; json?: boolean }) =>
      send(id, 'pause', { by: o.by }, (h) => h.signal(pauseSignal, { by: o.by }), 'paused', o.json),
    );
  program
    .command('resume')
    .description('let a paused deployment go on')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .option('--json', 'print what was sent as JSON')
    .action((id: string, o: { by: string; json?: boolean }) =>
      send(id, 'resume', { by: o.by }, (h) => h.signal(resumeSignal, { by: o.by }), 'resumed', o.json),
    );
  program
    .command('promote')
    .description('skip the rest of the current bake (gates are still checked once)')
    .argument('<workflowId>')
    .requiredOption('--by <name>', 'who decides')
    .option('--json', 'print what was sent as JSON')
    .action((id: string, o: { by: string; json?: boolean }) =>
      send(
        id,
        'promote',
        { by: o.by },
        (h) => h.signal(promoteSignal, { by: o.by }),
        'promote sent: the current bake ends after one more check',
        o.json,
      ),
    );
}
