// At least 50 generated bad inputs per runbook: each refused naming the field, and nothing changed in AWS.
import { afterAll, expect, it } from 'vitest';
import { closeConnections } from '../helpers/temporal';
import { DRIVERS } from './drivers';
import { recordRow } from './results';
import { badInputScenario } from './scenarios';

afterAll(closeConnections);

for (const d of DRIVERS) {
  it(`${d.runbook}: 50 generated bad inputs`, async () => {
    const row = await badInputScenario(d, 50);
    recordRow(row);
    expect(row.pass, `${row.outcome} ${row.detail ?? ''}`).toBe(true);
  });
}
