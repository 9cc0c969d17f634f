// Reading Temporal histories in tests, in one place: committed history files (historyFromJSON, for replay) and the
// events of a run's history (fetchHistory gives its payloads encoded), decoded with the default payload converter —
// what each activity was scheduled with, how often it started, what it returned, which workers ran the run.
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** A history JSON file (`temporal workflow show --output json`, test/histories/*.json) as a history message. */
export { historyFromJSON } from '@temporalio/common/lib/proto-utils';

/** The first payload of a history event's payloads (an activity's input, its result), decoded. */
export function decodePayload(payloads: { payloads?: Payload[] | null } | null | undefined): unknown {
  return defaultPayloadConverter.fromPayload(payloads!.payloads![0]!);
}

/** A run's history events, oldest first. */
async function eventsOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** The activities scheduled among `events` (of type `activity` only, if given), in order: type and decoded input. */
function scheduled(events: HistoryEvent[], activity?: string): { name: string; input: unknown }[] {
  return events
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a): a is NonNullable<typeof a> => !!a && (activity === undefined || a.activityType?.name === activity))
    .map((a) => ({ name: a.activityType?.name ?? '', input: decodePayload(a.input) }));
}

/** Every activity a run scheduled, in order: its type and decoded input. */
export async function activitySequence(handle: WorkflowHandle): Promise<{ name: string; input: unknown }[]> {
  return scheduled(await eventsOf(handle));
}

/** The types of every activity a run scheduled, in order (inputs not decoded). */
export async function activityTypes(handle: WorkflowHandle): Promise<string[]> {
  return (await eventsOf(handle))
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((n): n is string => !!n);
}

/** The decoded inputs of every activity of type `activity` a run scheduled, in order. */
export async function activityInputs(handle: WorkflowHandle, activity: string): Promise<unknown[]> {
  return scheduled(await eventsOf(handle), activity).map((c) => c.input);
}

/** The decoded inputs of every activity of type `activity` a run scheduled once asked to cancel (throws if never). */
export async function activityInputsAfterCancel(handle: WorkflowHandle, activity: string): Promise<unknown[]> {
  const events = await eventsOf(handle);
  const cancelAt = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
  if (cancelAt <= 0)
    throw new Error(`${handle.workflowId} was never asked to cancel (no cancel request in its history)`);
  return scheduled(events.slice(cancelAt), activity).map((c) => c.input);
}

/** The event IDs of the activities of type `activity` scheduled among `events` (of every activity when omitted). */
function scheduledIds(events: HistoryEvent[], activity?: string): Set<string> {
  return new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .filter((e) => activity === undefined || e.activityTaskScheduledEventAttributes!.activityType?.name === activity)
      .map((e) => String(e.eventId)),
  );
}

/** The attempt of every start of an activity of type `activity` among `events` (of every activity when omitted). */
function startAttempts(events: HistoryEvent[], activity?: string): number[] {
  const ids = scheduledIds(events, activity);
  return events
    .map((e) => e.activityTaskStartedEventAttributes)
    .filter((s): s is NonNullable<typeof s> => !!s && ids.has(String(s.scheduledEventId)))
    .map((s) => s.attempt ?? 1);
}

/** The attempt (1 = first) of every start of an activity of type `activity` in a run (of every activity when omitted). */
export async function activityAttempts(handle: WorkflowHandle, activity?: string): Promise<number[]> {
  return startAttempts(await eventsOf(handle), activity);
}

/** Start attempts and decoded results of every activity of type `activity` in a run's history. */
export async function activityRuns(
  handle: WorkflowHandle,
  activity: string,
): Promise<{ attempts: number[]; results: unknown[] }> {
  const events = await eventsOf(handle);
  const ids = scheduledIds(events, activity);
  const results = events
    .map((e) => e.activityTaskCompletedEventAttributes)
    .filter((c): c is NonNullable<typeof c> => !!c && ids.has(String(c.scheduledEventId)))
    .map((c) => decodePayload(c.result));
  return { attempts: startAttempts(events, activity), results };
}

/** The identities of the workers that ran a run's workflow tasks. */
export async function workerIdentities(handle: WorkflowHandle): Promise<Set<string>> {
  return new Set(
    (await eventsOf(handle)).map((e) => e.workflowTaskStartedEventAttributes?.identity).filter((i): i is string => !!i),
  );
}

/** The workflow IDs of the child workflows a run started (asked to start), in order. */
export async function childWorkflowsStarted(handle: WorkflowHandle): Promise<string[]> {
  return (await eventsOf(handle))
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
    .filter((c): c is NonNullable<typeof c> => !!c)
    .map((c) => c.workflowId ?? '');
}

/** A run's whole history as JSON text, every payload's data decoded to UTF-8 (fetchHistory gives it base64). */
export async function historyText(handle: WorkflowHandle): Promise<string> {
  const history = await handle.fetchHistory();
  return JSON.stringify(history, (key, value: unknown) =>
    key === 'data' && typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : value,
  );
}
