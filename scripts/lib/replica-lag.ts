// RDS publishes `AWS/RDS ReplicaLag` for every read replica once a minute; the emulator does not. This publisher
// plays that part for the local stack and the tests: every interval it puts a small lag for each replica it finds.
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../activities/aws-clients';

export function startReplicaLagPublisher(
  aws: AwsClients,
  opts: { regions: string[]; intervalMs?: number; lagSeconds?: () => number },
): { stop(): void; tick(): Promise<void> } {
  const lag = opts.lagSeconds ?? (() => 2);
  const tick = async () => {
    for (const region of opts.regions) {
      const out = await aws.rds(region).send(new DescribeDBInstancesCommand({}));
      const replicas = (out.DBInstances ?? []).filter((d) => d.ReadReplicaSourceDBInstanceIdentifier);
      if (!replicas.length) continue;
      await aws.cloudwatch(region).send(
        new PutMetricDataCommand({
          Namespace: 'AWS/RDS',
          MetricData: replicas.map((d) => ({
            MetricName: 'ReplicaLag',
            Dimensions: [{ Name: 'DBInstanceIdentifier', Value: d.DBInstanceIdentifier! }],
            Timestamp: new Date(),
            Value: lag(),
            Unit: 'Seconds',
          })),
        }),
      );
    }
  };
  let running = true;
  const loop = async () => {
    while (running) {
      await tick().catch(() => undefined);
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 60_000));
    }
  };
  void loop();
  return {
    stop: () => {
      running = false;
    },
    tick,
  };
}
