// Checked by `npm run typecheck` (never run): an activity called through another timeout class's proxy does not
// compile. Each @ts-expect-error below fails the typecheck the day the call it marks compiles.
import { aws, probes, waits } from '../../workflows/lib/proxies';

export async function wrongProxies(): Promise<void> {
  // @ts-expect-error a wait (hours, heartbeating) through the 30-second AWS-call proxy
  await aws.waitForServiceStable({ region: 'r', cluster: 'c', service: 's', timeoutMs: 1 });
  // @ts-expect-error a health check through the AWS-call proxy
  await aws.checkHealth({ url: 'http://x', expectStatus: 200, consecutive: 1, intervalMs: 1, timeoutMs: 1 });
  // @ts-expect-error a plain call through the three-hour wait proxy
  await waits.updateService({ region: 'r', cluster: 'c', service: 's', desiredCount: 1 });
  // @ts-expect-error a change through the probe proxy (two attempts, for reads of a region that may be down)
  await probes.promoteReadReplica({ region: 'r', dbInstanceIdentifier: 'db' });
  // The right ones compile.
  await aws.describeService({ region: 'r', cluster: 'c', service: 's' });
  await probes.describeService({ region: 'r', cluster: 'c', service: 's' });
}
