// P6 — Many runs at once: N emergencyScale runs on N distinct ECS services started together through one worker, vs
// one run alone on the same worker in the same round. The claim is the p95 of the steps' durations (each step's
// startedAt → endedAt in the run's report timeline, over every step of every run) against the run alone's.
import type { Client } from '@temporalio/client';
import type { EmergencyScaleInput, EmergencyScaleResult } from '../api/runbooks/emergency-scale';
import { emergencyScaleWorkflowId } from '../api/runbooks/emergency-scale';
import type { RunbookReport, StepRecord } from '../api/status';
import { WORKER_DEFAULTS } from '../worker/config';
import { breakdown, type RunBreakdown } from './p6/history';
import { makeFleet, type ServiceRef } from './p6/fleet';
import { fmtNumber, fmtStat, percentile, ratioStat, since, stat } from './lib/stats';
import type { Benchmark, BenchResult, BenchRow } from './lib/types';
import { benchId, startBenchWorker } from './lib/worker';

const GOAL = 2;
const BASE_COUNT = 1;
const SCALED_COUNT = 2;

interface RunOutcome {
  workflowId: string;
  /** Client side: the start request sent → the result received. */
  endToEndMs: number;
  steps: { name: string; ms: number }[];
}

interface Batch {
  runs: RunOutcome[];
  /** First start request sent → last result received. */
  wallMs: number;
}

/** The steps that ran (a step decided without running anything, e.g. approval not required, is left out). */
function stepsOf(timeline: StepRecord[]): { name: string; ms: number }[] {
  return timeline
    .filter((s) => s.outcome !== 'skipped' && s.endedAt)
    .map((s) => ({ name: s.name, ms: Date.parse(s.endedAt!) - Date.parse(s.startedAt) }));
}

async function runOne(client: Client, taskQueue: string, ref: ServiceRef): Promise<RunOutcome> {
  const input: EmergencyScaleInput = {
    ...ref,
    desiredCount: SCALED_COUNT,
    reason: 'bench P6: many runs at once',
    initiatedBy: 'bench',
    approval: { required: false },
  };
  const workflowId = emergencyScaleWorkflowId(ref);
  const t0 = performance.now();
  const handle = await client.workflow.start('emergencyScale', { taskQueue, workflowId, args: [input] });
  const report = (await handle.result()) as RunbookReport<EmergencyScaleResult>;
  const endToEndMs = since(t0);
  if (report.outcome !== 'succeeded') throw new Error(`${workflowId}: ${report.outcome}: ${report.error ?? ''}`);
  if (report.result?.desiredCount !== SCALED_COUNT) throw new Error(`${workflowId}: not scaled`);
  return { workflowId, endToEndMs, steps: stepsOf(report.timeline) };
}

/**
 * The runs on `refs` started together, awaited together. Past `limitMs` the batch is given up (its open runs
 * terminated): a worker that cannot keep up times its workflow tasks out, and the retries (each a replay) make it
 * slower still — the bench must end, not run into its whole budget.
 */
async function runBatch(client: Client, taskQueue: string, refs: ServiceRef[], limitMs: number): Promise<Batch> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${refs.length} runs not done after ${Math.round(limitMs / 1000)} s: given up`)),
      limitMs,
    );
  });
  try {
    const runs = await Promise.race([Promise.all(refs.map((ref) => runOne(client, taskQueue, ref))), limit]);
    return { runs, wallMs: since(t0) };
  } catch (err) {
    await Promise.all(
      refs.map((ref) =>
        client.workflow
          .getHandle(emergencyScaleWorkflowId(ref))
          .terminate('bench P6 gave up')
          .catch(() => undefined),
      ),
    );
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const p95Steps = (b: Batch) =>
  percentile(
    b.runs.flatMap((r) => r.steps.map((s) => s.ms)),
    95,
  );

async function histories(client: Client, runs: RunOutcome[]): Promise<RunBreakdown[]> {
  const out: RunBreakdown[] = [];
  for (const r of runs) {
    const h = await client.workflow.getHandle(r.workflowId).fetchHistory();
    out.push(breakdown(h.events ?? []));
  }
  return out;
}

const median = (xs: number[]) => stat(xs).median;

function breakdownTable(single: RunBreakdown[], many: RunBreakdown[], n: number): string {
  const rows: [string, (b: RunBreakdown) => number, boolean][] = [
    ['run, first → last history event', (b) => b.totalMs, true],
    ['workflow tasks (count)', (b) => b.workflowTasks, false],
    ['Σ workflow task queue wait (scheduled → started)', (b) => b.wftQueueMs, true],
    ['Σ workflow task processing (started → completed)', (b) => b.wftRunMs, true],
    ['… of which the first (creates the workflow in the sandbox)', (b) => b.firstWftRunMs, true],
    ['activities (count)', (b) => b.activities, false],
    ['Σ activity queue wait (scheduled → started)', (b) => b.activityQueueMs, true],
    ['Σ activity execution (started → completed)', (b) => b.activityRunMs, true],
    ['Σ lock child start (initiated → started)', (b) => b.childStartMs, true],
  ];
  const lines = [
    `| per run, from its history (last round) | alone | ${n} at once: median run | ${n} at once: p95 run |`,
    '|---|---|---|---|',
  ];
  for (const [label, f, isMs] of rows) {
    const u = isMs ? ' ms' : '';
    const m = many.map(f);
    lines.push(
      `| ${label} | ${fmtNumber(median(single.map(f)))}${u} | ${fmtNumber(median(m))}${u} | ${fmtNumber(percentile(m, 95))}${u} |`,
    );
  }
  return lines.join('\n');
}

function stepTable(single: Batch[], many: Batch[], n: number): string {
  const names: string[] = [];
  for (const r of [...single, ...many].flatMap((b) => b.runs))
    for (const s of r.steps) if (!names.includes(s.name)) names.push(s.name);
  const of = (bs: Batch[], name: string) =>
    bs.flatMap((b) => b.runs.flatMap((r) => r.steps.filter((s) => s.name === name).map((s) => s.ms)));
  const lines = [
    `| step (all rounds) | alone: median | ${n} at once: median | ${n} at once: p95 | ${n} at once: max |`,
    '|---|---|---|---|---|',
  ];
  for (const name of names) {
    const a = of(single, name);
    const m = of(many, name);
    if (!a.length || !m.length) continue;
    lines.push(
      `| ${name} | ${fmtNumber(median(a))} ms | ${fmtNumber(median(m))} ms | ${fmtNumber(percentile(m, 95))} ms | ${fmtNumber(Math.max(...m))} ms |`,
    );
  }
  return lines.join('\n');
}

function workerOptionsText(): string {
  const set = Object.entries(WORKER_DEFAULTS)
    .map(([k, v]) => `\`${k}: ${JSON.stringify(v)}\``)
    .join(', ');
  return `the project's WORKER_DEFAULTS (worker/config.ts): ${set}; everything else the SDK's defaults`;
}

export const p6: Benchmark = {
  id: 'P6',
  title: 'Many runs at once',
  claim:
    '50 emergencyScale runs on distinct services started at once through one worker: the p95 step latency stays ' +
    'within 2× that of one run alone.',
  async run(ctx): Promise<BenchResult> {
    const { client } = ctx.stack;
    const n = ctx.quick ? 10 : 50;
    // A round takes seconds on a quiet 2-core machine; far past that the worker is not keeping up (see runBatch).
    const limitMs = ctx.quick ? 120_000 : 180_000;
    const id = benchId('p6');
    ctx.log(`building ${n + 1} ECS services in the emulator`);
    const fleet = await makeFleet(ctx.stack.aws, { id, size: n, baseCount: BASE_COUNT });
    const worker = await startBenchWorker(ctx.stack);
    try {
      // Warm-up (not counted): the worker's first run pays for loading the bundle into a fresh workflow context.
      await runOne(client, worker.taskQueue, fleet.solo);

      const single: Batch[] = [];
      const many: Batch[] = [];
      let singleHist: RunBreakdown[] = [];
      let manyHist: RunBreakdown[] = [];
      for (let round = 1; round <= ctx.rounds; round++) {
        await fleet.reset();
        const alone = await runBatch(client, worker.taskQueue, [fleet.solo], limitMs);
        const atOnce = await runBatch(client, worker.taskQueue, fleet.many, limitMs);
        single.push(alone);
        many.push(atOnce);
        ctx.log(
          `round ${round}: p95 step ${fmtNumber(p95Steps(atOnce))} ms (${n} at once) vs ${fmtNumber(p95Steps(alone))} ms ` +
            `(alone); ${n} runs in ${fmtNumber(atOnce.wallMs / 1000)} s`,
        );
        if (round === ctx.rounds) {
          singleHist = await histories(client, alone.runs);
          manyHist = await histories(client, atOnce.runs);
        }
      }

      const subjectP95 = many.map(p95Steps);
      const referenceP95 = single.map(p95Steps);
      const ratio = ratioStat(subjectP95, referenceP95);
      const row: BenchRow = {
        id: 'P6',
        case: `${n} runs${ctx.quick ? ' (quick: 10, not 50)' : ''}`,
        subject: { label: `p95 step, ${n} at once`, value: stat(subjectP95), unit: 'ms' },
        reference: { label: 'p95 step, one run alone', value: stat(referenceP95), unit: 'ms' },
        ratio,
        goal: `≤ ${GOAL}×`,
        met: ratio.median <= GOAL,
      };

      const throughput = stat(many.map((b) => b.runs.length / (b.wallMs / 1000)));
      const wall = stat(many.map((b) => b.wallMs / 1000));
      const e2eMedian = stat(many.map((b) => median(b.runs.map((r) => r.endToEndMs))));
      const e2eP95 = stat(
        many.map((b) =>
          percentile(
            b.runs.map((r) => r.endToEndMs),
            95,
          ),
        ),
      );
      const e2eAlone = stat(single.map((b) => b.runs[0]!.endToEndMs));
      const details = [
        `**Method.** One cluster of ${n + 1} ECS services in moto (plain, no realistic layer) at ${BASE_COUNT} task; ` +
          `one in-process worker (bench/lib/worker.ts) with ${workerOptionsText()}. Each of ${ctx.rounds} rounds ` +
          `(after one uncounted warm-up run) resets every service to ${BASE_COUNT} task, runs emergencyScale to ` +
          `${SCALED_COUNT} tasks on one service alone (reference), then starts ${n} runs on the other ${n} services ` +
          `at once (subject), each under its production workflow ID, approval off, no health check, no scale-back. ` +
          `A step's latency is its startedAt → endedAt in the run's report timeline (workflow time; steps recorded ` +
          `as skipped left out); the figure is the nearest-rank p95 over every step of every run in the round. The ` +
          `ratio is taken per round; met = the median ratio is ≤ ${GOAL}×.`,
        '',
        `**Throughput.** ${n} runs in ${fmtStat(wall, 's')} (first start request → last result): ` +
          `${fmtStat(throughput, 'runs/s')}. Per run, start request → result received: median ` +
          `${fmtStat(e2eMedian, 'ms')}, p95 ${fmtStat(e2eP95, 'ms')}; one run alone ${fmtStat(e2eAlone, 'ms')} ` +
          `(medians over rounds, min–max).`,
        '',
        stepTable(single, many, n),
        '',
        breakdownTable(singleHist, manyHist, n),
      ].join('\n');
      const result: BenchResult = { rows: [row], details };
      if (!row.met) {
        const share = (f: (b: RunBreakdown) => number) => fmtNumber(median(manyHist.map(f)) / 1000);
        result.missed = [
          `P6 (${n} runs at once): the p95 step is ${fmtNumber(ratio.median)}× that of one run alone (goal ≤ ${GOAL}×). ` +
            `In the last round the median concurrent run spent ${share((b) => b.wftRunMs)} s in workflow tasks ` +
            `(started → completed), ${share((b) => b.firstWftRunMs)} s of it in its first, against ` +
            `${share((b) => b.activityQueueMs + b.activityRunMs)} s in activities (queue wait and execution): the ` +
            `runs wait for the worker's one workflow thread, not for AWS, the activity slots or the task queue.`,
          '',
          "Why (a CPU profile of the worker's workflow thread during a 20-run bench, before the fix below): about " +
            'half of its busy time was creating workflows, nearly all of it evaluating the bundle’s modules again: ' +
            'with reuseV8Context the SDK evaluates the workflow modules once per workflow execution (module state ' +
            'must not leak between runs), and the entry imported every runbook, whose modules build their zod input ' +
            'schemas at import (zod v4 copies a schema on every `.describe()`/`.default()`/`.refine()`; its garbage ' +
            "was another quarter of the thread's time). Each run paid it twice: for itself and for its `resourceLock` " +
            'child.',
          '',
          'Fixed since (workflows/index.ts, api/runbooks/entry.ts): each workflow is loaded when a run of it first ' +
            'runs, and each runbook’s catalogue entry lives with its own schema, so a lock child loads only ' +
            'lib/lock.ts and a run only its own runbook’s modules. What is left is in the first-task row above: the ' +
            'modules every runbook shares (api/common.ts, api/policy.ts: their schemas) and the run’s own schema, ' +
            `still evaluated per run, ${n} runs in a queue on one thread.`,
          '',
          'Worker options do not remove it: the workflow thread is CPU-bound (more workflow task slots or pollers only ' +
            'lengthen its queue, and past 10 s the tasks time out and are retried, which costs a replay); ' +
            '`workflowThreadPoolSize: 2` could at best halve it on 2 cores that Temporal and moto share, so ' +
            'WORKER_DEFAULTS is unchanged. The rest of the fix is in the code the sandbox evaluates: build the input ' +
            'schemas on first use instead of at import, throughout api/ (a prototype that wrapped only the top-level ' +
            '`const x = z…` declarations saved just a quarter, as the shape objects and helpers that spread or ' +
            'extend schemas still build them at import), or validate the input outside the workflow. Preloading the schema modules into the shared ' +
            'context (bundler `preloadModules`) does not work: the SDK deep-freezes preloaded modules and zod ' +
            'then fails assigning `lastIndex` on a frozen RegExp.',
        ].join('\n');
      }
      return result;
    } finally {
      await worker.stop();
    }
  },
};
