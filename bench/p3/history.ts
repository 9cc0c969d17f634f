// Reading a runbook's history for P3: when its wait activity completed and when the step after it started (server
// time). The next step is the first activity scheduled after the wait completed — its ActivityTaskStarted — or, if
// the workflow ran a local activity first, the workflow task that ran it (a local activity shows only as a marker).
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface NextStep {
  /** The wait activity's ActivityTaskCompleted (ms since epoch, server time). */
  waitCompletedAt: number;
  /** When the next step started (ms since epoch, server time). */
  nextStartedAt: number;
  /** The next step's activity type ("a local activity" for a marker). */
  next: string;
}

const id = (v: unknown) => Number(v);

export function nextStepAfter(events: HistoryEvent[], waitActivity: string): NextStep {
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === waitActivity);
  if (!scheduled) throw new Error(`no ${waitActivity} activity in the history`);
  const completedIndex = events.findIndex(
    (e) => id(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id(scheduled.eventId),
  );
  if (completedIndex < 0) throw new Error(`${waitActivity} did not complete`);
  const waitCompletedAt = tsToMs(events[completedIndex]!.eventTime);
  let lastWorkflowTaskStarted: number | undefined;
  for (const e of events.slice(completedIndex + 1)) {
    if (e.workflowTaskStartedEventAttributes) lastWorkflowTaskStarted = tsToMs(e.eventTime);
    if (e.markerRecordedEventAttributes && lastWorkflowTaskStarted !== undefined) {
      return { waitCompletedAt, nextStartedAt: lastWorkflowTaskStarted, next: 'a local activity' };
    }
    const next = e.activityTaskScheduledEventAttributes;
    if (next) {
      const started = events.find((s) => id(s.activityTaskStartedEventAttributes?.scheduledEventId) === id(e.eventId));
      if (!started) throw new Error(`the activity after ${waitActivity} (${next.activityType?.name}) never started`);
      return { waitCompletedAt, nextStartedAt: tsToMs(started.eventTime), next: next.activityType?.name ?? '?' };
    }
  }
  throw new Error(`no step after ${waitActivity} in the history`);
}
