// P6's services: one cluster of the benchmark's own in the emulator, a task definition, and one ECS service per
// concurrent run plus one for the run alone, all at `baseCount` tasks; reset to it between rounds.
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type { AwsClients } from '../../activities/aws-clients';
import { ensureCluster, ensureService, ensureTaskDefinitions } from '../../scripts/lib/fixtures';

export interface ServiceRef {
  region: string;
  cluster: string;
  service: string;
}

export interface Fleet {
  /** The services the concurrent runs scale, one each. */
  many: ServiceRef[];
  /** The service the run alone scales. */
  solo: ServiceRef;
  /** Puts every service back at `baseCount` tasks. */
  reset(): Promise<void>;
}

/** `fn` over `items`, at most `limit` at a time (the emulator is one process: no point flooding it while building). */
export async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export async function makeFleet(aws: AwsClients, o: { id: string; size: number; baseCount: number }): Promise<Fleet> {
  const region = 'us-east-1';
  const ecs = aws.ecs(region);
  const cluster = `${o.id}-cluster`;
  await ensureCluster(ecs, cluster);
  const [taskDefinition] = await ensureTaskDefinitions(ecs, `${o.id}-app`, ['example/app:1.0']);
  const many = Array.from({ length: o.size }, (_, i) => ({
    region,
    cluster,
    service: `svc-${String(i).padStart(2, '0')}`,
  }));
  const solo = { region, cluster, service: 'svc-solo' };
  const all = [...many, solo];
  await eachLimited(all, 8, (s) =>
    ensureService(ecs, { cluster, service: s.service, taskDefinition: taskDefinition!, desiredCount: o.baseCount }),
  );
  return {
    many,
    solo,
    reset: () =>
      eachLimited(all, 8, async (s) => {
        await ecs.send(new UpdateServiceCommand({ cluster, service: s.service, desiredCount: o.baseCount }));
      }),
  };
}
