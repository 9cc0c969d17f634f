// Reading Temporal histories in tests, in one place: committed history files (historyFromJSON, for replay) and the
// payloads of a run's history (fetchHistory gives them encoded), decoded with the default payload converter — what
// each activity was scheduled with, how often it started, what it returned.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';

/** A history JSON file (`temporal workflow show --output json`, test/histories/*.json) as a history message. */
export { historyFromJSON } from '@temporalio/common/lib/proto-utils';

/** The first payload of a history event's payloads (an activity's input, its result), decoded. */
export function decodePayload(payloads: { payloads?: Payload[] | null } | null | undefined): unknown {
  return defaultPayloadConverter.fromPayload(payloads!.payloads![0]!);
}

/** Every activity a run scheduled, in order: its type and decoded input. */
export async function activitySequence(handle: WorkflowHandle): Promise<{ name: string; input: unknown }[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a): a is NonNullable<typeof a> => !!a)
    .map((a) => ({
      name: a.activityType?.name ?? '',
      input: decodePayload(a.input),
    }));
}

/** The decoded inputs of every activity of type `activity` a run scheduled, in order. */
export async function activityInputs(handle: WorkflowHandle, activity: string): Promise<unknown[]> {
  return (await activitySequence(handle)).filter((c) => c.name === activity).map((c) => c.input);
}

/** Start attempts and decoded results of every activity of type `activity` in a run's history. */
export async function activityRuns(
  client: Client,
  workflowId: string,
  activity: string,
): Promise<{ attempts: number[]; results: unknown[] }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity)
      .map((e) => String(e.eventId)),
  );
  const attempts = events
    .filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0);
  const results = events
    .filter((e) => scheduled.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId)))
    .map((e) => decodePayload(e.activityTaskCompletedEventAttributes!.result));
  return { attempts, results };
}
