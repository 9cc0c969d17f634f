// The chaos scenarios, each a function of a runbook driver that runs the runbook against the realistic AWS layer and
// returns one row for docs/reliability.md: a clean baseline (what a good run changes), a named AWS fault, a worker
// SIGKILLed at every step boundary, the Temporal server restarted mid-run, and generated bad inputs.
import path from 'node:path';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../activities';
import { createAwsClients } from '../../activities/aws-clients';
import { abandonSignal, statusQuery } from '../../api/definitions';
import { findRunbook } from '../../api/runbooks';
import type { RunbookReport, RunbookStatus } from '../../api/status';
import { freePort } from '../../scripts/lib/processes';
import { repoRoot, startTemporal } from '../../scripts/lib/stack';
import { startRealisticLayer, type RealisticLayer } from '../../scripts/realistic/layer';
import type { Fault } from '../../scripts/realistic/machines';
import { testClients, testDbOverrides, uid } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';
import { badInputs } from './bad-inputs';
import { workflowType, type Driver, type Prepared } from './drivers';
import type { Row } from './results';
import { WORKER_DEFAULTS } from '../../worker/config';

export const MINUTE_MS = 200;
/** The longest pause between two polls of a wait (activities/poll.ts): "within one poll interval". */
export const POLL_CEILING_MS = 15_000;

interface Env {
  client: Client;
  taskQueue: string;
  layer: RealisticLayer;
  prepared: Prepared;
}

/**
 * A layer, a worker on a fresh task queue whose activities go through it, the driver's environment; `fn` runs with
 * them. `connection` lets a scenario use a Temporal server of its own.
 */
async function withLayer<T>(
  d: Driver,
  opts: { faults?: Fault[]; address?: string; worker?: 'in-process' | 'none' },
  fn: (env: Env) => Promise<T>,
): Promise<T> {
  const { aws } = await testClients(); // (also installs the quiet Temporal runtime the test helpers use)
  const layer = await startRealisticLayer({ upstream: inject('awsEndpoint'), minuteMs: MINUTE_MS });
  const through = createAwsClients({ endpoint: layer.endpoint });
  const address = opts.address ?? inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const taskQueue = uid('chaos');
  let native: NativeConnection | undefined;
  const newWorker = async () => {
    native ??= await NativeConnection.connect({ address });
    return Worker.create({
      connection: native,
      taskQueue,
      workflowBundle: { codePath: inject('workflowBundlePath') },
      activities: createActivities({ aws: through, temporal: client, dbEndpointOverrides: testDbOverrides() }),
      shutdownGraceTime: '2s',
      ...WORKER_DEFAULTS,
    });
  };
  try {
    const prepare = () => d.prepare(aws, { client, taskQueue });
    const run = async (prepared: Prepared) => {
      // The driver's own setup (e.g. the failover before a failback) is not the run under test.
      const setupCalls = layer.calls().length;
      try {
        return await fn({ client, taskQueue, layer: sinceCall(layer, setupCalls), prepared });
      } finally {
        await prepared.close();
      }
    };
    if (opts.worker !== 'none') {
      const worker = await newWorker();
      return await worker.runUntil(async () => run(await prepare()));
    }
    // The scenario brings its own workers (processes it kills); the driver's setup, which may run a runbook (the
    // failover a failback undoes), gets one of ours that stops before the scenario begins.
    const setupWorker = await newWorker();
    return await run(await setupWorker.runUntil(prepare));
  } finally {
    layer.setFaults([]);
    through.destroy();
    await connection.close();
    await native?.close();
    await layer.close();
  }
}

/** The layer as seen from call `from` on (earlier calls belong to a scenario's setup). */
function sinceCall(layer: RealisticLayer, from: number): RealisticLayer {
  return {
    ...layer,
    calls: () => layer.calls().slice(from),
    mutations: () => {
      const later = new Set(layer.calls().slice(from));
      return layer.mutations().filter((m) => later.has(m));
    },
  };
}

/** How many times each kind of mutating call took effect: "PromoteReadReplica×1, UpdateService×2". */
export function mutationCounts(layer: RealisticLayer): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of layer.mutations()) counts[m.operation] = (counts[m.operation] ?? 0) + 1;
  return counts;
}

const sameCounts = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
const describeCounts = (c: Record<string, number>) =>
  Object.entries(c)
    .sort()
    .map(([k, v]) => `${k}×${v}`)
    .join(', ');

/** The run's end: its report, or the failure with the report it carries. */
async function ending(
  handle: WorkflowHandle,
): Promise<{ report?: RunbookReport; failure?: { type?: string; message: string } }> {
  try {
    return { report: (await handle.result()) as RunbookReport };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as { message: string; type?: string; details?: unknown[] } | undefined;
    return {
      failure: { message: cause?.message ?? err.message, ...(cause?.type ? { type: cause.type } : {}) },
      ...(cause?.details?.[0] ? { report: cause.details[0] as RunbookReport } : {}),
    };
  }
}

const baselines = new Map<string, Record<string, number>>();

/** A clean run of the runbook through the layer: what it changes, kind by kind (cached per runbook). */
export async function baseline(d: Driver): Promise<Record<string, number>> {
  const known = baselines.get(d.runbook);
  if (known) return known;
  const counts = await withLayer(d, {}, async ({ client, taskQueue, layer, prepared }) => {
    const handle = await client.workflow.start(workflowType(d), {
      taskQueue,
      workflowId: uid(workflowType(d)),
      args: [prepared.input],
    });
    const end = await ending(handle);
    if (!end.report || end.failure) throw new Error(`clean ${d.runbook} run failed: ${end.failure?.message}`);
    await prepared.verify((await testClients()).aws);
    return mutationCounts(layer);
  });
  baselines.set(d.runbook, counts);
  return counts;
}

export interface FaultExpectation {
  /** How the row names it. */
  scenario: string;
  faults: Fault[];
  /** Input changes for this scenario (e.g. a shorter timeout). */
  input?: Record<string, unknown>;
  /** Switch the faults on only once a step whose name starts with this has begun (mid-run faults). */
  after?: string;
  /**
   * Something the world does to the run's resources at that moment instead of (or besides) a layer fault — e.g. the
   * green service's 5xx count rising, which the layer's CloudWatch evaluation turns into an alarm. Names a
   * `Prepared.actions` entry of the driver.
   */
  act?: string;
  expect:
    | {
        outcome: 'succeeded';
        /** What the report must show (`pattern`, tested on its JSON), e.g. a read recorded as unreadable. */
        report?: { shows: string; pattern: RegExp };
      }
    | { outcome: 'failed'; type: string | RegExp; message: RegExp; compensated: 'snapshot' | 'n/a' }
    | { outcome: 'needs-operator'; message: RegExp };
  /** The fault is noticed only at a timeout (AWS shows no end state for it): no "within one poll" claim. */
  timeoutBased?: boolean;
}

const describeExpect = (e: FaultExpectation['expect']) =>
  e.outcome === 'succeeded'
    ? `completes${e.report ? `; the report shows ${e.report.shows}` : ''}`
    : e.outcome === 'failed'
      ? `fails ${typeof e.type === 'string' ? e.type : e.type.source} (${e.message.source})${e.compensated === 'snapshot' ? ', compensated' : ''}`
      : `needs-operator (${e.message.source})`;

/** The runbook under a named fault: the documented outcome, how fast it noticed, compensation, calls once. */
export async function faultScenario(d: Driver, x: FaultExpectation): Promise<Row> {
  const counts = x.expect.outcome === 'succeeded' ? await baseline(d) : undefined;
  return withLayer(d, {}, async ({ client, taskQueue, layer, prepared }) => {
    const { aws } = await testClients();
    const before = await prepared.snapshot(aws);
    if (!x.after) layer.setFaults(x.faults);
    const started = Date.now();
    const workflowId = uid(workflowType(d));
    const handle = await client.workflow.start(workflowType(d), {
      taskQueue,
      workflowId,
      args: [{ ...prepared.input, ...x.input }],
    });
    let actedAt: number | undefined;
    if (x.after) {
      const after = x.after;
      await waitForStatusMatch(client, workflowId, (st) => st.steps.some((step) => step.name.startsWith(after)));
      layer.setFaults(x.faults);
      if (x.act) {
        const action = prepared.actions?.[x.act];
        if (!action) throw new Error(`the ${d.runbook} driver has no action ${x.act}`);
        actedAt = Date.now();
        await action(aws);
      }
    }
    const row: Row = {
      runbook: d.runbook,
      scenario: x.scenario,
      expected: describeExpect(x.expect),
      outcome: '',
      compensation: 'n/a',
      mutationsOnce: 'n/a',
      pass: false,
    };
    const faultAt = () => layer.faultEvents().find((e) => x.faults.some((f) => f.name === e.fault))?.at ?? actedAt;
    if (x.expect.outcome === 'needs-operator') {
      const s = await waitForState(client, workflowId, ['needs-operator', 'failed', 'succeeded'], 240_000);
      row.outcome =
        s.state === 'needs-operator' ? `needs-operator: ${s.operator?.error ?? ''}` : `${s.state}: ${s.error ?? ''}`;
      const at = faultAt();
      const failedStep = s.steps.filter((st) => st.outcome === 'failed').at(-1);
      if (at && failedStep?.endedAt) row.noticeMs = Math.max(0, Date.parse(failedStep.endedAt) - at);
      row.pass = s.state === 'needs-operator' && x.expect.message.test(s.operator?.error ?? '');
      row.compensation = 'correct'; // past the point of no return nothing is undone: AWS is left for the operator
      if (s.state === 'needs-operator') await handle.signal(abandonSignal, { by: 'chaos', reason: 'scenario done' });
      await ending(handle);
    } else {
      const end = await ending(handle);
      row.outcome = end.failure
        ? `failed ${end.failure.type ?? ''}: ${end.failure.message}`
        : `${end.report?.outcome ?? '?'}`;
      if (x.expect.outcome === 'succeeded') {
        const ok = !end.failure && (end.report?.outcome ?? '').startsWith('succeeded');
        const reportOk = !x.expect.report || x.expect.report.pattern.test(JSON.stringify(end.report ?? {}));
        if (!reportOk) row.detail = `the report does not show ${x.expect.report?.shows ?? ''}`;
        let verified = true;
        try {
          await prepared.verify(aws);
        } catch (err) {
          verified = false;
          row.detail = (err as Error).message;
        }
        const now = mutationCounts(layer);
        row.mutationsOnce = sameCounts(now, counts!) ? 'yes' : 'NO';
        if (row.mutationsOnce === 'NO') row.detail = `${describeCounts(now)} vs clean ${describeCounts(counts!)}`;
        row.pass = ok && reportOk && verified && row.mutationsOnce === 'yes';
      } else {
        const e = x.expect;
        const failedStep = end.report?.timeline.filter((st) => st.outcome === 'failed').at(-1);
        const at = faultAt();
        if (at && failedStep?.endedAt) row.noticeMs = Math.max(0, Date.parse(failedStep.endedAt) - at);
        if (e.compensated === 'snapshot') {
          const after = await prepared.snapshot(aws);
          row.compensation = JSON.stringify(after) === JSON.stringify(before) ? 'correct' : 'WRONG';
        }
        const typeOk = typeof e.type === 'string' ? end.failure?.type === e.type : e.type.test(end.failure?.type ?? '');
        row.pass =
          typeOk &&
          e.message.test(end.failure?.message ?? '') &&
          row.compensation !== 'WRONG' &&
          (x.timeoutBased || row.noticeMs === undefined || row.noticeMs <= POLL_CEILING_MS);
        if (!row.pass && row.compensation === 'WRONG') row.detail = 'AWS differs from before the run';
      }
    }
    if (!row.pass && !row.detail) row.detail = `took ${Math.round((Date.now() - started) / 1000)} s`;
    return row;
  });
}

async function waitForState(
  client: Client,
  workflowId: string,
  states: string[],
  timeoutMs: number,
): Promise<RunbookStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  let last: RunbookStatus | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(statusQuery);
      if (states.includes(last.state)) return last;
    } catch {
      /* not started */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${workflowId} never reached ${states.join('/')}; last ${last?.state}`);
}

/** `count` generated bad inputs: each refused naming a field, with no AWS call changing anything. */
export async function badInputScenario(d: Driver, count: number): Promise<Row> {
  return withLayer(d, {}, async ({ client, taskQueue, layer, prepared }) => {
    const entry = findRunbook(workflowType(d))!;
    const bad = badInputs(entry.schema, prepared.input, count);
    const problems: string[] = [];
    for (const b of bad) {
      const handle = await client.workflow.start(workflowType(d), {
        taskQueue,
        workflowId: uid('bad'),
        args: [b.input],
      });
      const end = await ending(handle);
      if (end.failure?.type !== 'InvalidInput' || !/^invalid input: input(\.\S+)?: /.test(end.failure.message)) {
        problems.push(`${b.label}: ${end.failure?.type ?? 'completed'} ${end.failure?.message ?? ''}`);
      }
    }
    const mutations = layer.mutations().length;
    return {
      runbook: d.runbook,
      scenario: `${bad.length} generated bad inputs`,
      expected: 'each fails InvalidInput naming the field; no AWS change',
      outcome: `${bad.length - problems.length} refused naming a field; ${mutations} AWS change(s)`,
      compensation: 'n/a',
      mutationsOnce: mutations === 0 ? 'yes' : 'NO',
      pass: bad.length >= count && problems.length === 0 && mutations === 0,
      ...(problems.length ? { detail: problems.slice(0, 3).join(' | ') } : {}),
    };
  });
}

/** The worker SIGKILLed each time a new step starts, and another started: the run completes, each change once. */
export async function workerKillScenario(d: Driver): Promise<Row> {
  const counts = await baseline(d);
  return withLayer(d, { worker: 'none' }, async ({ client, taskQueue, layer, prepared }) => {
    // CodeDeploy too through this layer (the test stack's AWS_ENDPOINT_URL_CODEDEPLOY, which the worker process
    // inherits, points at a CodeDeploy layer of its own).
    const env = {
      AWS_ENDPOINT_URL: layer.endpoint,
      AWS_ENDPOINT_URL_CODEDEPLOY: layer.endpoint,
      TEST_WORKER_NO_CACHE: '1',
    };
    let worker: WorkerProcess = await startWorkerProcess(taskQueue, { env });
    const workflowId = uid(workflowType(d));
    const handle = await client.workflow.start(workflowType(d), { taskQueue, workflowId, args: [prepared.input] });
    let seen = 0;
    let kills = 0;
    try {
      for (;;) {
        const description = await handle.describe();
        if (description.status.name !== 'RUNNING') break;
        // The run's steps, and the steps of its child workflows (a backup verification's per-database runs, which
        // keep no status of their own: each activity they schedule is their step): each one begun is a boundary.
        let steps = 0;
        try {
          steps += (await handle.query(statusQuery)).steps.length;
        } catch {
          /* no worker right now */
        }
        for (const id of d.children?.(prepared.input, workflowId) ?? []) {
          try {
            const history = await client.workflow.getHandle(id).fetchHistory();
            steps += (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length;
          } catch {
            /* not started yet */
          }
        }
        steps = Math.max(steps, seen);
        if (steps > seen) {
          seen = steps;
          await worker.kill();
          kills++;
          worker = await startWorkerProcess(taskQueue, { env });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const end = await ending(handle);
      const { aws } = await testClients();
      let verified = true;
      let detail: string | undefined;
      try {
        await prepared.verify(aws);
      } catch (err) {
        verified = false;
        detail = (err as Error).message;
      }
      const now = mutationCounts(layer);
      const once = sameCounts(now, counts);
      return {
        runbook: d.runbook,
        scenario: `worker SIGKILLed at every step boundary (${kills} kills)`,
        expected: 'completes; each change once',
        outcome: end.failure ? `failed: ${end.failure.message}` : (end.report?.outcome ?? '?'),
        compensation: 'n/a',
        mutationsOnce: once ? 'yes' : 'NO',
        pass: !end.failure && verified && once,
        ...(detail || !once ? { detail: detail ?? `${describeCounts(now)} vs clean ${describeCounts(counts)}` } : {}),
      };
    } finally {
      await worker.kill();
    }
  });
}

/** The Temporal dev server (SQLite file) stopped and started again mid-run: the run goes on and completes. */
export async function serverRestartScenario(
  d: Driver,
  logDir = path.join(repoRoot, 'test-results', 'logs'),
): Promise<Row> {
  const port = await freePort();
  const dbFile = path.join(logDir, `chaos-${uid('temporal')}.db`);
  let server = await startTemporal({ port, dbFile, headless: true, logDir, name: `temporal-chaos-${port}` });
  try {
    return await withLayer(d, { address: server.address }, async ({ client, taskQueue, prepared }) => {
      const workflowId = uid(workflowType(d));
      const handle = await client.workflow.start(workflowType(d), { taskQueue, workflowId, args: [prepared.input] });
      // Mid-run: once a few steps are done.
      await waitForStepCount(client, workflowId, 3);
      await server.process.stop();
      await new Promise((r) => setTimeout(r, 2_000));
      server = await startTemporal({ port, dbFile, headless: true, logDir, name: `temporal-chaos-${port}` });
      const end = await ending(handle);
      const { aws } = await testClients();
      let detail: string | undefined;
      try {
        await prepared.verify(aws);
      } catch (err) {
        detail = (err as Error).message;
      }
      return {
        runbook: d.runbook,
        scenario: 'Temporal server stopped and restarted mid-run',
        expected: 'completes',
        outcome: end.failure ? `failed: ${end.failure.message}` : (end.report?.outcome ?? '?'),
        compensation: 'n/a',
        mutationsOnce: 'n/a',
        pass: !end.failure && !detail,
        ...(detail ? { detail } : {}),
      };
    });
  } finally {
    await server.process.stop();
  }
}

async function waitForStatusMatch(
  client: Client,
  workflowId: string,
  predicate: (s: RunbookStatus) => boolean,
): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      if (predicate(await client.workflow.getHandle(workflowId).query(statusQuery))) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} never reached the expected state`);
}

async function waitForStepCount(client: Client, workflowId: string, n: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    try {
      if ((await client.workflow.getHandle(workflowId).query(statusQuery)).steps.length >= n) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} never reached ${n} steps`);
}
