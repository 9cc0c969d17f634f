// Gate checks for progressive traffic shifting: CloudWatch alarms, metric thresholds, the green app's health and
// (behind an ALB) the green targets' health. Every reading is returned with its value, threshold and verdict.
import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import type { MetricGate } from '../../api/runbooks/blue-green';
import type { HealthCheck } from '../../api/common';
import { parseDuration } from '../../api/duration';
import type { GateReading } from '../../api/status';
import { describeHealth, verifyHealth } from './health';
import { aws } from './proxies';

export interface Gates {
  region: string;
  alarms: string[];
  metrics: MetricGate[];
  greenHealth?: HealthCheck | undefined;
  /** ALB routers: the green target group to check. */
  greenTargetGroupArn?: string | undefined;
}

const breaches = (value: number, op: MetricGate['comparison'], threshold: number) =>
  op === '>'
    ? value > threshold
    : op === '>='
      ? value >= threshold
      : op === '<'
        ? value < threshold
        : value <= threshold;

/** Check every gate once; returns all readings (the caller decides what a failing one means). */
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
    const r = await aws.getMetricValue({
      region: gates.region,
      namespace: m.namespace,
      metricName: m.metricName,
      dimensions: m.dimensions,
      stat: m.stat,
      periodSeconds,
      windowSeconds: Math.max(periodSeconds, Math.round(windowMs / 1000)),
    });
    const fail = r.value === null ? m.failWhenMissing : breaches(r.value, m.comparison, m.threshold);
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
  return readings;
}

export function describeReading(r: GateReading): string {
  return `${r.gate} (${r.kind}) read ${r.value ?? 'nothing'}${r.threshold ? ` [${r.threshold}]` : ''} at ${r.step}% green${r.detail ? `: ${r.detail}` : ''}`;
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
