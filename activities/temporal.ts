// Reading Temporal itself: naming the run that holds a resource (used by the lock's activity and by the CLI).
import type { Client } from '@temporalio/client';

/** The open run holding `workflowId`, in words; for a lock, the runbook run that holds it. */
export async function describeHolder(client: Client, workflowId: string): Promise<string> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.type === 'resourceLock' && d.parentExecution) {
      return `workflow ${d.parentExecution.workflowId} (holding the lock ${workflowId})`;
    }
    return `${d.type} workflow ${workflowId}, started ${d.startTime.toISOString()}`;
  } catch {
    return `workflow ${workflowId}`;
  }
}

export function createTemporalActivities(client: Client | undefined) {
  return {
    async describeOpenRun(input: { workflowId: string }): Promise<string | undefined> {
      return client ? describeHolder(client, input.workflowId) : undefined;
    },
  };
}
