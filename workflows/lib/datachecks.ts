// Data checks step shared by snapshotRestore and backupVerification.
import { parseDuration } from '../../api/duration';
import type { DataChecksInput } from '../../api/runbooks/restore';
import type { DataCheckSummary } from '../../api/status';
import { waits } from './proxies';

export function runDataChecks(
  region: string,
  endpoint: { address: string; port: number },
  checks: DataChecksInput,
): Promise<DataCheckSummary> {
  return waits.runDataChecks({
    region,
    endpoint: endpoint.address,
    port: endpoint.port,
    secretId: checks.secretId,
    ...(checks.database ? { database: checks.database } : {}),
    checks: checks.checks,
    timeoutMs: parseDuration(checks.timeout),
  });
}

/** "connected; users = 1200 (≥ 1000) ok; orphans = 3 (= 0) FAILED" */
export function describeChecks(c: DataCheckSummary): string {
  if (!c.connected) return `could not connect to ${c.target}: ${c.connectError ?? 'unknown error'}`;
  const parts = c.results.map(
    (r) => `${r.name} = ${r.value ?? r.error ?? 'nothing'} (${r.expect}) ${r.pass ? 'ok' : 'FAILED'}`,
  );
  return ['connected', ...parts].join('; ');
}

export function failedChecks(c: DataCheckSummary): string {
  if (!c.connected) return describeChecks(c);
  return c.results
    .filter((r) => !r.pass)
    .map((r) => `${r.name} = ${r.value ?? r.error ?? 'nothing'}, expected ${r.expect}`)
    .join('; ');
}
