// The demo environment's part for regionalFailover's Aurora Global Database path
// (docs/examples/regional-failover-aurora-global.json): the global database `demo-global` whose writer is the Aurora
// PostgreSQL cluster `demo-global-east` in us-east-1 and whose secondary is `demo-global-west` in us-west-2 (joined
// from us-west-2, as AWS does it), with AuroraGlobalDBRPOLag datapoints for the secondary. The app, DNS and services
// are the demo's own (demo-east / demo-west, api.demo.example.com). Idempotent: a global database that exists is left
// as it is (`npm run dev -- reset` empties the emulator first, so the writer is demo-global-east again).
import type { AwsClients } from '../../activities/aws-clients';
import { ensureGlobalDatabase, putGlobalLag, type GlobalDatabase } from './global-cluster';

export const GLOBAL_DEMO = {
  globalCluster: 'demo-global',
  primary: { region: 'us-east-1', cluster: 'demo-global-east' },
  secondary: { region: 'us-west-2', cluster: 'demo-global-west' },
  /** AuroraGlobalDBRPOLag (ms) the demo shows for the secondary. */
  lagMs: [140, 90, 120],
} as const;

export async function seedGlobalDemo(aws: AwsClients): Promise<GlobalDatabase> {
  const db = await ensureGlobalDatabase(aws, {
    globalCluster: GLOBAL_DEMO.globalCluster,
    primary: GLOBAL_DEMO.primary,
    secondary: GLOBAL_DEMO.secondary,
  });
  await putGlobalLag(aws.cloudwatch(GLOBAL_DEMO.secondary.region), GLOBAL_DEMO.secondary.cluster, [
    ...GLOBAL_DEMO.lagMs,
  ]);
  return db;
}
