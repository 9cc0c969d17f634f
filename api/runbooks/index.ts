// The catalogue: every runbook's workflow type, input schema, workflow-ID builder and example file.
// Each runbook's entry lives with its schema (api/runbooks/<name>.ts), so a workflow loads only its own.
import { ecsRollbackEntry } from './ecs-rollback';
import { emergencyScaleEntry } from './emergency-scale';
import { dnsFailoverEntry } from './dns-failover';
import { regionalFailoverEntry, regionalFailbackEntry } from './regional-failover';
import { blueGreenDeployEntry } from './blue-green';
import { snapshotRestoreEntry, backupVerificationEntry } from './restore';
import { ecsDeployEntry, ecsRestartEntry } from './ecs-deploy';
import { triageEntry } from './triage';
import { auroraFailoverEntry } from './aurora';
import { rdsRebootFailoverEntry } from './rds-reboot';
import type { RunbookEntry } from './entry';

export type { RunbookEntry, TypedRunbookEntry } from './entry';

/** Every runbook by workflow type. */
export const RUNBOOK = {
  ecsRollback: ecsRollbackEntry,
  emergencyScale: emergencyScaleEntry,
  dnsFailover: dnsFailoverEntry,
  regionalFailover: regionalFailoverEntry,
  regionalFailback: regionalFailbackEntry,
  blueGreenDeploy: blueGreenDeployEntry,
  snapshotRestore: snapshotRestoreEntry,
  backupVerification: backupVerificationEntry,
  ecsDeploy: ecsDeployEntry,
  ecsRestart: ecsRestartEntry,
  triage: triageEntry,
  auroraFailover: auroraFailoverEntry,
  rdsRebootFailover: rdsRebootFailoverEntry,
};

export const RUNBOOKS: readonly RunbookEntry[] = Object.values(RUNBOOK) as RunbookEntry[];

export function findRunbook(name: string): RunbookEntry | undefined {
  return RUNBOOKS.find((r) => r.type === name || r.slug === name);
}
