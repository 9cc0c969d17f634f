// deploy/observability against what the worker really exports: the alert rules pass `promtool check rules` and do
// what their unit tests (alerts.test.yml) say; every expression of the dashboard and the rules names a series the
// worker exports (the runbooks' own, the visibility gauges, the SDK's); the dashboard shows every runbook series.
// Also the pure parts of worker/telemetry.ts and workflows/lib/metrics.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { prometheusBins } from '../../scripts/lib/prometheus';
import { metricsAddress, scanInterval, SCAN_METRICS, SDK_METRICS, summariseOpenRuns } from '../../worker/telemetry';
import { failedOutcome, RUNBOOK_HISTOGRAM_BUCKETS, RUNBOOK_METRICS, stepLabel } from '../../workflows/lib/metrics';

const root = path.resolve(__dirname, '../..');
const dir = path.join(root, 'deploy/observability');
const dashboard = JSON.parse(readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8')) as {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
};
const rules = parse(readFileSync(path.join(dir, 'alerts.yml'), 'utf8')) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};

const histograms = new Set<string>([
  ...Object.keys(RUNBOOK_HISTOGRAM_BUCKETS),
  ...SDK_METRICS.filter((m) => m.endsWith('_latency')),
]);
const exported = new Set<string>([...Object.values(RUNBOOK_METRICS), ...Object.values(SCAN_METRICS), ...SDK_METRICS]);

/** The series names an expression reads (`_bucket`/`_sum`/`_count` only of a histogram). */
function seriesOf(expr: string): string[] {
  return [...expr.matchAll(/\b(?:runbooks|temporal)_[a-z_]+\b/g)].map((m) => m[0]);
}
function unknownSeries(expr: string): string[] {
  return seriesOf(expr).filter((name) => {
    if (exported.has(name)) return false;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return !(base !== name && histograms.has(base));
  });
}

const dashboardExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);
const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: r.expr })));

describe('deploy/observability', () => {
  it('every dashboard and alert expression reads series the worker exports', () => {
    expect(dashboardExprs.length).toBeGreaterThan(15);
    for (const { panel, expr } of dashboardExprs) expect(unknownSeries(expr), `${panel}: ${expr}`).toEqual([]);
    for (const { alert, expr } of ruleExprs) expect(unknownSeries(expr), `${alert}: ${expr}`).toEqual([]);
    // And the check itself catches a misspelt name.
    expect(unknownSeries('rate(runbooks_runs_finished[5m]) + temporal_workflow_complete')).toEqual([
      'runbooks_runs_finished',
      'temporal_workflow_complete',
    ]);
  });

  it('the dashboard shows every runbook series, the visibility gauges and worker slots and latencies', () => {
    const read = new Set(
      dashboardExprs.flatMap(({ expr }) => seriesOf(expr).map((n) => n.replace(/_(bucket|sum|count)$/, ''))),
    );
    for (const name of [...Object.values(RUNBOOK_METRICS), ...Object.values(SCAN_METRICS)])
      expect(read).toContain(name);
    for (const name of [
      'temporal_worker_task_slots_used',
      'temporal_workflow_task_execution_latency',
      'temporal_activity_execution_latency',
    ])
      expect(read).toContain(name);
  });

  it('the SDK series it reads are names Temporal Core emits (found in the native module)', () => {
    const releases = path.join(root, 'node_modules/@temporalio/core-bridge/releases');
    const native = readdirSync(releases)
      .map((d) => path.join(releases, d, 'index.node'))
      .find((f) => existsSync(f));
    expect(native).toBeDefined();
    const binary = readFileSync(native!);
    for (const name of SDK_METRICS) expect(binary.includes(name.replace(/^temporal_/, '')), name).toBe(true);
  });

  it('the alert rules pass promtool check rules and their unit tests', () => {
    const { promtool } = prometheusBins();
    if (!promtool)
      throw new Error('promtool not installed: run `npm run ensure-tools` (or apt-get install prometheus)');
    const check = spawnSync(promtool, ['check', 'rules', 'alerts.yml'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain(`SUCCESS: ${ruleExprs.length} rules found`);
    const test = spawnSync(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).toBe(0);
    expect(ruleExprs.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['RunbookNeedsOperator', 'RunbookApprovalPastHalfTimeout', 'RunbookWorkflowTaskFailures']),
    );
  });
});

describe('worker telemetry configuration', () => {
  it('RUNBOOKS_METRICS_ADDRESS: default, host:port, IPv6, off, and a clear error otherwise', () => {
    expect(metricsAddress({})).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(metricsAddress({ RUNBOOKS_METRICS_ADDRESS: '0.0.0.0:9000' })).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(metricsAddress({ RUNBOOKS_METRICS_ADDRESS: '[::1]:9464' })).toEqual({ host: '::1', port: 9464 });
    expect(metricsAddress({ RUNBOOKS_METRICS_ADDRESS: 'off' })).toBeUndefined();
    for (const bad of ['9464', 'localhost', 'host:99999', 'http://127.0.0.1:9464']) {
      expect(() => metricsAddress({ RUNBOOKS_METRICS_ADDRESS: bad })).toThrow(
        /RUNBOOKS_METRICS_ADDRESS must be host:port/,
      );
    }
  });

  it('RUNBOOKS_METRICS_SCAN_INTERVAL: 30s by default, durations, off', () => {
    expect(scanInterval({})).toBe(30_000);
    expect(scanInterval({ RUNBOOKS_METRICS_SCAN_INTERVAL: '1s' })).toBe(1000);
    expect(scanInterval({ RUNBOOKS_METRICS_SCAN_INTERVAL: '2m' })).toBe(120_000);
    expect(scanInterval({ RUNBOOKS_METRICS_SCAN_INTERVAL: 'off' })).toBeUndefined();
    expect(() => scanInterval({ RUNBOOKS_METRICS_SCAN_INTERVAL: 'soon' })).toThrow(/RUNBOOKS_METRICS_SCAN_INTERVAL/);
  });

  it('open runs are counted by runbook and state; the approval gauge is the longest share of a timeout waited', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    const { open, approvalRatio } = summariseOpenRuns(
      [
        {
          runbook: 'ecsDeploy',
          state: 'awaiting-approval',
          approval: { openedAt: '2026-01-01T00:30:00Z', deadline: '2026-01-01T01:30:00Z' },
        },
        {
          runbook: 'ecsDeploy',
          state: 'awaiting-approval',
          approval: { openedAt: '2026-01-01T00:50:00Z', deadline: '2026-01-01T01:50:00Z' },
        },
        { runbook: 'regionalFailover', state: 'needs-operator' },
        { runbook: 'regionalFailover', state: 'running' },
      ],
      now,
    );
    expect([...open.values()]).toEqual([
      { runbook: 'ecsDeploy', state: 'awaiting-approval', count: 2 },
      { runbook: 'regionalFailover', state: 'needs-operator', count: 1 },
      { runbook: 'regionalFailover', state: 'running', count: 1 },
    ]);
    expect(Object.fromEntries(approvalRatio)).toEqual({ ecsDeploy: 0.5 });
  });
});

describe('runbook metric labels', () => {
  it('a step is one series whatever its numbers or operator retries', () => {
    expect(stepLabel('Shift 25% to green')).toBe('Shift N% to green');
    expect(stepLabel('Promote the replica (operator retry 2)')).toBe('Promote the replica');
    expect(stepLabel('Acquire resource')).toBe('Acquire resource');
  });

  it('a failed run is counted under what ended it', () => {
    expect(failedOutcome(true, 'ApprovalRejected')).toBe('cancelled');
    expect(failedOutcome(false, 'ApprovalRejected')).toBe('rejected');
    expect(failedOutcome(false, 'ApprovalTimedOut')).toBe('rejected');
    expect(failedOutcome(false, 'Abandoned')).toBe('abandoned');
    expect(failedOutcome(false, 'ResourceBusy')).toBe('failed');
  });
});
