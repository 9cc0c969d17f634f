// Gate checks for progressive traffic shifting and post-switch watches: CloudWatch alarms, metric gates (newest
// datapoint, or a window counted as CloudWatch alarms count it), SLO burn rates, HTTP checks that read JSON, and for
// blue-green the green app's health and (behind an ALB) the green targets' health. Every reading is returned with its
// value, threshold and verdict. The judging itself is pure (api/gate-eval.ts).
import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { BurnRateGate, HttpCheck, MetricGate, MissingDataPolicy } from '../../api/gates';
import type { HealthCheck } from '../../api/common';
import { parseDuration } from '../../api/duration';
import { breaches, judgeBurnRate, judgeWindow } from '../../api/gate-eval';
import type { GateReading } from '../../api/status';
import { describeHealth, verifyHealth } from './health';
import { gateEvaluated } from './metrics';
import { aws } from './proxies';

export interface Gates {
  region: string;
  alarms: string[];
  metrics: MetricGate[];
  burnRates?: BurnRateGate[] | undefined;
  httpChecks?: HttpCheck[] | undefined;
  /** Blue-green: the green app's health URL. */
  greenHealth?: HealthCheck | undefined;
  /** ALB routers: the green target group to check. */
  greenTargetGroupArn?: string | undefined;
}

/** Does checking `gates` read anything at all? */
export const hasGates = (g: Gates) =>
  !!(
    g.alarms.length ||
    g.metrics.length ||
    g.burnRates?.length ||
    g.httpChecks?.length ||
    g.greenHealth ||
    g.greenTargetGroupArn
  );

/** The missing-data policy a metric gate follows (failWhenMissing is its older form). */
export const missingDataOf = (m: MetricGate): MissingDataPolicy =>
  m.missingData ?? (m.failWhenMissing ? 'breaching' : 'missing');

/** A window gate (for / datapoints) and the periods it counts; undefined for a newest-datapoint gate. */
export function windowOf(
  m: MetricGate,
): { periodMs: number; breaching: number; outOf: number; sustained: boolean } | undefined {
  const periodMs = parseDuration(m.period);
  if (m.for !== undefined) {
    const n = Math.max(1, Math.round(parseDuration(m.for) / periodMs));
    return { periodMs, breaching: n, outOf: n, sustained: true };
  }
  if (m.datapoints) return { periodMs, ...m.datapoints, sustained: false };
  return undefined;
}

/**
 * Check every gate once; returns all readings (the caller decides what a failing one means). `step` is the traffic
 * step being watched (blue-green) or any number the caller reports readings under (e.g. 100 after a switch).
 */
export async function checkGates(gates: Gates, step: number, windowMs: number): Promise<GateReading[]> {
  const readings: GateReading[] = [];
  const at = () => new Date().toISOString();
  if (gates.alarms.length) {
    const { alarms, missing } = await aws.describeAlarms({ region: gates.region, names: gates.alarms });
    for (const a of alarms) {
      readings.push({
        at: at(),
        step,
        gate: a.name,
        kind: 'alarm',
        value: a.state,
        threshold: 'not ALARM',
        verdict: a.state === 'ALARM' ? 'fail' : 'pass',
        ...(a.state === 'ALARM' && a.reason ? { detail: a.reason } : {}),
      });
    }
    for (const name of missing) {
      readings.push({
        at: at(),
        step,
        gate: name,
        kind: 'alarm',
        value: null,
        threshold: 'exists',
        verdict: 'fail',
        detail: 'alarm not found',
      });
    }
  }
  for (const m of gates.metrics) {
    const periodSeconds = Math.max(1, Math.round(parseDuration(m.period) / 1000));
    const win = windowOf(m);
    if (win) {
      // Every period of the window, judged as a CloudWatch alarm counts "datapoints to alarm".
      const r = await aws.getMetricSeries({
        region: gates.region,
        queries: [
          { id: 'm', namespace: m.namespace, metricName: m.metricName, dimensions: m.dimensions, stat: m.stat },
        ],
        periodSeconds,
        periods: win.outOf,
      });
      const j = judgeWindow(r.series.m ?? [], {
        comparison: m.comparison,
        threshold: m.threshold,
        breaching: win.breaching,
        outOf: win.outOf,
        missingData: missingDataOf(m),
        periodMs: win.periodMs,
        sustained: win.sustained,
      });
      readings.push({
        at: at(),
        step,
        gate: m.name,
        kind: 'metric',
        value: j.text,
        threshold: win.sustained
          ? `fails when ${m.stat} ${m.comparison} ${m.threshold} for ${m.for}`
          : `fails when ${m.stat} ${m.comparison} ${m.threshold} in ${win.breaching} of ${win.outOf} periods`,
        verdict: j.verdict,
        ...(j.verdict === 'fail' ? { detail: `periods up to ${r.end}` } : {}),
      });
      continue;
    }
    const r = await aws.getMetricValue({
      region: gates.region,
      namespace: m.namespace,
      metricName: m.metricName,
      dimensions: m.dimensions,
      stat: m.stat,
      periodSeconds,
      windowSeconds: Math.max(periodSeconds, Math.round(windowMs / 1000)),
    });
    const fail = r.value === null ? missingDataOf(m) === 'breaching' : breaches(r.value, m.comparison, m.threshold);
    readings.push({
      at: at(),
      step,
      gate: m.name,
      kind: 'metric',
      value: r.value,
      threshold: `fails when ${m.stat} ${m.comparison} ${m.threshold}`,
      verdict: fail ? 'fail' : 'pass',
      ...(r.value === null ? { detail: 'no datapoints in the window' } : {}),
    });
  }
  for (const b of gates.burnRates ?? []) {
    const periodMs = parseDuration(b.period);
    const longPeriods = Math.round(parseDuration(b.longWindow) / periodMs);
    const shortPeriods = Math.round(parseDuration(b.shortWindow) / periodMs);
    const r = await aws.getMetricSeries({
      region: gates.region,
      queries: [
        { id: 'errors', ...b.errors },
        { id: 'requests', ...b.requests },
      ],
      periodSeconds: Math.round(periodMs / 1000),
      periods: longPeriods,
    });
    const j = judgeBurnRate(r.series.errors ?? [], r.series.requests ?? [], {
      slo: b.slo,
      threshold: b.threshold,
      periodMs,
      longPeriods,
      shortPeriods,
    });
    readings.push({
      at: at(),
      step,
      gate: b.name,
      kind: 'burn-rate',
      value: j.text,
      threshold: `fails when both windows burn > ${b.threshold}x (SLO ${b.slo} %)`,
      verdict: j.verdict,
    });
  }
  for (const h of gates.httpChecks ?? []) {
    const r = await aws.runHttpCheck({ region: gates.region, check: h });
    readings.push({
      at: at(),
      step,
      gate: h.name,
      kind: 'http',
      value: r.status ?? r.error ?? null,
      threshold: [
        `${h.method} ${h.expectStatus}`,
        ...h.json.map((a) => `${a.path} ${a.op} ${JSON.stringify(a.value)}`),
      ].join(', '),
      verdict: r.pass ? 'pass' : 'fail',
      detail: r.summary,
    });
  }
  if (gates.greenHealth) {
    const h = await verifyHealth(gates.greenHealth);
    readings.push({
      at: at(),
      step,
      gate: 'green health',
      kind: 'health',
      value: h.lastStatus ?? h.lastError ?? null,
      threshold: `${gates.greenHealth.consecutive} consecutive ${gates.greenHealth.expectStatus}`,
      verdict: h.healthy ? 'pass' : 'fail',
      detail: describeHealth(h),
    });
  }
  if (gates.greenTargetGroupArn) {
    const t = await aws.getTargetHealth({ region: gates.region, targetGroupArn: gates.greenTargetGroupArn });
    const unhealthy = t.targets.filter((x) => x.state !== 'healthy');
    const none = t.total === 0;
    readings.push({
      at: at(),
      step,
      gate: 'green targets',
      kind: 'target-health',
      value: `${t.healthy}/${t.total} healthy`,
      threshold: 'all registered targets healthy',
      verdict: unhealthy.length || none ? 'fail' : 'pass',
      ...(none
        ? { detail: 'no targets registered: green would answer 503' }
        : unhealthy.length
          ? { detail: unhealthy.map((x) => `${x.id} ${x.state}${x.reason ? ` (${x.reason})` : ''}`).join(', ') }
          : {}),
    });
  }
  for (const r of readings) gateEvaluated(r.kind, r.verdict);
  return readings;
}

/** A rollout's reading in words, with the traffic step it was taken at. */
export function describeReading(r: GateReading): string {
  return `${r.gate} (${r.kind}) read ${r.value ?? 'nothing'}${r.threshold ? ` [${r.threshold}]` : ''} at ${r.step}% green${r.detail ? `: ${r.detail}` : ''}`;
}

/** A reading in words where there is no traffic step (a deployment's gates, a watch after a switch). */
export function describeGateReading(r: GateReading): string {
  return `${r.gate} (${r.kind}) read ${r.value ?? 'nothing'}${r.threshold ? ` [${r.threshold}]` : ''}${r.detail ? `: ${r.detail}` : ''}`;
}

/**
 * An approval that does not stop the watch: while the gate waits for its approvers, `check` runs every `intervalMs`
 * (a failing reading throws: that ends the wait and is what the run fails with), and `interrupted()` (an operator's
 * abort) ends it too. A check that failed while the approval arrived still wins: nothing goes ahead on a failing
 * reading. `approve` is the approval gate, given the interrupt it must honour.
 */
export async function approveWhileWatching(opts: {
  intervalMs: number;
  check: () => Promise<unknown>;
  interrupted: () => Error | undefined;
  approve: (interrupt: () => Error | undefined) => Promise<void>;
}): Promise<void> {
  const watcher = new CancellationScope();
  let failure: Error | undefined;
  const watching = watcher
    .run(async () => {
      for (;;) {
        await sleep(opts.intervalMs);
        await opts.check();
      }
    })
    .catch((err: unknown) => {
      if (!isCancellation(err)) failure = err as Error;
    });
  try {
    await opts.approve(() => failure ?? opts.interrupted());
  } finally {
    watcher.cancel();
    await watching;
  }
  if (failure) throw failure;
}
