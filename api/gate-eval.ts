// Pure judgements of gate readings (no I/O: the workflow calls them on what the activities read, tests call them on
// hand-made series). Windows are counted as CloudWatch alarms count "datapoints to alarm"; burn rates follow the
// SRE workbook's multi-window, multi-burn-rate alert.
import { formatDuration } from './duration';
import type { MissingDataPolicy } from './gates';

export type Comparison = '>' | '>=' | '<' | '<=';

export const breaches = (value: number, op: Comparison, threshold: number): boolean =>
  op === '>'
    ? value > threshold
    : op === '>='
      ? value >= threshold
      : op === '<'
        ? value < threshold
        : value <= threshold;

export interface WindowRule {
  comparison: Comparison;
  threshold: number;
  /** N: breaching periods that fail. */
  breaching: number;
  /** M: periods counted (the newest M). */
  outOf: number;
  missingData: MissingDataPolicy;
  periodMs: number;
  /** "for" gates: every period of the window must breach (N = M); the text says so. */
  sustained?: boolean;
}

export interface WindowJudgement {
  verdict: 'pass' | 'fail';
  /** Periods that count as breaching (datapoints, plus missing ones under "breaching"). */
  breaching: number;
  /** Periods with a datapoint. */
  present: number;
  periods: number;
  /** No datapoint at all under "missing", or too few under "ignore": the gate did not judge. */
  insufficient: boolean;
  /** e.g. "5/5 periods > 5 (1m periods over 5m)". */
  text: string;
}

/**
 * Judge the newest `rule.outOf` periods of `values` (oldest first; null = no datapoint in that period).
 * - breaching: a period without data counts as breaching; notBreaching: as good;
 * - missing: periods without data are left out and the gate judges the datapoints there are (with fewer datapoints
 *   than N, all of them must breach); no datapoint at all is insufficient data, which does not fail;
 * - ignore: with fewer datapoints than N the gate does not judge and the previous verdict stands (`previous`, pass
 *   when there is none).
 */
export function judgeWindow(
  values: (number | null)[],
  rule: WindowRule,
  previous: 'pass' | 'fail' = 'pass',
): WindowJudgement {
  const window = values.slice(-rule.outOf);
  // Periods not returned at all (a window longer than the series) are periods without data.
  while (window.length < rule.outOf) window.unshift(null);
  const present = window.filter((v): v is number => v !== null);
  const missing = window.length - present.length;
  const bad = present.filter((v) => breaches(v, rule.comparison, rule.threshold)).length;
  let counted = bad;
  let needed = rule.breaching;
  let insufficient = false;
  let verdict: 'pass' | 'fail';
  switch (rule.missingData) {
    case 'breaching':
      counted = bad + missing;
      verdict = counted >= needed ? 'fail' : 'pass';
      break;
    case 'notBreaching':
      verdict = bad >= needed ? 'fail' : 'pass';
      break;
    case 'missing':
      if (present.length === 0) {
        insufficient = true;
        verdict = 'pass';
      } else {
        needed = Math.min(needed, present.length);
        verdict = bad >= needed ? 'fail' : 'pass';
      }
      break;
    case 'ignore':
      if (present.length < needed) {
        insufficient = true;
        verdict = previous;
      } else {
        verdict = bad >= needed ? 'fail' : 'pass';
      }
      break;
  }
  const period = formatDuration(rule.periodMs);
  const span = rule.sustained
    ? `${period} periods over ${formatDuration(rule.periodMs * rule.outOf)}`
    : `${period} periods, fails at ${rule.breaching} of the last ${rule.outOf}`;
  const gaps = missing
    ? `; ${missing} without data (${rule.missingData}${
        insufficient
          ? present.length === 0 && rule.missingData === 'missing'
            ? ': insufficient data, not judged'
            : `: fewer than ${rule.breaching} datapoints, ${verdict} kept`
          : ''
      })`
    : '';
  return {
    verdict,
    breaching: counted,
    present: present.length,
    periods: rule.outOf,
    insufficient,
    text: `${counted}/${rule.outOf} periods ${rule.comparison} ${rule.threshold} (${span}${gaps})`,
  };
}

export interface BurnRateRule {
  /** SLO target in percent, e.g. 99.9. */
  slo: number;
  threshold: number;
  periodMs: number;
  shortPeriods: number;
  longPeriods: number;
}

export interface BurnRateJudgement {
  verdict: 'pass' | 'fail';
  /** Burn rates (error ratio / error budget); null without requests in the window. */
  long: number | null;
  short: number | null;
  text: string;
}

const sum = (xs: (number | null)[]) => xs.reduce<number>((a, x) => a + (x ?? 0), 0);

/**
 * Multi-window burn rate: errors and requests per period (oldest first, the newest `longPeriods`). Burn rate =
 * (errors / requests) / (1 − SLO). Fails only when both the long and the short window burn faster than the threshold:
 * the long window says the budget is really going, the short one that it is still going now.
 * A window without requests burns nothing.
 */
export function judgeBurnRate(
  errors: (number | null)[],
  requests: (number | null)[],
  rule: BurnRateRule,
): BurnRateJudgement {
  const budget = (100 - rule.slo) / 100;
  const burn = (n: number) => {
    const req = sum(requests.slice(-n));
    if (req <= 0) return null;
    return sum(errors.slice(-n)) / req / budget;
  };
  const long = burn(rule.longPeriods);
  const short = burn(rule.shortPeriods);
  const over = (b: number | null) => b !== null && b > rule.threshold;
  const fmt = (b: number | null) => (b === null ? 'no requests' : `${round(b)}x`);
  const lw = formatDuration(rule.periodMs * rule.longPeriods);
  const sw = formatDuration(rule.periodMs * rule.shortPeriods);
  return {
    verdict: over(long) && over(short) ? 'fail' : 'pass',
    long,
    short,
    text: `burn rate ${fmt(long)} over ${lw}, ${fmt(short)} over ${sw}`,
  };
}

const round = (x: number) => (x >= 100 ? Math.round(x) : Math.round(x * 10) / 10);
