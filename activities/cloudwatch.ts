// CloudWatch activities: the replica lag an RPO check needs.
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
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

export function createCloudWatchActivities(aws: AwsClients) {
  const activities = {
    /** Newest ReplicaLag of a replica, read in the replica's region. */
    async getReplicaLag(input: { region: string; dbInstance: string; lookbackMinutes?: number }): Promise<ReplicaLag> {
      const lookbackMinutes = input.lookbackMinutes ?? 15;
      const end = new Date();
      const start = new Date(end.getTime() - lookbackMinutes * 60_000);
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
      const points = (out.Datapoints ?? [])
        .filter((d) => d.Timestamp && d.Maximum !== undefined)
        .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime());
      const newest = points[0];
      return {
        ...(newest ? { seconds: newest.Maximum!, at: newest.Timestamp!.toISOString() } : {}),
        datapoints: points.length,
        lookbackMinutes,
      };
    },

    /** Wait until a new replica reports its lag (RDS publishes ReplicaLag once replication runs). */
    async waitForReplicaLag(input: { region: string; dbInstance: string; timeoutMs: number }): Promise<ReplicaLag> {
      const result = await pollUntil(
        async () => {
          const lag = await activities.getReplicaLag({ ...input, lookbackMinutes: 5 });
          return { done: lag.seconds !== undefined, value: lag, progress: lag };
        },
        { deadline: resumeDeadline(input.timeoutMs), initialDelayMs: 2_000, maxDelayMs: 10_000 },
      );
      if (!result.done) {
        throw new NotStable(
          `${input.dbInstance} (${input.region}) reported no ReplicaLag in time: replication may not be running`,
        );
      }
      return result.value;
    },
  };
  return activities;
}
