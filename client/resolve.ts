// The run a workflow ID a person typed stands for. A runbook started under a random ID (from the Temporal UI or CLI)
// holds its resource's derived ID through a `resourceLock` child: the derived ID then names the lock, and every
// command acts on the run holding it instead — approving a lock would fail with "no registered handler".
import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { statusQuery } from '../api/definitions';
import { UserError } from './errors';

export interface ResolvedRun {
  workflowId: string;
  handle: WorkflowHandle;
  description: WorkflowExecutionDescription;
  /** The lock ID that was given, when it led here. */
  viaLock?: string;
}

export async function resolveRun(client: Client, workflowId: string): Promise<ResolvedRun> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const parent = description.parentExecution;
  if (description.type === 'resourceLock' && parent?.workflowId) {
    const holderId = parent.workflowId;
    const holder = client.workflow.getHandle(holderId, parent.runId ?? undefined);
    return { workflowId: holderId, handle: holder, description: await holder.describe(), viaLock: workflowId };
  }
  return { workflowId, handle, description };
}

/** "(the run holding <lock>)" for messages, or nothing. */
export const viaLockNote = (r: ResolvedRun) => (r.viaLock ? ` (the run holding ${r.viaLock})` : '');

/**
 * Refuses a run that has ended: an approval, a rejection or a steering signal can change nothing there. Names how it
 * ended, and the runbook's own state when the run can still tell it.
 */
export async function requireOpen(r: ResolvedRun, what: string): Promise<void> {
  const execution = r.description.status.name;
  if (execution === 'RUNNING') return;
  let state = '';
  try {
    state = (await r.handle.query(statusQuery)).state;
  } catch {
    /* no worker to answer, or not a runbook */
  }
  throw new UserError(
    `refused: ${r.workflowId}${viaLockNote(r)} has ended (${execution.toLowerCase()}` +
      `${state && state !== execution.toLowerCase() ? `, runbook state ${state}` : ''}); there is nothing to ${what}. ` +
      `See what happened: npm run runbook -- report ${r.workflowId}`,
  );
}

/**
 * For a call that failed as "not found" although the run was there a moment ago: it ended in between (an update on a
 * closed run is answered NOT_FOUND). Says so, as requireOpen does; any other error is rethrown.
 */
export async function endedMeanwhile(err: unknown, r: ResolvedRun, what: string): Promise<never> {
  if (err instanceof WorkflowNotFoundError || isClosing(err)) {
    // A run that is closing still describes as RUNNING for a moment: look again until it has ended.
    for (let attempt = 0; attempt < 10; attempt++) {
      const now = { ...r, description: await r.handle.describe() };
      await requireOpen(now, what);
      if (!isClosing(err)) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  throw err;
}

/** Temporal's answer to a signal or update that arrives while the run's last workflow task completes. */
const isClosing = (err: unknown) =>
  err instanceof Error && /workflow is closing/i.test(`${err.message} ${String(err.cause ?? '')}`);
