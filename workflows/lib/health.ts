// Health verification step shared by the runbooks.
import type { HealthCheck, HealthResult } from '../../api/common';
import { parseDuration } from '../../api/duration';
import { waits } from './proxies';

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
