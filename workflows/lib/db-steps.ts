// Steps around moving an app to another database, shared by the failover, the failback and the restore: pause a
// region's writers, the RPO rule (checked before the approval and again just before a promotion), write a DB host
// into a configuration value.
import { fail } from './errors';
import { waits, aws } from './proxies';
import type { RunbookContext } from './runbook';

/** A snapshot as a run reports it: with its age now, in seconds, when RDS says when it was created. */
export interface AgedSnapshot {
  id: string;
  type: string;
  createdAt?: string;
  ageSeconds?: number;
}

export function agedSnapshot(s: { id: string; type: string; createdAt?: string | undefined }): AgedSnapshot {
  const ageSeconds = s.createdAt ? Math.round((Date.now() - Date.parse(s.createdAt)) / 1000) : undefined;
  return {
    id: s.id,
    type: s.type,
    ...(s.createdAt ? { createdAt: s.createdAt } : {}),
    ...(ageSeconds !== undefined ? { ageSeconds } : {}),
  };
}

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

/** A replica's lag held against the run's RPO. */
export interface RpoReading {
  lagSeconds: number | undefined;
  limitSeconds: number;
  /** Whose lag, as the sentence starts: `replica lag`, `the new replica's lag`. */
  subject: string;
  /** Where no datapoint was found, when there is none: `for demo-db-replica in the last 15 minutes`. */
  noDatapoint: string;
}

/**
 * The RPO rule, the same for every promotion: a lag above `maxReplicaLagSeconds`, or none measured, is a breach —
 * the sentence saying so, or undefined when the lag is within the limit.
 */
export function rpoBreach(r: RpoReading, now = false): string | undefined {
  const { lagSeconds: lag, limitSeconds: limit } = r;
  if (lag === undefined) return `no ReplicaLag datapoint ${r.noDatapoint}: the data loss cannot be estimated`;
  if (lag <= limit) return undefined;
  return `${r.subject} is ${now ? 'now ' : ''}${lag}s, above maxReplicaLagSeconds (${limit}s): up to ${lag}s of writes would be lost`;
}

/**
 * Enforce the RPO rule: a breach fails the run (`ReplicaLagRefused`, "<refusing>: <why>. <then>") unless data loss
 * was accepted, which is then a warning.
 */
export function enforceRpo(
  ctx: RunbookContext<unknown>,
  r: RpoReading & { acceptDataLoss: { reason: string } | undefined; refusing: string; then: string },
  now = false,
): void {
  const why = rpoBreach(r, now);
  if (!why) return;
  if (!r.acceptDataLoss) throw fail('ReplicaLagRefused', `${r.refusing}: ${why}. ${r.then}`);
  ctx.warn(`data loss accepted (${r.acceptDataLoss.reason}): ${why}`);
}

/**
 * The RPO once more, right before the promotion (an approval may have taken a while): a breach fails the run at
 * its own step, still before the point of no return, so what was done is undone. Data loss accepted at the first
 * check (which warned) is accepted here too.
 */
export async function refuseStaleReplica(
  ctx: RunbookContext<unknown>,
  r: RpoReading & { acceptDataLoss: { reason: string } | undefined; then: string },
): Promise<void> {
  if (r.acceptDataLoss || !rpoBreach(r, true)) return;
  await ctx.step('Safety check: RPO just before promotion', async () =>
    enforceRpo(ctx, { ...r, acceptDataLoss: undefined, refusing: 'refusing to promote' }, true),
  );
}
