// Durations as people write them in runbook inputs ("90s", "5m", "1h30m", "2d"), parsed the same way
// in the client, the workflow sandbox and tests.
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART_RE = /(\d+)(ms|s|m|h|d)/g;

/** Milliseconds in a duration string such as "1h30m"; throws on anything else. */
export function parseDuration(text: string): number {
  if (!DURATION_RE.test(text)) {
    throw new Error(`"${text}" is not a duration (examples: "30s", "5m", "1h30m", "2d")`);
  }
  let total = 0;
  for (const match of text.matchAll(PART_RE)) {
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  return total;
}

/** Short human form of a millisecond count: 95_000 → "1m35s". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}

/** A zod string that must be a duration between `min` and `max` (both duration strings). */
export function durationString(opts: { min?: string; max?: string } = {}) {
  const min = opts.min ? parseDuration(opts.min) : 0;
  const max = opts.max ? parseDuration(opts.max) : Number.POSITIVE_INFINITY;
  return (
    z
      .string()
      .regex(DURATION_RE, { message: 'expected a duration such as "30s", "5m", "1h30m" or "2d"' })
      // The range checks run even after the format check failed (zod reports every issue): skip malformed text.
      .refine((v) => !DURATION_RE.test(v) || parseDuration(v) >= min, {
        message: `expected at least ${opts.min ?? ''}`,
      })
      .refine((v) => !DURATION_RE.test(v) || parseDuration(v) <= max, { message: `expected at most ${opts.max ?? ''}` })
  );
}

/**
 * A UTC time as digits for generated resource names (RDS ids allow no ":" or "."): `yyyymmddhhmm`, or
 * `yyyymmddhhmmss` to the second. The one format every generated name uses.
 */
export function compactUtc(at: Date, to: 'minute' | 'second'): string {
  return at
    .toISOString()
    .replace(/[-:T]/g, '')
    .slice(0, to === 'minute' ? 12 : 14);
}
