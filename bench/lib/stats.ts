// Median, min and max over rounds; ratios are taken per round, then summarised the same way.
import type { Stat } from './types';

export function stat(values: number[]): Stat {
  if (!values.length) throw new Error('stat of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: values.length };
}

/** subject[i] / reference[i] for each round i, summarised. */
export function ratioStat(subject: number[], reference: number[]): Stat {
  if (subject.length !== reference.length) throw new Error('ratio of rounds that do not pair up');
  return stat(subject.map((s, i) => s / reference[i]!));
}

/** The nearest-rank percentile (p in 0–100) of `values`. */
export function percentile(values: number[], p: number): number {
  if (!values.length) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** A number with sensible precision for a table: 3 significant digits, no exponent. */
export function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 100) return String(Math.round(n));
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

export function fmtStat(s: Stat, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (s.min === s.max) return `${fmtNumber(s.median)}${u}`;
  return `${fmtNumber(s.median)}${u} (${fmtNumber(s.min)}–${fmtNumber(s.max)})`;
}

export function fmtRatio(s: Stat): string {
  if (s.min === s.max) return `${fmtNumber(s.median)}×`;
  return `${fmtNumber(s.median)}× (${fmtNumber(s.min)}–${fmtNumber(s.max)})`;
}

/** Milliseconds since `start` (performance.now()). */
export const since = (start: number) => performance.now() - start;
