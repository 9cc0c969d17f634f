// Reading history event times (server times) for the benchmarks' breakdowns.
import type { temporal } from '@temporalio/proto';

type Timed = Pick<temporal.api.history.v1.IHistoryEvent, 'eventTime'>;

/**
 * An event's time in whole milliseconds since the epoch (its seconds are a Long from the server, a number in a
 * hand-made history); NaN for a missing event or time.
 */
export function eventMs(e: Timed | undefined): number {
  const t = e?.eventTime;
  if (!t) return NaN;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}
