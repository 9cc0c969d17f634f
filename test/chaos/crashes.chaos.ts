// The worker SIGKILLed at every step boundary, and the Temporal server restarted mid-run: every runbook completes,
// each change made once.
import { afterAll, describe, expect, it } from 'vitest';
import { closeConnections } from '../helpers/temporal';
import { DRIVERS } from './drivers';
import { recordRow } from './results';
import { serverRestartScenario, workerKillScenario } from './scenarios';

afterAll(closeConnections);

for (const d of DRIVERS) {
  describe(d.runbook, () => {
    it('worker SIGKILLed at every step boundary', async () => {
      const row = await workerKillScenario(d);
      recordRow(row);
      expect(row.pass, `${row.outcome} ${row.detail ?? ''}`).toBe(true);
    });
    it('Temporal server restarted mid-run', async () => {
      const row = await serverRestartScenario(d);
      recordRow(row);
      expect(row.pass, `${row.outcome} ${row.detail ?? ''}`).toBe(true);
    });
  });
}
