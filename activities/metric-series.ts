// CloudWatch series for window and burn-rate gates: every period of a window in one GetMetricData call, aligned to
// period boundaries as CloudWatch alarms align them (complete periods only). The judging is pure (api/gate-eval.ts).
import { GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { AwsClients } from './aws-clients';
import { abortSignal } from './poll';

export interface SeriesQuery {
  /** Caller's name for the series (letters and digits). */
  id: string;
  namespace: string;
  metricName: string;
  dimensions: { name: string; value: string }[];
  stat: string;
}

export interface MetricSeries {
  /** End of the newest complete period (ISO). */
  end: string;
  periodSeconds: number;
  /** Per query: one value per period, oldest first; null where the period has no datapoint. */
  series: Record<string, (number | null)[]>;
}

export function createMetricSeriesActivities(aws: AwsClients) {
  return {
    /** The newest `periods` complete periods of each query (one GetMetricData call, pages followed). */
    async getMetricSeries(input: {
      region: string;
      queries: SeriesQuery[];
      periodSeconds: number;
      periods: number;
    }): Promise<MetricSeries> {
      const periodMs = input.periodSeconds * 1000;
      const endMs = Math.floor(Date.now() / periodMs) * periodMs;
      const startMs = endMs - input.periods * periodMs;
      const ids = input.queries.map((q, i) => `q${i}`);
      const queries: MetricDataQuery[] = input.queries.map((q, i) => ({
        Id: ids[i],
        ReturnData: true,
        MetricStat: {
          Metric: {
            Namespace: q.namespace,
            MetricName: q.metricName,
            Dimensions: q.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
          },
          Period: input.periodSeconds,
          Stat: q.stat,
        },
      }));
      const series: Record<string, (number | null)[]> = {};
      for (const q of input.queries) series[q.id] = Array<number | null>(input.periods).fill(null);
      let nextToken: string | undefined;
      do {
        const out = await aws.cloudwatch(input.region).send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: new Date(startMs),
            EndTime: new Date(endMs),
            ScanBy: 'TimestampAscending',
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
          { abortSignal: abortSignal() },
        );
        for (const r of out.MetricDataResults ?? []) {
          const i = ids.indexOf(r.Id ?? '');
          if (i < 0) continue;
          const target = series[input.queries[i]!.id]!;
          (r.Timestamps ?? []).forEach((t, k) => {
            const value = r.Values?.[k];
            if (value === undefined || !Number.isFinite(value)) return;
            // A period is known by its start; anything outside the window (an emulator's trailing bucket) is dropped.
            const slot = Math.floor((t.getTime() - startMs) / periodMs);
            if (slot >= 0 && slot < input.periods) target[slot] = value;
          });
        }
        nextToken = out.NextToken;
      } while (nextToken);
      return { end: new Date(endMs).toISOString(), periodSeconds: input.periodSeconds, series };
    },
  };
}
