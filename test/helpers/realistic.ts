// A worker whose activities reach AWS through the realistic layer (scripts/realistic/): AWS's phases and timings,
// and the faults a test switches on. Fixtures and assertions use the plain emulator clients (`aws`), so a test's own
// reads neither wait for phases nor count as the runbook's calls.
import { inject } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { startRealisticLayer, type RealisticLayer } from '../../scripts/realistic/layer';
import type { Fault } from '../../scripts/realistic/machines';
import { testClients, testDbOverrides, withWorker, type TestContext } from './temporal';

export interface RealisticContext extends TestContext {
  layer: RealisticLayer;
}

export async function withRealisticWorker<T>(
  opts: { faults?: Fault[]; minuteMs?: number },
  fn: (ctx: RealisticContext) => Promise<T>,
): Promise<T> {
  const layer = await startRealisticLayer({
    upstream: inject('awsEndpoint'),
    minuteMs: opts.minuteMs ?? 200,
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
  const through = createAwsClients({ endpoint: layer.endpoint });
  const { client } = await testClients();
  try {
    return await withWorker((ctx) => fn({ ...ctx, layer }), {
      activities: () => createActivities({ aws: through, temporal: client, dbEndpointOverrides: testDbOverrides() }),
    });
  } finally {
    through.destroy();
    await layer.close();
  }
}

/** The mutating calls the runbook made through the layer that AWS accepted, as "Operation resource". */
export function effectiveMutations(layer: RealisticLayer): string[] {
  return layer.mutations().map((c) => `${c.operation} ${c.resource ?? ''}`.trim());
}
