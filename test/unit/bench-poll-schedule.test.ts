// The poll schedule of long waits (activities/poll.ts nextPollDelay), as a pure function: how late a wait can see a
// resource that became ready at T, and how many probes it spends on it. No timing: the probes are placed on paper.
import { describe, expect, it } from 'vitest';
import { nextPollDelay, POLL_LATENESS } from '../../activities/poll';

const DEFAULTS = { initialDelayMs: 1_000, maxDelayMs: 15_000 };

/** The probe times of a wait (0 = its first probe) up to and including the first at or after `readyMs`. */
function probesUntil(readyMs: number, opts = DEFAULTS): number[] {
  const at = [0];
  while (at.at(-1)! < readyMs) at.push(at.at(-1)! + nextPollDelay(at.at(-1)!, opts));
  return at;
}

describe('nextPollDelay', () => {
  it('waits the initial delay while a tenth of the time waited is shorter', () => {
    expect(nextPollDelay(0, DEFAULTS)).toBe(1_000);
    expect(nextPollDelay(5_000, DEFAULTS)).toBe(1_000);
    expect(nextPollDelay(10_000, DEFAULTS)).toBe(1_000);
    expect(nextPollDelay(-50, DEFAULTS)).toBe(1_000); // a clock that stepped back
  });

  it('then a tenth of the time waited so far, up to the longest delay', () => {
    expect(POLL_LATENESS).toBe(0.1);
    expect(nextPollDelay(20_000, DEFAULTS)).toBe(2_000);
    expect(nextPollDelay(60_000, DEFAULTS)).toBe(6_000);
    expect(nextPollDelay(150_000, DEFAULTS)).toBe(15_000);
    expect(nextPollDelay(3_600_000, DEFAULTS)).toBe(15_000);
    expect(nextPollDelay(200_000, { initialDelayMs: 1_000, maxDelayMs: 30_000 })).toBe(20_000);
  });

  it('sees a resource ready at T at most max(initial delay, T / 10) late, capped by the longest delay', () => {
    for (const readyMs of [300, 1_000, 2_500, 9_999, 10_000, 10_001, 37_000, 60_000, 123_456, 300_000, 1_800_000]) {
      const at = probesUntil(readyMs);
      const late = at.at(-1)! - readyMs;
      expect(late).toBeLessThanOrEqual(Math.min(15_000, Math.max(1_000, readyMs * POLL_LATENESS)));
    }
  });

  it('spends probes growing with log(T), then one per longest delay', () => {
    const probes = (readyMs: number) => probesUntil(readyMs).length;
    expect(probes(1_000)).toBe(2);
    expect(probes(10_000)).toBe(11);
    expect(probes(60_000)).toBe(30);
    expect(probes(300_000)).toBe(50);
    // Past 10 × the longest delay (150 s) each further probe covers the longest delay.
    expect(probes(3_600_000) - probes(1_800_000)).toBe(120);
    // Below it, doubling T costs about log(2) / log(1.1) ≈ 7.3 probes.
    expect(probes(80_000) - probes(40_000)).toBeGreaterThanOrEqual(7);
    expect(probes(80_000) - probes(40_000)).toBeLessThanOrEqual(8);
  });

  it('never spins: every delay is at least the initial delay', () => {
    for (let waited = 0; waited < 600_000; waited += 777) {
      expect(nextPollDelay(waited, DEFAULTS)).toBeGreaterThanOrEqual(1_000);
    }
  });
});
