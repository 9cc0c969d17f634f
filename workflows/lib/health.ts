// Health verification step shared by the runbooks.
import type { HealthCheck, HealthResult } from '../../api/common';
import { parseDuration } from '../../api/duration';
import { fail } from './errors';
import { waits } from './proxies';
import type { StepOptions, Tracker } from './tracker';

export function verifyHealth(check: HealthCheck): Promise<HealthResult> {
  return waits.checkHealth({
    url: check.url,
    expectStatus: check.expectStatus,
    consecutive: check.consecutive,
    intervalMs: parseDuration(check.interval),
    timeoutMs: parseDuration(check.timeout),
  });
}

export function describeHealth(h: HealthResult): string {
  return h.healthy
    ? `${h.url} healthy (${h.consecutiveOk} consecutive answers, ${h.attempts} probes)`
    : `${h.url} not healthy after ${h.attempts} probes: last answer ${h.lastStatus ?? h.lastError ?? 'none'}`;
}

/**
 * Step options for a step that returns a health verdict: the verdict is the step's outcome. A check that found the
 * target unhealthy is a failed step (with why as its error) whatever the runbook does next — fail, or go on with a
 * warning — so `status`, `watch` and the incident report never show it as succeeded.
 */
export const healthStep: StepOptions<HealthResult> = {
  details: (h) => ({ healthy: h.healthy, summary: describeHealth(h) }),
  outcome: (h) => (h.healthy ? 'succeeded' : 'failed'),
  failure: (h) => describeHealth(h),
};

/**
 * The `Verify health` step of a deployment: with a check, the verdict (an unhealthy one fails the run with
 * HealthCheckFailed, "health check failed <where>: …", so the compensation undoes the deployment); without one, the
 * step is recorded as skipped.
 */
export async function requireHealthy(
  ctx: { step: <T>(name: string, fn: () => Promise<T>, opts?: StepOptions<T>) => Promise<T>; tracker: Tracker },
  check: HealthCheck | undefined,
  where: string,
): Promise<HealthResult | undefined> {
  if (!check) {
    ctx.tracker.skipped('Verify health', 'no health check in the input');
    return undefined;
  }
  const health = await ctx.step('Verify health', () => verifyHealth(check), healthStep);
  if (!health.healthy) throw fail('HealthCheckFailed', `health check failed ${where}: ${describeHealth(health)}`);
  return health;
}
