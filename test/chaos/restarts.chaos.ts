// The Temporal dev server (SQLite) stopped and started again mid-run: every runbook completes. Each scenario has a
// server of its own; the runbooks run side by side.
import { afterAll, describe, expect, it } from 'vitest';
import { closeConnections } from '../helpers/temporal';
import { DRIVERS } from './drivers';
import { recordRow, recordStart } from './results';
import { serverRestartScenario } from './scenarios';

afterAll(closeConnections);

describe.concurrent('Temporal server restarted mid-run', () => {
  for (const d of DRIVERS) {
    it(d.runbook, async () => {
      recordStart(d.runbook, 'Temporal server stopped and restarted mid-run', 'completes', 300_000);
      const row = { ...(await serverRestartScenario(d)), key: 'Temporal server stopped and restarted mid-run' };
      recordRow(row);
      expect(row.pass, `${row.outcome} ${row.detail ?? ''}`).toBe(true);
    });
  }
});
