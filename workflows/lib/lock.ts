// One open run per resource. The workflow ID derived from the resource is the lock: a run started with that ID
// holds it already; a run started under another ID (e.g. from the Temporal UI with a random ID) takes it by
// starting a `resourceLock` child with that ID, which lives until the parent closes. Temporal refuses a second
// open execution with one ID, so a second run on the same resource fails at once, naming the holder.
import { condition, ParentClosePolicy, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { statusQuery } from '../../api/definitions';
import type { RunbookStatus } from '../../api/status';
import { aws } from './proxies';
import { fail } from './errors';
import { initialStatus } from './tracker';

export async function acquireResource(lockId: string, resource: string): Promise<void> {
  const info = workflowInfo();
  if (info.workflowId === lockId) return;
  try {
    await startChild(resourceLock, {
      workflowId: lockId,
      args: [{ resource, holderWorkflowId: info.workflowId, holderRunbook: info.workflowType }],
      parentClosePolicy: ParentClosePolicy.TERMINATE,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const holder = await aws.describeOpenRun({ workflowId: lockId });
    throw fail(
      'ResourceBusy',
      `another run is already open on ${resource}: ${holder ?? lockId}; wait for it to finish or stop it first`,
    );
  }
}

export interface ResourceLockArgs {
  resource: string;
  holderWorkflowId: string;
  holderRunbook: string;
}

/** Holds a resource's workflow ID for a runbook started under another ID. Ends when its parent closes. */
export async function resourceLock(args: ResourceLockArgs): Promise<void> {
  const status: RunbookStatus = {
    ...initialStatus('resourceLock', args.resource, 'running'),
    currentStep: `held by ${args.holderRunbook} run ${args.holderWorkflowId}`,
  };
  setHandler(statusQuery, () => status);
  await condition(() => false);
}
