// The worker's telemetry: Temporal Core's metrics (the SDK's own series and the runbooks' series from
// workflows/lib/metrics.ts) and the HTTP endpoints on RUNBOOKS_METRICS_ADDRESS (default 127.0.0.1:9464, `off`
// disables): /metrics, /healthz (the process runs) and /readyz (the worker polls).
//
// Why a server of our own in front of Core's exporter: Core's Prometheus exporter binds its own HTTP server and
// answers /metrics only, and the health endpoints must share the metrics address (one port for the kubelet's probes
// and Prometheus' scrapes). So Core exports on a free loopback port picked here, and a small node:http server on
// RUNBOOKS_METRICS_ADDRESS answers the probes and passes /metrics through to it. The server starts before the
// worker connects, so /healthz answers during start-up and /readyz says "not ready" until the worker polls.
//
// Two gauges come from Temporal's visibility rather than from workflow code, because they describe runs that are
// waiting (no workflow task runs while a run waits, so no workflow code could report them, and a worker restart
// would lose a value a workflow had set): every RUNBOOKS_METRICS_SCAN_INTERVAL (default 30s, `off` disables) the
// worker lists the open runs on its task queue and sets `runbooks_open_runs{runbook,state,task_queue}` and
// `runbooks_approval_wait_timeout_ratio{runbook,task_queue}` (the longest-waiting open approval: waited / its
// timeout). Every replica reports the same figures; the alert rules take max().
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { statusQuery } from '../api/definitions';
import { RunbookNameKey, RunbookStatusKey } from '../api/search-attributes';
import { RUNBOOK_HISTOGRAM_BUCKETS } from '../workflows/lib/metrics';

export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';
const DEFAULT_SCAN_MS = 30_000;

/** The gauges the worker sets from visibility (see the header). */
export const SCAN_METRICS = {
  openRuns: 'runbooks_open_runs',
  approvalWaitRatio: 'runbooks_approval_wait_timeout_ratio',
} as const;

/**
 * The SDK's own series (Temporal Core, prefix `temporal_`) that the dashboard and the alert rules read
 * (deploy/observability). Counters have no `_total` suffix (Core's default); histograms export `_bucket`, `_sum`
 * and `_count`, in milliseconds. Failure counters appear once something failed.
 */
export const SDK_METRICS = [
  'temporal_worker_task_slots_used',
  'temporal_worker_task_slots_available',
  'temporal_num_pollers',
  'temporal_sticky_cache_size',
  'temporal_workflow_completed',
  'temporal_workflow_failed',
  'temporal_workflow_task_execution_latency',
  'temporal_workflow_task_schedule_to_start_latency',
  'temporal_workflow_task_execution_failed',
  'temporal_activity_schedule_to_start_latency',
  'temporal_activity_execution_latency',
  'temporal_activity_execution_failed',
  'temporal_request_latency',
] as const;

export interface HostPort {
  host: string;
  port: number;
}

/** RUNBOOKS_METRICS_ADDRESS as host and port; undefined when it is `off`. */
export function metricsAddress(env: NodeJS.ProcessEnv = process.env): HostPort | undefined {
  const raw = env.RUNBOOKS_METRICS_ADDRESS?.trim() || DEFAULT_METRICS_ADDRESS;
  if (raw === 'off') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new Error(
      `RUNBOOKS_METRICS_ADDRESS must be host:port (e.g. ${DEFAULT_METRICS_ADDRESS}, 0.0.0.0:9464 in a container, ` +
        `[::1]:9464) or "off", not "${raw}"`,
    );
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/** RUNBOOKS_METRICS_SCAN_INTERVAL in milliseconds (a number of seconds or "30s"/"2m"); undefined when `off`. */
export function scanInterval(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.RUNBOOKS_METRICS_SCAN_INTERVAL?.trim();
  if (!raw) return DEFAULT_SCAN_MS;
  if (raw === 'off') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw);
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000) : NaN;
  if (!(ms >= 100)) {
    throw new Error(
      `RUNBOOKS_METRICS_SCAN_INTERVAL must be a duration of at least 100ms (e.g. "30s") or "off", not "${raw}"`,
    );
  }
  return ms;
}

/** An open run as visibility (and, while it waits for approval, its status query) shows it. */
export interface OpenRun {
  runbook: string;
  state: string;
  approval?: { openedAt: string; deadline: string };
}

/**
 * The scan's gauges from the open runs: how many per runbook and state, and per runbook the largest share of its
 * approval timeout an open approval has waited (0.5 = half its timeout gone). Pure, so it is unit-tested.
 */
export function summariseOpenRuns(
  runs: OpenRun[],
  nowMs: number,
): { open: Map<string, { runbook: string; state: string; count: number }>; approvalRatio: Map<string, number> } {
  const open = new Map<string, { runbook: string; state: string; count: number }>();
  const approvalRatio = new Map<string, number>();
  for (const r of runs) {
    const key = `${r.runbook}\u0000${r.state}`;
    const entry = open.get(key) ?? { runbook: r.runbook, state: r.state, count: 0 };
    entry.count++;
    open.set(key, entry);
    if (r.approval) {
      const opened = Date.parse(r.approval.openedAt);
      const timeout = Date.parse(r.approval.deadline) - opened;
      if (timeout > 0) {
        const ratio = Math.max(0, (nowMs - opened) / timeout);
        approvalRatio.set(r.runbook, Math.max(approvalRatio.get(r.runbook) ?? 0, ratio));
      }
    }
  }
  return { open, approvalRatio };
}

/** A free loopback port for Core's exporter (Core takes an address, not a listening socket, and 0 would hide it). */
async function freeLoopbackPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export interface Telemetry {
  /** Runtime.install's telemetry options (undefined when metrics are off). */
  readonly options: RuntimeOptions['telemetryOptions'];
  /** Where /metrics is served, for messages; undefined when off. */
  readonly url: string | undefined;
  /** /readyz answers 200 while `probe` says the worker polls (e.g. worker.getState() === 'RUNNING'). */
  readiness(probe: () => boolean): void;
  /** Start the visibility scan (open runs, approval waits) for `taskQueue` through `client`. */
  watchRuns(client: Client, taskQueue: string, warn?: (line: string) => void): void;
  /** Stop the scan and the server. */
  close(): Promise<void>;
}

const OFF: Telemetry = {
  options: undefined,
  url: undefined,
  readiness: () => undefined,
  watchRuns: () => undefined,
  close: async () => undefined,
};

/**
 * Read the configuration, start the endpoints' server and pick Core's exporter port. Call before Runtime.install
 * (which takes `options`); a bad address or one in use stops the worker here, naming RUNBOOKS_METRICS_ADDRESS.
 */
export async function startTelemetry(env: NodeJS.ProcessEnv = process.env): Promise<Telemetry> {
  const address = metricsAddress(env);
  const scanMs = scanInterval(env);
  if (!address) return OFF;
  const corePort = await freeLoopbackPort();
  let ready: () => boolean = () => false;
  const server = createServer((req, res) => route(req, res, corePort, () => ready()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `RUNBOOKS_METRICS_ADDRESS ${address.host}:${address.port}: ${err.code === 'EADDRINUSE' ? 'in use (another worker?)' : err.message}; ` +
            'set RUNBOOKS_METRICS_ADDRESS to a free host:port, or "off"',
        ),
      ),
    );
    server.listen(address.port, address.host, resolve);
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let timer: NodeJS.Timeout | undefined;
  return {
    options: {
      metrics: {
        prometheus: {
          bindAddress: `127.0.0.1:${corePort}`,
          histogramBucketOverrides: RUNBOOK_HISTOGRAM_BUCKETS,
        },
      },
    },
    url: `http://${host}:${bound.port}/metrics`,
    readiness(probe) {
      ready = probe;
    },
    watchRuns(client, taskQueue, warn = (line) => console.error(line)) {
      if (scanMs === undefined || timer) return;
      const scanner = new RunScanner(client, taskQueue);
      // Unref'd: the scan never keeps a stopping worker alive.
      const next = (ms: number) => (timer = setTimeout(tick, ms).unref());
      const tick = () => {
        scanner.scan().then(
          () => next(scanMs),
          (err: unknown) => {
            // Visibility may be briefly unreachable (a restarting server): say so, keep trying.
            warn(`runbooks worker: metrics scan of open runs failed: ${errorText(err)}`);
            next(scanMs);
          },
        );
      };
      next(0);
    },
    async close() {
      ready = () => false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function route(req: IncomingMessage, res: ServerResponse, corePort: number, ready: () => boolean): void {
  const path = (req.url ?? '/').split('?')[0];
  const text = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${body}\n`);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'only GET');
  if (path === '/healthz') return text(200, 'ok');
  if (path === '/readyz') return ready() ? text(200, 'ready') : text(503, 'not ready: the worker is not polling');
  if (path !== '/metrics') return text(404, 'not found: /metrics, /healthz, /readyz');
  const upstream = request({ host: '127.0.0.1', port: corePort, path: '/metrics', method: 'GET' }, (up) => {
    res.writeHead(up.statusCode ?? 502, {
      'content-type': up.headers['content-type'] ?? 'text/plain; version=0.0.4; charset=utf-8',
    });
    up.pipe(res);
  });
  // Core's exporter starts with the Runtime: a scrape before that (or after it stopped) gets a clear 503.
  upstream.on('error', (err) => {
    if (!res.headersSent) text(503, `metrics not available yet: ${err.message}`);
    else res.destroy();
  });
  upstream.end();
}

/** The visibility scan behind the scan gauges. Gauges keep their last value, so a series that emptied is set to 0. */
class RunScanner {
  private readonly seenOpen = new Map<string, { runbook: string; state: string }>();
  private readonly seenRatio = new Set<string>();
  private readonly meter = Runtime.instance().metricMeter;
  private readonly openGauge = this.meter.createGauge(
    SCAN_METRICS.openRuns,
    'int',
    undefined,
    'Open runbook runs on this task queue, by runbook and state (from Temporal visibility)',
  );
  private readonly ratioGauge = this.meter.createGauge(
    SCAN_METRICS.approvalWaitRatio,
    'float',
    undefined,
    'Longest open approval wait as a share of its timeout, by runbook (0.5 = half the timeout gone)',
  );

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async scan(): Promise<void> {
    const runs: OpenRun[] = [];
    const query = `ExecutionStatus = "Running" AND TaskQueue = "${this.taskQueue.replace(/"/g, '')}"`;
    for await (const wf of this.client.workflow.list({ query })) {
      const runbook = wf.typedSearchAttributes.get(RunbookNameKey);
      const state = wf.typedSearchAttributes.get(RunbookStatusKey);
      // The resource locks run on the same queue; they are not runbooks.
      if (!runbook || !state) continue;
      const run: OpenRun = { runbook, state };
      if (state === 'awaiting-approval') {
        const status = await this.client.workflow
          .getHandle(wf.workflowId, wf.runId)
          .query(statusQuery)
          .catch(() => undefined);
        const pa = status?.pendingApproval;
        if (pa) run.approval = { openedAt: pa.openedAt, deadline: pa.deadline };
      }
      runs.push(run);
    }
    const { open, approvalRatio } = summariseOpenRuns(runs, Date.now());
    const task_queue = this.taskQueue;
    for (const [key, labels] of this.seenOpen) if (!open.has(key)) this.openGauge.set(0, { ...labels, task_queue });
    for (const [key, o] of open) {
      this.seenOpen.set(key, { runbook: o.runbook, state: o.state });
      this.openGauge.set(o.count, { runbook: o.runbook, state: o.state, task_queue });
    }
    for (const runbook of this.seenRatio) {
      if (!approvalRatio.has(runbook)) this.ratioGauge.set(0, { runbook, task_queue });
    }
    for (const [runbook, ratio] of approvalRatio) {
      this.seenRatio.add(runbook);
      this.ratioGauge.set(ratio, { runbook, task_queue });
    }
  }
}
