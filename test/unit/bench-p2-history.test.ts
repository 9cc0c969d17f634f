// P2's reading of a run's history: from the server's receipt of the approval to the next activity's start, and the
// parts in between (pure: no stack, no timing).
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { measureHistory } from '../../bench/p2-approval';

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
const history = (events: object[]) => events as temporal.api.history.v1.IHistoryEvent[];
const activity = (name: string) => ({ activityType: { name } });
const T = temporal.api.enums.v1.EventType;

describe('P2 history measurement', () => {
  it('signal: from WorkflowExecutionSignaled to the start of the named activity scheduled after it', () => {
    const events = history([
      { eventId: 1, eventTime: at(1_000) },
      {
        eventId: 2,
        eventTime: at(2_000),
        eventType: T.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        workflowExecutionSignaledEventAttributes: { signalName: 'approve' },
      },
      { eventId: 3, eventTime: at(2_000), eventType: T.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED },
      {
        eventId: 4,
        eventTime: at(2_010),
        eventType: T.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        workflowTaskStartedEventAttributes: { scheduledEventId: 3 },
      },
      {
        eventId: 5,
        eventTime: at(2_040),
        eventType: T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        workflowTaskCompletedEventAttributes: { scheduledEventId: 3, startedEventId: 4 },
      },
      {
        eventId: 6,
        eventTime: at(2_042),
        eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        activityTaskScheduledEventAttributes: activity('notify'),
      },
      {
        eventId: 7,
        eventTime: at(2_042),
        eventType: T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        activityTaskScheduledEventAttributes: activity('updateService'),
      },
      {
        eventId: 8,
        eventTime: at(2_045),
        eventType: T.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        activityTaskStartedEventAttributes: { scheduledEventId: 6 },
      },
      {
        eventId: 9,
        eventTime: at(2_060),
        eventType: T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        activityTaskCompletedEventAttributes: { scheduledEventId: 6 },
      },
      // Written when the activity ended, with the time it started.
      {
        eventId: 10,
        eventTime: at(2_050),
        eventType: T.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        activityTaskStartedEventAttributes: { scheduledEventId: 7 },
      },
    ]);
    const m = measureHistory(events, 'signal', 'updateService');
    expect(m.latencyMs).toBe(50);
    expect(m.workflowTasks).toBe(1);
    expect(m.taskWaitMs).toBe(10);
    expect(m.workerMs).toBe(30);
    expect(m.activityDispatchMs).toBe(8);
    // In time order, the started event of the next activity last; the notification's completion (later) left out.
    expect(m.between.map((b) => [b.event.split(' ')[0], b.atMs])).toEqual([
      ['WorkflowExecutionSignaled', 0],
      ['WorkflowTaskScheduled', 0],
      ['WorkflowTaskStarted', 10],
      ['WorkflowTaskCompleted', 40],
      ['ActivityTaskScheduled', 42],
      ['ActivityTaskScheduled', 42],
      ['ActivityTaskStarted', 45],
      ['ActivityTaskStarted', 50],
    ]);
    expect(m.between.at(-1)?.event).toBe('ActivityTaskStarted (updateService)');
  });

  it("update: from the workflow task the update's arrival scheduled (UpdateAccepted's sequencing event)", () => {
    const events = history([
      { eventId: 1, eventTime: at(1_000) },
      { eventId: 2, eventTime: at(3_000) }, // workflow task scheduled when the update arrived
      { eventId: 3, eventTime: at(3_004), workflowTaskStartedEventAttributes: { scheduledEventId: 2 } },
      {
        eventId: 4,
        eventTime: at(3_020),
        workflowTaskCompletedEventAttributes: { scheduledEventId: 2, startedEventId: 3 },
      },
      {
        eventId: 5,
        eventTime: at(3_020),
        workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequestSequencingEventId: 2 },
      },
      { eventId: 6, eventTime: at(3_021), activityTaskScheduledEventAttributes: activity('p2Next') },
      { eventId: 7, eventTime: at(3_025), activityTaskStartedEventAttributes: { scheduledEventId: 6 } },
    ]);
    const m = measureHistory(events, 'update', 'p2Next');
    expect(m.latencyMs).toBe(25);
    expect(m.workerMs).toBe(16);
    expect(m.taskWaitMs).toBe(4);
    expect(m.activityDispatchMs).toBe(4);
  });

  it('says what is missing', () => {
    const events = history([{ eventId: 1, eventTime: at(0) }]);
    expect(() => measureHistory(events, 'signal', 'x')).toThrow(/WorkflowExecutionSignaled/);
    expect(() => measureHistory(events, 'update', 'x')).toThrow(/UpdateAccepted/);
  });
});
