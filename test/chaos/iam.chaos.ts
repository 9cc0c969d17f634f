// Each runbook with moto's IAM enforcement on and only the least-privilege policy its doc publishes: the documented
// example completes; without the first change's action it fails at once naming that action, AWS unchanged.
import { afterAll, describe, expect, it } from 'vitest';
import { closeConnections } from '../helpers/temporal';
import { IAM_CASES, iamScenario } from './iam';
import { recordRow } from './results';

afterAll(closeConnections);

describe('least-privilege IAM (moto IAM enforcement)', () => {
  for (const x of IAM_CASES) {
    it(x.runbook, async () => {
      const rows = await iamScenario(x);
      for (const row of rows) recordRow(row);
      for (const row of rows) expect(row.pass, `${row.scenario}: ${row.outcome} ${row.detail ?? ''}`).toBe(true);
    });
  }
});
