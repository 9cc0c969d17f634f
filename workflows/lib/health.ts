// Health verification step shared by the runbooks.
import type { HealthCheck, HealthResult } from '../../api/common';
import { parseDuration } from '../../api/duration';
import { waits } from './proxies';
import type { StepOptions } from './tracker';

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
