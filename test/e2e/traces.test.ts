// Traces and logs as an operator gets them: the production worker (worker/main.ts, in a process of its own) with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP receiver and RUNBOOKS_LOG_LEVEL=DEBUG, and a run
// started with the CLI (traced too). One trace must cover the CLI's start, the run and its activities, parent to
// child; the spans batched in the worker must leave when it stops; a run started without a trace context must be
// traced nowhere and carry no trace header; every line the worker prints on stdout must be JSON, the run's lines
// carrying its workflow ID, runbook and step (and the workflow's the trace ID); a failed step and a chat webhook
// that fails are logged as JSON warnings on stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, inject, vi } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import type { RunbookReport } from '../../api/status';
import { run as runCli } from '../../client/cli';
import { repoRoot } from '../../scripts/lib/stack';
import { makeService } from '../helpers/env/aws-fixtures';
import { expectFailure, testDbOverrides, uid } from '../helpers/temporal';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: (Omit<Span, 'service' | 'attributes'> & { attributes?: OtlpAttribute[] })[];
    }[];
  }[];
}

const attributes = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.boolValue]));

/** A local OTLP/HTTP collector: the JSON export requests the exporter POSTs to /v1/traces, flattened to spans. */
async function startReceiver() {
  const spans: Span[] = [];
  const paths: string[] = [];
  const hooks: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/hook') {
        // A chat webhook that fails: the worker must log it.
        hooks.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(500);
        res.end('nope');
        return;
      }
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const request = JSON.parse(body.toString('utf8')) as OtlpRequest;
      for (const rs of request.resourceSpans ?? []) {
        const service = String(attributes(rs.resource?.attributes)['service.name']);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              service,
              attributes: attributes(s.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    paths,
    hooks,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** worker/main.ts as it runs in production (bundling the workflows at start), with `env` added. */
function startWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    output: () => `stdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-4000)}`,
    exited,
    async printed(pattern: RegExp, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (child.exitCode !== null) throw new Error(`the worker exited before ${pattern}:\n${this.output()}`);
        if (Date.now() > deadline) throw new Error(`the worker never printed ${pattern}:\n${this.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

describe('traces and JSON logs from the worker', () => {
  const aws = createAwsClients();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'traces-'));
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let worker: ReturnType<typeof startWorker> | undefined;
  let connection: Connection | undefined;
  const saved = { TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS, OTEL: process.env.OTEL_EXPORTER_OTLP_ENDPOINT };

  beforeAll(async () => {
    // This process only replays a history: its own runtime logs warnings only.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    receiver = await startReceiver();
  });

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await connection?.close();
    await receiver.close();
    aws.destroy();
    rmSync(dir, { recursive: true, force: true });
    for (const [key, value] of [
      ['TEMPORAL_ADDRESS', saved.TEMPORAL_ADDRESS],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', saved.OTEL],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('one trace covers the CLI start, the run and its activities; an untraced start is traced nowhere; logs are JSON', async () => {
    const taskQueue = uid('tq-traces');
    const address = inject('temporalAddress');
    worker = startWorker({
      TEMPORAL_ADDRESS: address,
      RUNBOOKS_TASK_QUEUE: taskQueue,
      RUNBOOKS_DB_ENDPOINT_OVERRIDES: JSON.stringify(testDbOverrides()),
      RUNBOOKS_METRICS_ADDRESS: 'off',
      RUNBOOKS_LOG_LEVEL: 'debug',
      RUNBOOKS_SLACK_WEBHOOK_URL: `${receiver.endpoint}/hook`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      // Nothing leaves on a timer during the test: the worker's spans can only arrive through the flush at its stop.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
    const svc = await makeService(aws, { desiredCount: 2 });
    await worker.printed(/runbooks worker: task queue/);

    // The CLI, in this process, traced (its service name by default runbooks-cli), starts a dry run: read-only
    // steps, activities, no approval.
    process.env.TEMPORAL_ADDRESS = address;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.endpoint;
    const input = path.join(dir, 'scale.json');
    writeFileSync(input, JSON.stringify({ ...svc.ref, desiredCount: 3, reason: 'traces test', initiatedBy: 'alice' }));
    const tracedId = uid('traced');
    const printed = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    let code: number;
    try {
      code = await runCli(
        ['node', 'runbook', 'start', 'emergencyScale', '--input', input, '--dry-run'].concat([
          '--workflow-id',
          tracedId,
          '--task-queue',
          taskQueue,
        ]),
      );
    } finally {
      printed.mockRestore();
    }
    expect(code).toBe(0);

    // A plain client (no interceptor) starts the same runbook without a trace context, on a service that does not
    // exist: its preflight fails, and so does the chat message about the failure (the webhook answers 500).
    connection = await Connection.connect({ address });
    const client = new Client({ connection });
    const untracedId = uid('untraced');
    await client.workflow.start('emergencyScale', {
      taskQueue,
      workflowId: untracedId,
      args: [{ ...svc.ref, service: 'no-such-service', desiredCount: 3, reason: 'traces test', initiatedBy: 'alice' }],
    });
    const report = (await client.workflow.getHandle(tracedId).result()) as RunbookReport;
    expect(report.outcome).toBe('dry-run');
    expect((await expectFailure(client, untracedId)).message).toContain('no-such-service');
    expect(receiver.hooks.some((h) => h.includes('no-such-service'))).toBe(true);
    const workerSpansBeforeStop = receiver.spans.filter((s) => s.service === 'runbooks-worker').length;

    // Stop the worker as a supervisor would; its batched spans must leave before it exits.
    worker.child.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    expect(workerSpansBeforeStop).toBe(0);
    expect(receiver.paths.every((p) => p.startsWith('POST /v1/traces application/json'))).toBe(true);

    // The trace: StartWorkflow (CLI) → RunWorkflow (worker) → StartActivity → RunActivity, one trace ID.
    const spans = receiver.spans;
    const summary = () => spans.map((s) => `${s.service} ${s.name} ${s.traceId}/${s.spanId}←${s.parentSpanId ?? '-'}`);
    const start = spans.find(
      (s) => s.name === 'StartWorkflow:emergencyScale' && s.attributes.temporalWorkflowId === tracedId,
    );
    expect(start, summary().join('\n')).toBeDefined();
    expect(start!.service).toBe('runbooks-cli');
    expect(start!.parentSpanId).toBeUndefined();
    const trace = spans.filter((s) => s.traceId === start!.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const runWorkflow = trace.find((s) => s.name === 'RunWorkflow:emergencyScale');
    expect(runWorkflow, summary().join('\n')).toBeDefined();
    expect(runWorkflow!.service).toBe('runbooks-worker');
    expect(runWorkflow!.parentSpanId).toBe(start!.spanId);
    const runActivities = trace.filter((s) => s.name.startsWith('RunActivity:'));
    expect(runActivities.length, summary().join('\n')).toBeGreaterThan(0);
    for (const ra of runActivities) {
      const activityType = ra.name.slice('RunActivity:'.length);
      expect(ra.attributes.temporalWorkflowId).toBe(tracedId);
      const scheduled = byId.get(ra.parentSpanId ?? '');
      expect(scheduled?.name, `${ra.name}'s parent`).toBe(`StartActivity:${activityType}`);
      expect(scheduled!.parentSpanId).toBe(runWorkflow!.spanId);
    }
    // Every span of the trace hangs off another one in it: no orphan, no second root.
    for (const s of trace) if (s !== start) expect(byId.has(s.parentSpanId ?? ''), s.name).toBe(true);

    // The untraced run: no span anywhere, no trace header in its history (its commands are an untraced worker's).
    expect(spans.filter((s) => s.attributes.temporalWorkflowId === untracedId)).toEqual([]);
    const headerKeys = async (id: string) => {
      const { events } = await client.workflow.getHandle(id).fetchHistory();
      return (events ?? []).flatMap((e) => [
        ...Object.keys(e.workflowExecutionStartedEventAttributes?.header?.fields ?? {}),
        ...Object.keys(e.activityTaskScheduledEventAttributes?.header?.fields ?? {}),
      ]);
    };
    expect(await headerKeys(untracedId)).not.toContain('_tracer-data');
    expect(await headerKeys(tracedId)).toContain('_tracer-data');
    // A traced run replays as it ran (a worker that restarts mid-run replays it with the tracing interceptors).
    await Worker.runReplayHistory(
      {
        workflowBundle: { codePath: inject('workflowBundlePath') },
        sinks: { exporter: { export: { fn: () => undefined } } },
      },
      await client.workflow.getHandle(tracedId).fetchHistory(),
      tracedId,
    );

    // Logs: every stdout line one JSON object; the run's lines carry its IDs, runbook and step.
    const lines = worker
      .stdout()
      .split('\n')
      .filter((l) => l.trim());
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line on the worker's stdout: ${l}`);
      }
    });
    for (const p of parsed) expect(Object.keys(p).slice(0, 3)).toEqual(['time', 'level', 'message']);
    const ofRun = parsed.filter((p) => p.workflowId === tracedId);
    const stepStarted = ofRun.find((p) => String(p.message).startsWith('step started: '));
    expect(stepStarted, lines.slice(-40).join('\n')).toMatchObject({
      level: 'INFO',
      runbook: 'emergencyScale',
      workflowType: 'emergencyScale',
      taskQueue,
      trace_id: start!.traceId,
    });
    expect(typeof stepStarted!.step).toBe('string');
    expect(stepStarted!.runId).toEqual(expect.any(String));
    // The SDK's activity lines (DEBUG: started, completed) carry our runbook and the run's runId too.
    const activityLine = ofRun.find((p) => p.message === 'Activity completed');
    expect(activityLine, lines.slice(-40).join('\n')).toMatchObject({
      runbook: 'emergencyScale',
      runId: stepStarted!.runId,
      activityType: expect.any(String),
    });
    // The worker's own lines, and Core's forwarded ones, are JSON too.
    expect(parsed.some((p) => String(p.message).startsWith('runbooks worker: task queue'))).toBe(true);
    expect(parsed.some((p) => p.sdkComponent === 'core')).toBe(true);

    // Warnings go to stderr, as JSON: the failed step, and the chat message that did not go out (README: "a webhook
    // that fails is logged").
    const warnings = worker
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((p) => p.workflowId === untracedId);
    expect(
      warnings.find((p) => String(p.message).startsWith('step failed: ')),
      worker.output(),
    ).toMatchObject({
      level: 'WARN',
      runbook: 'emergencyScale',
      outcome: 'failed',
      error: expect.stringContaining('no-such-service'),
    });
    expect(
      warnings.find((p) => p.message === 'chat notification not sent: webhook answered 500'),
      worker.output(),
    ).toMatchObject({ level: 'WARN', runbook: 'emergencyScale', event: 'failed', status: 500, activityType: 'notify' });
  }, 180_000);
});
