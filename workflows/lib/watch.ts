// The post-switch watch (api/watch.ts): the run's gates checked every `interval` for `for`, each gate's first
// failure (and its recovery) reported as a warning and alerted through the notifications, the readings kept in
// `status`. The watch reports; it undoes nothing.
import { isCancellation, sleep } from '@temporalio/workflow';
import { formatDuration, parseDuration } from '../../api/duration';
import type { GateReading } from '../../api/status';
import type { PostSwitchWatch, WatchSummary } from '../../api/watch';
import { errorMessage } from './errors';
import { checkGates, describeGateReading } from './gates';
import type { Tracker } from './tracker';

/** Status keeps at most this many readings (failing ones first); all are in the history. */
const MAX_READINGS = 200;

/**
 * Which gates start failing and which recover between two rounds of readings (pure: unit-tested). A gate is
 * failing while its newest reading fails.
 */
export function gateTransitions(
  failing: ReadonlySet<string>,
  round: GateReading[],
): { failed: GateReading[]; recovered: string[] } {
  const latest = new Map<string, GateReading>();
  for (const r of round) {
    const seen = latest.get(r.gate);
    if (!seen || r.verdict === 'fail') latest.set(r.gate, r);
  }
  const failed = [...latest.values()].filter((r) => r.verdict === 'fail' && !failing.has(r.gate));
  const recovered = [...failing].filter((g) => latest.get(g)?.verdict === 'pass');
  return { failed, recovered };
}

export interface WatchContext {
  step<T>(name: string, fn: () => Promise<T>, opts?: { details?: (r: T) => Record<string, unknown> }): Promise<T>;
  warn(message: string): void;
  /** Sent once per key (the frame's notifier). */
  alert(key: string, text: string): void;
  tracker: Tracker;
}

/**
 * Watch `watch`'s gates (read in `region`) after `what` (e.g. "the failover"): one step, `Watch … for 1h`, whose
 * details say what failed. A failing gate is a warning (the run ends "succeeded with warnings") and an alert.
 */
export async function watchAfterSwitch(
  ctx: WatchContext,
  watch: PostSwitchWatch,
  region: string,
  what: string,
): Promise<WatchSummary> {
  const forMs = parseDuration(watch.for);
  const intervalMs = parseDuration(watch.interval);
  const gates = {
    region,
    alarms: watch.alarms,
    metrics: watch.metrics,
    burnRates: watch.burnRates,
    httpChecks: watch.httpChecks,
  };
  const readings: GateReading[] = (ctx.tracker.status.readings ??= []);
  const failing = new Set<string>();
  const failures: WatchSummary['failures'] = [];
  const names = [
    ...watch.alarms,
    ...watch.metrics.map((m) => m.name),
    ...watch.burnRates.map((b) => b.name),
    ...watch.httpChecks.map((h) => h.name),
  ];
  return ctx.step(
    `Watch ${names.join(', ')} for ${formatDuration(forMs)} after ${what}`,
    async () => {
      const started = Date.now();
      let checks = 0;
      let unreadable = 0;
      for (;;) {
        let round: GateReading[];
        try {
          round = await checkGates(gates, 100, Math.max(intervalMs, 60_000));
        } catch (err) {
          // The change is done: a watch that cannot read its gates (CloudWatch refused or out of reach after the
          // retries) says so and goes on watching; it never fails the run it follows.
          if (isCancellation(err)) throw err;
          checks++;
          unreadable++;
          const after = formatDuration(Date.now() - started);
          if (unreadable === 1) {
            ctx.warn(`watch after ${what}: the gates could not be read ${after} in: ${errorMessage(err)}`);
            ctx.alert(
              'watch-unreadable',
              `⚠️ WATCH: the gates could not be read ${after} after ${what}: ${errorMessage(err)}. The watch goes on.`,
            );
          }
          if (Date.now() - started + intervalMs > forMs) break;
          await sleep(intervalMs);
          continue;
        }
        checks++;
        readings.push(...round);
        while (readings.length > MAX_READINGS) {
          const i = readings.findIndex((r) => r.verdict === 'pass');
          readings.splice(i < 0 ? 0 : i, 1);
        }
        const { failed, recovered } = gateTransitions(failing, round);
        const after = formatDuration(Date.now() - started);
        for (const r of failed) {
          failing.add(r.gate);
          const text = describeGateReading(r);
          if (!failures.some((f) => f.gate === r.gate))
            failures.push({ gate: r.gate, firstFailedAt: r.at, reading: text });
          ctx.warn(`watch after ${what}: ${r.gate} failed ${after} in: ${text}`);
          ctx.alert(
            `watch-failed:${r.gate}:${checks}`,
            `⚠️ WATCH: ${r.gate} failed ${after} after ${what}: ${text}. Nothing is undone; look at it now.`,
          );
        }
        for (const gate of recovered) {
          failing.delete(gate);
          ctx.alert(`watch-recovered:${gate}:${checks}`, `✅ WATCH: ${gate} passes again, ${after} after ${what}.`);
        }
        ctx.tracker.refresh();
        if (Date.now() - started + intervalMs > forMs) break;
        await sleep(intervalMs);
      }
      return {
        for: watch.for,
        checks,
        verdict: failures.length ? 'gates failed' : unreadable ? 'gates unreadable at times' : 'clean',
        failures,
        ...(unreadable ? { unreadableChecks: unreadable } : {}),
      } satisfies WatchSummary;
    },
    {
      details: (s) => ({
        checks: s.checks,
        verdict: s.verdict,
        ...(s.unreadableChecks ? { unreadableChecks: s.unreadableChecks } : {}),
        ...(s.failures.length ? { failed: s.failures.map((f) => `${f.gate} at ${f.firstFailedAt}`).join('; ') } : {}),
      }),
    },
  );
}
