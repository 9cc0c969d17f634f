// The chaos suite's fast subset (`npm run chaos` has the full table): one AWS fault per runbook under the realistic
// layer, each with its documented outcome — noticed within one poll interval (not at a timeout), AWS compensated
// back to how it was, or every change made exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { driver } from '../chaos/drivers';
import { genericFaults, REALISTIC_FAULTS } from '../chaos/fault-table';
import { faultScenario, type FaultExpectation } from '../chaos/scenarios';
import { closeConnections } from '../helpers/temporal';

afterAll(closeConnections);

const own = (runbook: string, scenario: string): FaultExpectation => {
  const x = REALISTIC_FAULTS[runbook]!.find((f) => f.scenario.startsWith(scenario));
  if (!x) throw new Error(`no ${scenario} scenario for ${runbook} in test/chaos/fault-table.ts`);
  return x;
};
const generic = (runbook: string, scenario: string) =>
  genericFaults(runbook).find((f) => f.scenario.startsWith(scenario))!;

const SUBSET: [string, FaultExpectation][] = [
  ['emergencyScale', generic('emergencyScale', 'throttle-storm')],
  ['ecsRollback', own('ecsRollback', 'tasks-crash-loop')],
  ['dnsFailover', generic('dnsFailover', 'AccessDenied')],
  ['blueGreenDeploy', own('blueGreenDeploy', 'deploy-circuit-breaker')],
  ['blueGreenDeploy', own('blueGreenDeploy', "green's 5xx rise")],
  ['regionalFailover', own('regionalFailover', 'region-outage')],
  ['regionalFailback', own('regionalFailback', 'restore-fails')],
  ['snapshotRestore', own('snapshotRestore', 'restore-fails')],
  ['backupVerification', own('backupVerification', 'restore-fails')],
  ['rdsRebootFailover', generic('rdsRebootFailover', 'AccessDenied')],
  ['auroraFailover', generic('auroraFailover', 'AccessDenied')],
];

describe('one AWS fault per runbook under the realistic layer', () => {
  for (const [runbook, x] of SUBSET) {
    it(`${runbook}: ${x.scenario}`, async () => {
      const row = await faultScenario(driver(runbook), x);
      expect(row.pass, `${row.outcome} — ${row.detail ?? ''} (notice ${row.noticeMs ?? '?'} ms)`).toBe(true);
    }, 240_000);
  }
});
