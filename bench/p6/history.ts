// Where a run's time goes, read from its Temporal history: how long its workflow tasks and activity tasks waited in
// the task queue for the worker (scheduled → started), how long the worker took with them (started → completed),
// and how long its lock child took to start.
import type { temporal } from '@temporalio/proto';
import { eventMs } from '../lib/history';

type Event = temporal.api.history.v1.IHistoryEvent;

export interface RunBreakdown {
  /** First event → last event. */
  totalMs: number;
  workflowTasks: number;
  /** Σ workflow task scheduled → started: waiting for a workflow poller / slot. */
  wftQueueMs: number;
  /** Σ workflow task started → completed: the worker running the workflow code (and its round trip). */
  wftRunMs: number;
  /** The first workflow task started → completed: creating the workflow in the sandbox (its modules evaluated). */
  firstWftRunMs: number;
  activities: number;
  /** Σ activity scheduled → started: waiting for an activity poller / slot. */
  activityQueueMs: number;
  /** Σ activity started → completed: the activity itself (AWS calls to the emulator, poll delays). */
  activityRunMs: number;
  /** Σ child workflow initiated → started (the resource lock). */
  childStartMs: number;
}

const ms = eventMs;

export function breakdown(events: Event[]): RunBreakdown {
  const byId = new Map<number, Event>();
  for (const e of events) byId.set(Number(e.eventId), e);
  const out: RunBreakdown = {
    totalMs: ms(events.at(-1)) - ms(events[0]),
    workflowTasks: 0,
    wftQueueMs: 0,
    wftRunMs: 0,
    firstWftRunMs: 0,
    activities: 0,
    activityQueueMs: 0,
    activityRunMs: 0,
    childStartMs: 0,
  };
  for (const e of events) {
    const wftStarted = e.workflowTaskStartedEventAttributes;
    if (wftStarted) out.wftQueueMs += ms(e) - ms(byId.get(Number(wftStarted.scheduledEventId)));
    const wftDone = e.workflowTaskCompletedEventAttributes;
    if (wftDone) {
      out.workflowTasks++;
      const took = ms(e) - ms(byId.get(Number(wftDone.startedEventId)));
      out.wftRunMs += took;
      if (out.workflowTasks === 1) out.firstWftRunMs = took;
    }
    const actStarted = e.activityTaskStartedEventAttributes;
    if (actStarted) out.activityQueueMs += ms(e) - ms(byId.get(Number(actStarted.scheduledEventId)));
    const actDone =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (actDone) {
      out.activities++;
      out.activityRunMs += ms(e) - ms(byId.get(Number(actDone.startedEventId)));
    }
    const child = e.childWorkflowExecutionStartedEventAttributes;
    if (child) out.childStartMs += ms(e) - ms(byId.get(Number(child.initiatedEventId)));
  }
  return out;
}
