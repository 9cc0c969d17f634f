// CloudWatch activities: the replica lag an RPO check needs.
import { DescribeAlarmsCommand, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import type { AwsClients } from './aws-clients';
import { NotStable } from './errors';
import { abortSignal, pollUntil, resumeDeadline } from './poll';

export interface ReplicaLag {
  /** Newest `AWS/RDS ReplicaLag` datapoint (Maximum over a minute), seconds; absent when there is none. */
  seconds?: number;
  at?: string;
  datapoints: number;
  lookbackMinutes: number;
}

/**
 * The newest `AWS/RDS` datapoint (Maximum over a minute) of `metric` for one resource in the last `lookbackMinutes`,
 * e.g. an Aurora reader's AuroraReplicaLag or a global secondary's AuroraGlobalDBRPOLag (milliseconds both).
 */
export async function newestRdsMaximum(
  aws: AwsClients,
  q: { region: string; metric: string; dimension: { name: string; value: string }; lookbackMinutes: number },
): Promise<{ value: number; at: string } | undefined> {
  const end = new Date();
  const out = await aws.cloudwatch(q.region).send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/RDS',
      MetricName: q.metric,
      Dimensions: [{ Name: q.dimension.name, Value: q.dimension.value }],
      StartTime: new Date(end.getTime() - q.lookbackMinutes * 60_000),
      EndTime: end,
      Period: 60,
      Statistics: ['Maximum'],
    }),
    { abortSignal: abortSignal() },
  );
  const newest = (out.Datapoints ?? [])
    .filter((d) => d.Timestamp && d.Maximum !== undefined)
    .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime())[0];
  return newest ? { value: newest.Maximum!, at: newest.Timestamp!.toISOString() } : undefined;
}

export function createCloudWatchActivities(aws: AwsClients) {
  const activities = {
    /** State of named alarms; names that do not exist are listed as missing. */
    async describeAlarms(input: { region: string; names: string[] }) {
      const found: { name: string; state: string; reason: string; updatedAt?: string }[] = [];
      for (let i = 0; i < input.names.length; i += 100) {
        const out = await aws.cloudwatch(input.region).send(
          new DescribeAlarmsCommand({
            AlarmNames: input.names.slice(i, i + 100),
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          }),
          {
            abortSignal: abortSignal(),
          },
        );
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
          found.push({
            name: a.AlarmName ?? '',
            state: a.StateValue ?? 'INSUFFICIENT_DATA',
            reason: a.StateReason ?? '',
            ...(a.StateUpdatedTimestamp ? { updatedAt: a.StateUpdatedTimestamp.toISOString() } : {}),
          });
        }
      }
      return { alarms: found, missing: input.names.filter((n) => !found.some((a) => a.name === n)) };
    },

    /** One statistic of a metric over the last `windowSeconds` (the newest period's value), or null without data. */
    async getMetricValue(input: {
      region: string;
      namespace: string;
      metricName: string;
      dimensions: { name: string; value: string }[];
      stat: string;
      periodSeconds: number;
      windowSeconds: number;
    }): Promise<{ value: number | null; at?: string; datapoints: number }> {
      const end = new Date();
      const start = new Date(end.getTime() - Math.max(input.windowSeconds, input.periodSeconds) * 1000);
      const percentile = /^p\d/.test(input.stat);
      const out = await aws.cloudwatch(input.region).send(
        new GetMetricStatisticsCommand({
          Namespace: input.namespace,
          MetricName: input.metricName,
          Dimensions: input.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
          StartTime: start,
          EndTime: end,
          Period: input.periodSeconds,
          ...(percentile ? { ExtendedStatistics: [input.stat] } : { Statistics: [input.stat as 'Average'] }),
        }),
        { abortSignal: abortSignal() },
      );
      const points = (out.Datapoints ?? [])
        .filter((d) => d.Timestamp)
        .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime());
      const newest = points[0];
      if (!newest) return { value: null, datapoints: 0 };
      const value = percentile
        ? (newest.ExtendedStatistics?.[input.stat] ?? null)
        : ((newest as unknown as Record<string, number | undefined>)[input.stat] ?? null);
      return { value, at: newest.Timestamp!.toISOString(), datapoints: points.length };
    },

    /**
     * Newest ReplicaLag of a replica, read in the replica's region. With `since` (when the instance now under that
     * name was created), older datapoints do not count: the metric is keyed by name only, so they may be those of a
     * deleted instance that had the same name.
     */
    async getReplicaLag(input: {
      region: string;
      dbInstance: string;
      lookbackMinutes?: number;
      since?: string;
    }): Promise<ReplicaLag> {
      const lookbackMinutes = input.lookbackMinutes ?? 15;
      const end = new Date();
      const since = input.since ? Date.parse(input.since) : undefined;
      // Whole seconds, rounded up: CloudWatch reads StartTime to the second at best.
      const start = new Date(
        Math.max(end.getTime() - lookbackMinutes * 60_000, since === undefined ? 0 : Math.ceil(since / 1000) * 1000),
      );
      if (start >= end) return { datapoints: 0, lookbackMinutes };
      const out = await aws.cloudwatch(input.region).send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/RDS',
          MetricName: 'ReplicaLag',
          Dimensions: [{ Name: 'DBInstanceIdentifier', Value: input.dbInstance }],
          StartTime: start,
          EndTime: end,
          Period: 60,
          Statistics: ['Maximum'],
        }),
        { abortSignal: abortSignal() },
      );
      // A datapoint is stamped with the start of its period, which CloudWatch rounds down (to the minute): one that
      // starts before `since` may hold the old instance's values, so only periods starting at or after it count.
      const points = (out.Datapoints ?? [])
        .filter((d) => d.Timestamp && d.Maximum !== undefined)
        .filter((d) => since === undefined || d.Timestamp!.getTime() >= since)
        .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime());
      const newest = points[0];
      return {
        ...(newest ? { seconds: newest.Maximum!, at: newest.Timestamp!.toISOString() } : {}),
        datapoints: points.length,
        lookbackMinutes,
      };
    },

    /**
     * Wait until a new replica reports its lag (RDS publishes ReplicaLag once replication runs); with `since`, a
     * datapoint from after that time (see getReplicaLag).
     */
    async waitForReplicaLag(input: {
      region: string;
      dbInstance: string;
      timeoutMs: number;
      since?: string;
    }): Promise<ReplicaLag> {
      const result = await pollUntil(
        async () => {
          const lag = await activities.getReplicaLag({ ...input, lookbackMinutes: 5 });
          return { done: lag.seconds !== undefined, value: lag, progress: lag };
        },
        { deadline: resumeDeadline(input.timeoutMs), region: input.region, initialDelayMs: 2_000, maxDelayMs: 10_000 },
      );
      if (!result.done) {
        throw new NotStable(
          `${input.dbInstance} (${input.region}) reported no ReplicaLag${input.since ? ` since ${input.since}` : ''} in ` +
            `time: replication may not be running`,
        );
      }
      return result.value;
    },
  };
  return activities;
}
