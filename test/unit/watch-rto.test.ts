// The post-switch watch's bookkeeping and the RTO wording (pure parts of workflows/lib/watch.ts and rto.ts).
import { describe, expect, it } from 'vitest';
import type { GateReading } from '../../api/status';
import { postSwitchWatch } from '../../api/watch';
import { describeRto } from '../../workflows/lib/rto';
import { describeGateReading } from '../../workflows/lib/gates';
import { gateTransitions } from '../../workflows/lib/watch';

const reading = (gate: string, verdict: 'pass' | 'fail', value: string | number = verdict): GateReading => ({
  at: '2026-12-01T10:00:00.000Z',
  step: 100,
  gate,
  kind: 'alarm',
  value,
  threshold: 'not ALARM',
  verdict,
});

describe('describeRto', () => {
  it('without a target: the duration alone, no verdict', () => {
    expect(describeRto(250_000)).toEqual({ measuredMs: 250_000, text: '4m10s' });
  });
  it('within the target (equal counts as met)', () => {
    expect(describeRto(900_000, 900_000)).toMatchObject({ met: true, verdict: 'met', text: '15m (target 15m: met)' });
  });
  it('over the target: MISSED by how much', () => {
    expect(describeRto(1_022_000, 900_000)).toMatchObject({
      met: false,
      verdict: 'missed',
      text: '17m2s (target 15m: MISSED by 2m2s)',
    });
  });
});

describe('gateTransitions', () => {
  it('a gate that starts failing is reported once; while it keeps failing, not again', () => {
    const first = gateTransitions(new Set(), [reading('a', 'pass'), reading('b', 'fail')]);
    expect(first.failed.map((r) => r.gate)).toEqual(['b']);
    expect(first.recovered).toEqual([]);
    const again = gateTransitions(new Set(['b']), [reading('a', 'pass'), reading('b', 'fail')]);
    expect(again).toEqual({ failed: [], recovered: [] });
  });
  it('a failing gate that passes again has recovered; one reading of several failing counts as failing', () => {
    expect(gateTransitions(new Set(['b']), [reading('b', 'pass')])).toEqual({ failed: [], recovered: ['b'] });
    const mixed = gateTransitions(new Set(), [reading('c', 'fail', 'x'), reading('c', 'pass')]);
    expect(mixed.failed.map((r) => r.value)).toEqual(['x']);
  });
  it('a reading in words names gate, kind, value, threshold and detail', () => {
    expect(describeGateReading({ ...reading('api-5xx', 'fail', 'ALARM'), detail: 'threshold crossed' })).toBe(
      'api-5xx (alarm) read ALARM [not ALARM]: threshold crossed',
    );
  });
});

describe('postSwitchWatch input', () => {
  it('defaults to an hour, checked every minute', () => {
    expect(postSwitchWatch.parse({ alarms: ['x'] })).toMatchObject({ for: '1h', interval: '1m' });
  });
  it('refuses a watch without gates and one that checks more than 360 times', () => {
    expect(postSwitchWatch.safeParse({}).error?.issues[0]).toMatchObject({ path: ['alarms'] });
    expect(postSwitchWatch.safeParse({ for: '2h', interval: '10s', alarms: ['x'] }).error?.issues[0]).toMatchObject({
      path: ['interval'],
    });
  });
});
