// Durations as people write them: parse, format, and the zod field with bounds.
import { describe, expect, it } from 'vitest';
import { compactUtc, durationString, formatDuration, parseDuration } from '../../api/duration';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1m5s', 65_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('reads "ms" as milliseconds, not minutes followed by seconds', () => {
    expect(parseDuration('5ms')).toBe(5);
    expect(parseDuration('5m5s')).toBe(305_000);
  });

  it.each(['', '5', '5 m', '1.5h', '-5s', 'soon', '5M', '1h 30m', '5min', 'h1'])(
    'refuses %j with examples of what it accepts',
    (text) => {
      expect(() => parseDuration(text)).toThrow(`"${text}" is not a duration (examples: "30s", "5m", "1h30m", "2d")`);
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [95_000, '1m35s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [90_061_000, '1d1h1m1s'],
    [1_499, '1s'],
    [1_500, '2s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips whole seconds through parseDuration', () => {
    for (const ms of [1_000, 61_000, 3_661_000, 86_400_000, 180_000_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});

describe('durationString', () => {
  const bounded = durationString({ min: '1s', max: '1h' });
  const issues = (value: unknown) => {
    const parsed = bounded.safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((i) => i.message);
  };

  it('accepts values within the bounds, inclusive', () => {
    expect(issues('1s')).toEqual([]);
    expect(issues('30m')).toEqual([]);
    expect(issues('1h')).toEqual([]);
    expect(issues('59m60s')).toEqual([]);
  });

  it('refuses values below min or above max, naming the bound', () => {
    expect(issues('999ms')).toEqual(['expected at least 1s']);
    expect(issues('1h1s')).toEqual(['expected at most 1h']);
    expect(issues('2d')).toEqual(['expected at most 1h']);
  });

  it('has no bounds when none are given', () => {
    expect(durationString().safeParse('0ms').success).toBe(true);
    expect(durationString().safeParse('3650d').success).toBe(true);
  });

  it('refuses a non-string', () => {
    expect(bounded.safeParse(30).success).toBe(false);
  });

  it('refuses a malformed duration with an issue instead of throwing', () => {
    expect(issues('soon')).toEqual(['expected a duration such as "30s", "5m", "1h30m" or "2d"']);
  });
});

describe('compactUtc (the time in generated resource names)', () => {
  it('to the minute or the second, digits only, in UTC', () => {
    const at = new Date('2026-03-07T04:05:06.789Z');
    expect(compactUtc(at, 'minute')).toBe('202603070405');
    expect(compactUtc(at, 'second')).toBe('20260307040506');
  });
});
