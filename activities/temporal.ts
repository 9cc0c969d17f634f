// Reading Temporal itself: naming the run that holds a resource (used by the lock's activity and by the CLI).
import type { Client } from '@temporalio/client';
import { PreconditionFailed, ResourceNotFound } from './errors';

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
    /** The result of a run that completed successfully (e.g. the failover a failback reverses). */
    async getCompletedRunResult(input: { workflowId: string; expectType: string; runId?: string }): Promise<unknown> {
      if (!client) throw new PreconditionFailed('this worker has no Temporal client to read other runs with');
      let runId = input.runId;
      if (!runId) {
        // The newest run under the ID may be a later refused attempt or a dry run: take the newest completed run
        // that did something.
        const query = `WorkflowId = '${input.workflowId.replace(/'/g, "\\'")}' AND ExecutionStatus = 'Completed'`;
        const runs: { runId: string; startTime: Date }[] = [];
        for await (const wf of client.workflow.list({ query, pageSize: 20 })) runs.push(wf);
        for (const wf of runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime())) {
          const result = (await client.workflow.getHandle(input.workflowId, wf.runId).result()) as { outcome?: string };
          if (result?.outcome !== 'dry-run') {
            runId = wf.runId;
            break;
          }
        }
      }
      const handle = client.workflow.getHandle(input.workflowId, runId);
      let description;
      try {
        description = await handle.describe();
      } catch {
        throw new ResourceNotFound(
          `no run with workflow ID ${input.workflowId}${input.runId ? ` and run ID ${input.runId}` : ''}`,
        );
      }
      if (description.type !== input.expectType) {
        throw new PreconditionFailed(`${input.workflowId} is a ${description.type} run, not ${input.expectType}`);
      }
      if (description.status.name !== 'COMPLETED') {
        throw new PreconditionFailed(
          input.runId
            ? `run ${input.runId} of ${input.workflowId} is ${description.status.name}; only a completed run can be reversed`
            : `${input.workflowId} has no completed run (the newest is ${description.status.name}); only a completed run can be reversed`,
        );
      }
      return handle.result();
    },

    async describeOpenRun(input: { workflowId: string }): Promise<string | undefined> {
      return client ? describeHolder(client, input.workflowId) : undefined;
    },
  };
}
