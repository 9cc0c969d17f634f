// The worker SIGKILLed at every step boundary: every runbook completes, each change made once. The runs mostly wait (a
// killed worker's activity is retried only after its heartbeat timeout: 10 s for an AWS call, 20 s for a wait), so all
// runbooks run side by side.
import { afterAll, describe, expect, it } from 'vitest';
import { closeConnections } from '../helpers/temporal';
import { killWorkerProcesses } from '../helpers/worker-process';
import { DRIVERS } from './drivers';
import { recordRow, recordStart } from './results';
import { workerKillScenario } from './scenarios';

afterAll(async () => {
  killWorkerProcesses(); // those of a scenario that timed out
  await closeConnections();
});

describe.concurrent('worker SIGKILLed at every step boundary', () => {
  for (const d of DRIVERS) {
    it(d.runbook, { timeout: 900_000 }, async () => {
      recordStart(d.runbook, 'worker SIGKILLed at every step boundary', 'completes; each change once', 900_000);
      const row = { ...(await workerKillScenario(d)), key: 'worker SIGKILLed at every step boundary' };
      recordRow(row);
      expect(row.pass, `${row.outcome} ${row.detail ?? ''}`).toBe(true);
    });
  }
});
