// P6's history breakdown: queue waits and processing times read from a run's events (pure: no stack, no timing).
import { describe, expect, it } from 'vitest';
import { breakdown } from '../../bench/p6/history';

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe('P6 history breakdown', () => {
  it('sums workflow task and activity waits and runs, and the lock child start', () => {
    const events = [
      { eventId: 1, eventTime: at(1_000) },
      { eventId: 2, eventTime: at(1_000) }, // workflow task scheduled
      { eventId: 3, eventTime: at(1_050), workflowTaskStartedEventAttributes: { scheduledEventId: 2 } },
      {
        eventId: 4,
        eventTime: at(1_250),
        workflowTaskCompletedEventAttributes: { scheduledEventId: 2, startedEventId: 3 },
      },
      { eventId: 5, eventTime: at(1_250) }, // activity scheduled
      { eventId: 6, eventTime: at(1_300), activityTaskStartedEventAttributes: { scheduledEventId: 5 } },
      {
        eventId: 7,
        eventTime: at(1_400),
        activityTaskCompletedEventAttributes: { scheduledEventId: 5, startedEventId: 6 },
      },
      { eventId: 8, eventTime: at(1_400) }, // child initiated
      { eventId: 9, eventTime: at(1_420), childWorkflowExecutionStartedEventAttributes: { initiatedEventId: 8 } },
      { eventId: 10, eventTime: at(1_420) }, // workflow task scheduled
      { eventId: 11, eventTime: at(1_500), workflowTaskStartedEventAttributes: { scheduledEventId: 10 } },
      {
        eventId: 12,
        eventTime: at(1_530),
        workflowTaskCompletedEventAttributes: { scheduledEventId: 10, startedEventId: 11 },
      },
    ];
    // (eventId and seconds are Longs in the protobuf types; breakdown reads them through Number())
    expect(breakdown(events as unknown as Parameters<typeof breakdown>[0])).toEqual({
      totalMs: 530,
      workflowTasks: 2,
      wftQueueMs: 50 + 80,
      wftRunMs: 200 + 30,
      firstWftRunMs: 200,
      activities: 1,
      activityQueueMs: 50,
      activityRunMs: 100,
      childStartMs: 20,
    });
  });
});
