// The watch after a switch (seed 001 after a failover: "monitor error rates for 1 hour"): for a while after the run
// has done its work, its gates are checked every `interval`; a gate that fails is reported (a warning in the report,
// its readings in `status`) and alerted through the notifications. Nothing is undone: a failover or a restore that
// went live is not reversed by a graph — the people on call decide, with the readings in front of them.
import { z } from 'zod';
import { durationString, parseDuration } from './duration';
import { gateSetShape } from './gates';

/** Most checks one watch makes (each is a few activities in the history). */
export const MAX_WATCH_CHECKS = 360;

export const postSwitchWatch = z
  .object({
    for: durationString({ min: '1s', max: '24h' }).default('1h').describe('How long the gates are watched'),
    interval: durationString({ min: '1s', max: '30m' }).default('1m').describe('How often they are checked'),
    ...gateSetShape,
  })
  .strict()
  .superRefine((w, ctx) => {
    const n = w.alarms.length + w.metrics.length + w.burnRates.length + w.httpChecks.length;
    if (n === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarms'],
        message: 'a watch needs at least one gate (alarms, metrics, burnRates or httpChecks)',
      });
    }
    try {
      const checks = parseDuration(w.for) / parseDuration(w.interval);
      if (checks > MAX_WATCH_CHECKS) {
        ctx.addIssue({
          code: 'custom',
          path: ['interval'],
          message: `checking every ${w.interval} for ${w.for} is more than ${MAX_WATCH_CHECKS} checks; check less often`,
        });
      }
    } catch {
      /* malformed durations are reported by their own fields */
    }
  })
  .describe('After the switch: watch these gates for a while; a failing gate is reported and alerted (nothing undone)');
export type PostSwitchWatch = z.output<typeof postSwitchWatch>;

/** What a watch saw: every failing gate with its first failing reading. */
export interface WatchSummary {
  for: string;
  checks: number;
  /** `clean` when every check read every gate and none failed. */
  verdict: 'clean' | 'gates failed' | 'gates unreadable at times';
  failures: { gate: string; firstFailedAt: string; reading: string }[];
  /** Checks that could not read the gates (e.g. CloudWatch refused or out of reach after the retries). */
  unreadableChecks?: number;
}
