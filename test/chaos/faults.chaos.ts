// Every runbook under AWS's faults, generic (throttling, AccessDenied) and its own (failed restores, deployments that
// fail, Route 53 that does not sync, a region that stops answering): the documented outcome, in time.
import { afterAll, describe, expect, it } from 'vitest';
import { closeConnections } from '../helpers/temporal';
import { DRIVERS } from './drivers';
import { genericFaults, REALISTIC_FAULTS } from './fault-table';
import { recordRow } from './results';
import { faultScenario } from './scenarios';

afterAll(closeConnections);

for (const d of DRIVERS) {
  describe(d.runbook, () => {
    for (const x of [...genericFaults(d.runbook), ...REALISTIC_FAULTS[d.runbook]!]) {
      it(x.scenario, async () => {
        const row = await faultScenario(d, x);
        recordRow(row);
        expect(row.pass, `${row.outcome} ${row.detail ?? ''}`).toBe(true);
      });
    }
  });
}
