// CloudWatch metric alarms evaluated from the metric data in moto, as CloudWatch does every period (moto stores the
// data and the alarms but never evaluates them: an alarm stays in the state it was created in or set to).
//
// Modelled: Statistic or ExtendedStatistic (pNN) over Period, the last EvaluationPeriods periods, DatapointsToAlarm
// of them breaching (default: all), the four ComparisonOperators on a static threshold, TreatMissingData (missing,
// notBreaching, breaching, ignore). Not modelled: anomaly-detection bands, metric-math alarms (Metrics), composite
// alarms (left as moto has them), alarm actions, M-of-N evaluation over a partial newest period.

export interface MetricAlarm {
  AlarmName?: string;
  StateValue?: string;
  StateReason?: string;
  StateUpdatedTimestamp?: number;
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: string }[];
  Statistic?: string;
  ExtendedStatistic?: string;
  Period?: number;
  EvaluationPeriods?: number;
  DatapointsToAlarm?: number;
  Threshold?: number;
  ComparisonOperator?: string;
  TreatMissingData?: string;
}

export interface Datapoint {
  /** Start of the period, seconds since epoch. */
  Timestamp: number;
  value: number;
}

const COMPARE: Record<string, [(v: number, t: number) => boolean, string]> = {
  GreaterThanThreshold: [(v, t) => v > t, 'greater than'],
  GreaterThanOrEqualToThreshold: [(v, t) => v >= t, 'greater than or equal to'],
  LessThanThreshold: [(v, t) => v < t, 'less than'],
  LessThanOrEqualToThreshold: [(v, t) => v <= t, 'less than or equal to'],
};

/** Can this alarm be evaluated here (a plain metric alarm with a static threshold)? */
export function evaluable(a: MetricAlarm): boolean {
  return Boolean(
    a.MetricName &&
      a.Namespace &&
      a.Period &&
      a.EvaluationPeriods &&
      a.Threshold !== undefined &&
      a.ComparisonOperator &&
      COMPARE[a.ComparisonOperator] &&
      (a.Statistic || a.ExtendedStatistic),
  );
}

/**
 * The state CloudWatch would give `a` at `nowSec` from the datapoints of its metric (one per period, at most), or
 * undefined to leave it as it is (TreatMissingData ignore with no data).
 */
export function evaluateAlarm(
  a: MetricAlarm,
  datapoints: Datapoint[],
  nowSec: number,
): { state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA'; reason: string } | undefined {
  const period = a.Period!;
  const n = a.EvaluationPeriods!;
  const m = a.DatapointsToAlarm ?? n;
  const [breaches, words] = COMPARE[a.ComparisonOperator!]!;
  const threshold = a.Threshold!;
  // The last n whole periods that have begun, newest first.
  const newest = Math.floor(nowSec / period) * period;
  const slots = Array.from({ length: n }, (_, i) => newest - i * period);
  const values = slots.map((start) => datapoints.find((d) => d.Timestamp >= start && d.Timestamp < start + period));
  const present = values.filter((v): v is Datapoint => v !== undefined);
  const missing = n - present.length;
  const treat = a.TreatMissingData ?? 'missing';
  if (present.length === 0) {
    if (treat === 'breaching') {
      return {
        state: 'ALARM',
        reason: `Threshold Crossed: no datapoints were received for ${n} periods and ${n} missing datapoints were treated as [Breaching].`,
      };
    }
    if (treat === 'notBreaching') {
      return {
        state: 'OK',
        reason: `Threshold Crossed: no datapoints were received for ${n} periods and ${n} missing datapoints were treated as [NonBreaching].`,
      };
    }
    if (treat === 'ignore') return undefined;
    return { state: 'INSUFFICIENT_DATA', reason: `Insufficient Data: ${n} datapoints were unknown.` };
  }
  const breaching = present.filter((d) => breaches(d.value, threshold)).length + (treat === 'breaching' ? missing : 0);
  const shown = present
    .slice(0, 5)
    .map((d) => `${d.value} (${new Date(d.Timestamp * 1000).toISOString().slice(0, 19)})`)
    .join(', ');
  const reason = `Threshold Crossed: ${breaching} out of the last ${n} datapoints [${shown}] were ${words} the threshold (${threshold}) (minimum ${m} datapoint${m === 1 ? '' : 's'} for OK -> ALARM transition).`;
  return { state: breaching >= m ? 'ALARM' : 'OK', reason };
}
