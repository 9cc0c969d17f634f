// Where a run's time goes, read from its history (server times): activities (queue wait and execution), local
// activities, child workflows, timers, and the workflow-task round trips between them.
import type { temporal } from '@temporalio/proto';
import { eventMs } from '../lib/history';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ms = eventMs;

export interface Breakdown {
  totalMs: number;
  events: number;
  workflowTasks: number;
  /** Workflow task scheduled → completed, summed. */
  workflowTaskMs: number;
  /** The first workflow task, scheduled → completed (the worker loads the run's modules in it). */
  firstTaskMs: number;
  activities: { name: string; count: number; queueMs: number; runMs: number }[];
  localActivities: number;
  childWorkflows: number;
  childMs: number;
  timers: number;
}

export function breakdown(events: HistoryEvent[]): Breakdown {
  const byId = new Map<string, HistoryEvent>();
  for (const e of events) byId.set(String(e.eventId), e);
  const acts = new Map<string, { name: string; count: number; queueMs: number; runMs: number }>();
  let workflowTasks = 0;
  let workflowTaskMs = 0;
  let firstTaskMs = 0;
  let localActivities = 0;
  let childWorkflows = 0;
  let childMs = 0;
  let timers = 0;
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) {
      workflowTasks++;
      const took = ms(e) - ms(byId.get(String(e.workflowTaskCompletedEventAttributes.scheduledEventId)));
      if (workflowTasks === 1) firstTaskMs = took;
      workflowTaskMs += took;
    }
    if (e.activityTaskCompletedEventAttributes || e.activityTaskFailedEventAttributes) {
      const a = (e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes)!;
      const scheduled = byId.get(String(a.scheduledEventId));
      const started = byId.get(String(a.startedEventId));
      const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
      const entry = acts.get(name) ?? { name, count: 0, queueMs: 0, runMs: 0 };
      entry.count++;
      entry.queueMs += ms(started) - ms(scheduled);
      entry.runMs += ms(e) - ms(started);
      acts.set(name, entry);
    }
    if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') localActivities++;
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) childWorkflows++;
    if (e.childWorkflowExecutionCompletedEventAttributes) {
      const initiated = byId.get(String(e.childWorkflowExecutionCompletedEventAttributes.initiatedEventId));
      childMs += ms(e) - ms(initiated);
    }
    if (e.timerStartedEventAttributes) timers++;
  }
  return {
    totalMs: ms(events.at(-1)) - ms(events[0]),
    events: events.length,
    workflowTasks,
    workflowTaskMs,
    firstTaskMs,
    activities: [...acts.values()],
    localActivities,
    childWorkflows,
    childMs,
    timers,
  };
}
