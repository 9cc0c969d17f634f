// Metrics end to end: a real worker process serves RUNBOOKS_METRICS_ADDRESS (worker/telemetry.ts), a real Prometheus
// (Debian's package: scripts/ensure-tools.ts installs it) scrapes it every second, one emergencyScale run goes
// through approval to the end, and Prometheus' query API must show the SDK's series and the runbooks' series with
// their labels — what a team's dashboard and alert rules read (deploy/observability).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveSignal } from '../../api/definitions';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { freePort } from '../../scripts/lib/processes';
import { prometheusBins, startPrometheus, type RunningPrometheus } from '../../scripts/lib/prometheus';
import { RUNBOOK_METRICS, stepLabel } from '../../workflows/lib/metrics';
import { SCAN_METRICS } from '../../worker/telemetry';
import { makeService } from '../helpers/env/aws-fixtures';
import { closeConnections, testClients, uid, waitForStatus } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

/** Poll `fn` until it returns something truthy (or fail after `ms`, saying what was awaited). */
async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let app: DemoApp;
let worker: WorkerProcess | undefined;
let prometheus: RunningPrometheus | undefined;
let metricsAddress: string;
const taskQueue = uid('metrics-tq');

beforeAll(async () => {
  const bins = prometheusBins();
  if (!bins.prometheus)
    throw new Error('prometheus not installed: run `npm run ensure-tools` (or apt-get install prometheus)');
  app = await startDemoApp('metrics-app');
  metricsAddress = `127.0.0.1:${await freePort()}`;
  worker = await startWorkerProcess(taskQueue, {
    env: { RUNBOOKS_METRICS_ADDRESS: metricsAddress, RUNBOOKS_METRICS_SCAN_INTERVAL: '1s' },
  });
  prometheus = await startPrometheus({ bin: bins.prometheus, port: await freePort(), targets: [metricsAddress] });
});

afterAll(async () => {
  await prometheus?.stop();
  await worker?.kill();
  await app?.close();
  await closeConnections();
});

describe('worker metrics', () => {
  it('serves /healthz and /readyz on the metrics address, and 404 elsewhere', async () => {
    const healthz = await fetch(`http://${metricsAddress}/healthz`);
    expect(healthz.status).toBe(200);
    // Ready once the worker polls (worker.run() has started).
    await eventually('/readyz 200', async () => (await fetch(`http://${metricsAddress}/readyz`)).status === 200);
    expect((await fetch(`http://${metricsAddress}/nothing`)).status).toBe(404);
  });

  it('Prometheus scrapes the SDK series and the runbook series of a run', async () => {
    const { client, aws } = await testClients();
    const svc = await makeService(aws, { desiredCount: 1 });
    const workflowId = uid('metrics-es');
    const handle = await client.workflow.start('emergencyScale', {
      taskQueue,
      workflowId,
      args: [
        {
          region: svc.region,
          cluster: svc.cluster,
          service: svc.service,
          desiredCount: 2,
          reason: 'metrics test',
          initiatedBy: 'alice',
          approval: { required: true, timeout: '10m' },
          health: { url: app.healthUrl, consecutive: 1, interval: '100ms', timeout: '10s' },
        },
      ],
    });
    await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
    const prom = prometheus!;
    // While it waits: the visibility scan's gauges, as the alert rules read them.
    const open = await eventually('the open run waiting for approval', async () => {
      const r = await prom.query(
        `${SCAN_METRICS.openRuns}{runbook="emergencyScale",state="awaiting-approval",task_queue="${taskQueue}"} > 0`,
      );
      return r[0];
    });
    expect(Number(open.value[1])).toBeGreaterThanOrEqual(1);
    const ratio = await eventually('the approval wait ratio', async () => {
      const r = await prom.query(`${SCAN_METRICS.approvalWaitRatio}{runbook="emergencyScale"} > 0`);
      return r[0];
    });
    expect(Number(ratio.value[1])).toBeLessThan(0.5); // 10 minutes' timeout: far from half of it

    await handle.signal(approveSignal, { by: 'bob' });
    const report = (await handle.result()) as RunbookReport;
    expect(report.outcome).toBe('succeeded');

    const finished = await eventually('runs finished by runbook and outcome', async () => {
      const r = await prom.query(`${RUNBOOK_METRICS.runsFinished}{runbook="emergencyScale",outcome="succeeded"}`);
      return r[0];
    });
    expect(Number(finished.value[1])).toBeGreaterThanOrEqual(1);
    // The workflow metric meter adds the SDK's tags in its own spelling (taskQueue, workflowType).
    expect(finished.metric.taskQueue).toBe(taskQueue);
    const started = await prom.query(
      `${RUNBOOK_METRICS.runsStarted}{runbook="emergencyScale",taskQueue="${taskQueue}"}`,
    );
    expect(started.map((s) => Number(s.value[1]))).toEqual([1]);

    // A step's duration, by runbook and step (the step names of the run's timeline).
    const steps = await eventually('step durations', async () => {
      const r = await prom.query(
        `${RUNBOOK_METRICS.stepDuration}_count{runbook="emergencyScale",taskQueue="${taskQueue}"}`,
      );
      return r.length ? r : undefined;
    });
    const names = steps.map((s) => s.metric.step);
    expect(names).toContain('Acquire resource');
    expect(names.length).toBeGreaterThanOrEqual(3);
    const timeline = report.timeline.map((t) => stepLabel(t.name));
    for (const name of names) expect(timeline).toContain(name);
    const waited = await prom.query(
      `${RUNBOOK_METRICS.approvalWait}_count{runbook="emergencyScale",decision="approved",taskQueue="${taskQueue}"}`,
    );
    expect(waited.map((w) => Number(w.value[1]))).toEqual([1]);

    // The SDK's own series from the same endpoint.
    const completed = await eventually('temporal_workflow_completed', async () => {
      const r = await prom.query(
        `temporal_workflow_completed{workflow_type="emergencyScale",task_queue="${taskQueue}"}`,
      );
      return r[0];
    });
    expect(Number(completed.value[1])).toBeGreaterThanOrEqual(1);
    const latency = await prom.query(`temporal_activity_execution_latency_count{task_queue="${taskQueue}"}`);
    expect(latency.length).toBeGreaterThan(0);

    // Once the run ended, the scan sets its gauges back to 0 (a gauge keeps its last value otherwise).
    await eventually('the approval gauge back to 0', async () => {
      const r = await prom.query(`${SCAN_METRICS.approvalWaitRatio}{runbook="emergencyScale"}`);
      return r.length > 0 && r.every((s) => Number(s.value[1]) === 0);
    });
  });
});
