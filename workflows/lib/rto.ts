// The recovery time against its target (seed 000: "RTO target 15 minutes"), in the words the report, the
// notification and the warnings use. Pure: unit-tested.
import { formatDuration } from '../../api/duration';

export interface RtoVerdict {
  measuredMs: number;
  targetMs?: number;
  /** Whether the recovery took no longer than the target; absent without a target. */
  met?: boolean;
  /** The same, in a word. */
  verdict?: 'met' | 'missed';
  /** e.g. `4m10s (target 15m: met)`, `17m2s (target 15m: MISSED by 2m2s)`, or `4m10s` without a target. */
  text: string;
}

export function describeRto(measuredMs: number, targetMs?: number): RtoVerdict {
  const measured = formatDuration(measuredMs);
  if (targetMs === undefined) return { measuredMs, text: measured };
  const met = measuredMs <= targetMs;
  return {
    measuredMs,
    targetMs,
    met,
    verdict: met ? 'met' : 'missed',
    text: met
      ? `${measured} (target ${formatDuration(targetMs)}: met)`
      : `${measured} (target ${formatDuration(targetMs)}: MISSED by ${formatDuration(measuredMs - targetMs)})`,
  };
}
