// Steps around moving an app to another database, shared by the failover, the failback and the restore: pause a
// region's writers, refuse a stale replica just before a promotion, write a DB host into a configuration value.
import { fail } from './errors';
import { waits, aws } from './proxies';
import type { RunbookContext } from './runbook';

/** The configuration value for a DB host: the host itself, or `template` with `{host}` replaced by it. */
export const hostValue = (template: string | undefined, host: string): string =>
  template ? template.replace(/\{host\}/g, host) : host;

/**
 * Scale `which` region's service to 0 and wait until it has stopped. Compensated (back to `count` tasks) until the
 * point of no return.
 */
export async function pauseWrites(
  ctx: RunbookContext<unknown>,
  o: {
    which: 'primary' | 'secondary';
    service: { region: string; cluster: string; service: string };
    count: number;
    stableTimeoutMs: number;
  },
): Promise<void> {
  const { service, count } = o;
  await ctx.change(
    `Pause writes: scale the ${o.which} service to 0`,
    () => aws.updateService({ ...service, desiredCount: 0 }),
    {
      params: { from: count },
      undo: () => ({
        name: `restore the ${o.which} service ${service.service} to ${count} tasks`,
        run: () => aws.updateService({ ...service, desiredCount: count }),
      }),
    },
  );
  await ctx.step(`Wait until the ${o.which} service has stopped`, () =>
    waits.waitForServiceStable({ ...service, timeoutMs: o.stableTimeoutMs, expect: { desiredCount: 0 } }),
  );
}

/**
 * The RPO once more, right before the promotion (an approval may have taken a while): a lag above the limit, or
 * none measured, fails the run (`ReplicaLagRefused`) unless data loss was accepted. Still before the point of no
 * return, so what was done is undone.
 */
export async function refuseStaleReplica(
  ctx: RunbookContext<unknown>,
  o: { lagSeconds: number | undefined; limitSeconds: number; acceptDataLoss: boolean; subject: string; then: string },
): Promise<void> {
  const { lagSeconds, limitSeconds } = o;
  if (o.acceptDataLoss || (lagSeconds !== undefined && lagSeconds <= limitSeconds)) return;
  await ctx.step('Safety check: RPO just before promotion', async () => {
    throw fail(
      'ReplicaLagRefused',
      `refusing to promote: ${o.subject} is now ${lagSeconds ?? 'unknown'}s (limit ${limitSeconds}s). ${o.then}`,
    );
  });
}
