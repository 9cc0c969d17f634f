// RDS publishes `AWS/RDS ReplicaLag` for every read replica once a minute; the emulator does not. This publisher
// plays that part for the local stack and the tests: every interval it puts a small lag for each replica it finds.
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../activities/aws-clients';
import { AURORA_DEMO } from './demo-aurora';

export function startReplicaLagPublisher(
  aws: AwsClients,
  opts: { regions: string[]; intervalMs?: number; lagSeconds?: () => number },
): { stop(): void; tick(): Promise<void> } {
  const lag = opts.lagSeconds ?? (() => 2);
  const tick = async () => {
    for (const region of opts.regions) {
      const out = await aws.rds(region).send(new DescribeDBInstancesCommand({}));
      const replicas = (out.DBInstances ?? []).filter((d) => d.ReadReplicaSourceDBInstanceIdentifier);
      // Aurora publishes AuroraReplicaLag (milliseconds) per cluster instance instead: demo-aurora.ts's lags.
      const members = (out.DBInstances ?? []).filter((d) => d.DBClusterIdentifier && d.DBInstanceIdentifier);
      if (members.length) {
        await aws.cloudwatch(region).send(
          new PutMetricDataCommand({
            Namespace: 'AWS/RDS',
            MetricData: members.map((d) => ({
              MetricName: 'AuroraReplicaLag',
              Dimensions: [{ Name: 'DBInstanceIdentifier', Value: d.DBInstanceIdentifier! }],
              Timestamp: new Date(),
              Value: AURORA_DEMO.lagMs[d.DBInstanceIdentifier!] ?? 20,
              Unit: 'Milliseconds',
            })),
          }),
        );
      }
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
