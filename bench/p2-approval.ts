// P2 — Approval latency: from the server's record of an approval (the `approve` signal, or the `approveUpdate`
// update accepted) to the start of the activity the run goes on with, in a real runbook (emergencyScale at its
// approval gate) vs bare workflows that only wait for the same signal/update and then run one activity. Both read
// from the runs' histories (server-side event times), measured alternately in the same rounds.
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { approveSignal, approveUpdate, statusQuery } from '../api/definitions';
import type { EmergencyScaleInput } from '../api/runbooks/emergency-scale';
import { ensureCluster, ensureService, ensureTaskDefinitions } from '../scripts/lib/fixtures';
import { repoRoot } from '../scripts/lib/stack';
import { WORKER_DEFAULTS } from '../worker/config';
import type { P2Activities } from './p2/workflows';
import { quietLogger } from '../scripts/lib/quiet-logger';
import { fmtNumber, ratioStat, stat } from './lib/stats';
import type { Benchmark, BenchContext, BenchRow } from './lib/types';
import { benchId, startBenchWorker } from './lib/worker';
import { eventMs } from './lib/history';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** The activity emergencyScale's next step runs once approved (no auto scaling range to hold: "Set desired count"). */
const SUBJECT_NEXT = 'updateService';
const REFERENCE_NEXT = 'p2Next';
const GOAL = 1.2;

type Via = 'signal' | 'update';

interface Measurement {
  /** Decision received by the server → the next activity started, ms (server event times). */
  latencyMs: number;
  /** Workflow tasks completed in between; the time they waited for the worker (scheduled → started) and the time
   * the worker had them (started → completed). */
  workflowTasks: number;
  taskWaitMs: number;
  workerMs: number;
  /** The next activity's schedule → start. */
  activityDispatchMs: number;
  /** The events between, for the breakdown: type (and activity), ms after the decision. */
  between: { event: string; atMs: number }[];
}

/** `EVENT_TYPE_WORKFLOW_TASK_SCHEDULED` → `WorkflowTaskScheduled`. */
function eventName(e: HistoryEvent): string {
  const raw = EventType[e.eventType ?? 0] ?? String(e.eventType);
  return raw
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

const idOf = (e: HistoryEvent) => Number(e.eventId);

/**
 * The server's receipt of the decision: WorkflowExecutionSignaled for the signal; for the update, the workflow task
 * the server scheduled when the update arrived (its UpdateAccepted names it as the request's sequencing event) —
 * UpdateAccepted itself is written only once the worker has handled the update, with that task's completion.
 */
function decisionEvent(events: HistoryEvent[], via: Via): HistoryEvent {
  if (via === 'signal') {
    const signaled = events.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approve');
    if (!signaled) throw new Error('no WorkflowExecutionSignaled (approve) in the history');
    return signaled;
  }
  const accepted = events.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  if (!accepted) throw new Error('no WorkflowExecutionUpdateAccepted in the history');
  const seq = Number(accepted.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequestSequencingEventId);
  const sequencing = events.find((e) => idOf(e) === seq);
  if (!sequencing) throw new Error(`the update's sequencing event ${seq} is not in the history`);
  return sequencing;
}

/** The latency from a run's history: decision received → ActivityTaskStarted of the first `next` scheduled after it. */
export function measureHistory(events: HistoryEvent[], via: Via, next: string): Measurement {
  const decision = decisionEvent(events, via);
  const decisionId = idOf(decision);
  const scheduled = events.find(
    (e) => idOf(e) > decisionId && e.activityTaskScheduledEventAttributes?.activityType?.name === next,
  );
  if (!scheduled) throw new Error(`no ${next} scheduled after the decision`);
  const started = events.find(
    (e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1) === idOf(scheduled),
  );
  if (!started) throw new Error(`${next} never started`);
  const t0 = eventMs(decision);
  const t1 = eventMs(started);
  // Workflow tasks between the decision and the schedule of `next`: how many, how long the worker had each.
  let workflowTasks = 0;
  let taskWaitMs = 0;
  let workerMs = 0;
  const byId = (id: unknown) => events.find((x) => idOf(x) === Number(id));
  for (const e of events) {
    const done = e.workflowTaskCompletedEventAttributes;
    if (!done || idOf(e) < decisionId || idOf(e) > idOf(scheduled)) continue;
    workflowTasks++;
    const startedTask = byId(done.startedEventId);
    const scheduledTask = byId(done.scheduledEventId);
    if (startedTask) workerMs += eventMs(e) - eventMs(startedTask);
    // A task scheduled before the decision (then in flight) waited from the decision on.
    if (startedTask && scheduledTask) taskWaitMs += eventMs(startedTask) - Math.max(eventMs(scheduledTask), t0);
  }
  // ActivityTaskStarted is written to history when the activity ends, with its start time: order by time.
  const activityOf = new Map(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => [idOf(e), e.activityTaskScheduledEventAttributes?.activityType?.name ?? '']),
  );
  const between = events
    .filter((e) => idOf(e) >= decisionId && eventMs(e) <= t1)
    .map((e) => {
      const of =
        e.activityTaskScheduledEventAttributes?.activityType?.name ??
        activityOf.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId ?? -1)) ??
        activityOf.get(Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1));
      return { event: of ? `${eventName(e)} (${of})` : eventName(e), atMs: eventMs(e) - t0, id: idOf(e) };
    })
    .sort((a, b) => a.atMs - b.atMs || a.id - b.id)
    .map(({ event, atMs }) => ({ event, atMs }));
  return {
    latencyMs: t1 - t0,
    workflowTasks,
    taskWaitMs,
    workerMs,
    activityDispatchMs: t1 - eventMs(scheduled),
    between,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until `check` holds (polled every 25 ms; a failed check, e.g. a query timing out, counts as not yet). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last: ${last.message})` : '';
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await sleep(25);
  }
}

/** The run has nothing in flight: no workflow task, no activity (so the decision meets an idle, cached run). */
async function idle(handle: WorkflowHandle): Promise<boolean> {
  const d = await handle.describe();
  return !d.raw.pendingWorkflowTask && !(d.raw.pendingActivities?.length ?? 0);
}

/** After the run went idle, a short settle before the decision is sent. */
const SETTLE_MS = 150;

async function decide(handle: WorkflowHandle, via: Via): Promise<void> {
  const payload = { by: 'bob', comment: 'P2 benchmark' };
  if (via === 'signal') await handle.signal(approveSignal, payload);
  else await handle.executeUpdate(approveUpdate, { args: [payload] });
}

/** A run waiting for its decision: send it, wait for the run to end, measure its history. */
interface Prepared {
  handle: WorkflowHandle;
  via: Via;
  next: string;
}

async function measure(p: Prepared): Promise<Measurement> {
  await decide(p.handle, p.via);
  const result = (await p.handle.result()) as { outcome?: string } | undefined;
  if (result?.outcome !== undefined && result.outcome !== 'succeeded') {
    throw new Error(`${p.handle.workflowId} ended ${result.outcome}`);
  }
  return measureHistory((await p.handle.fetchHistory()).events ?? [], p.via, p.next);
}

export const p2: Benchmark = {
  id: 'P2',
  title: 'Approval latency',
  claim:
    'An approval (signal or update) reaches the runbook’s next activity at most 1.2× as late as in a bare workflow ' +
    'that does only signal → activity.',
  async run(ctx: BenchContext) {
    const { stack } = ctx;
    const client = stack.client;
    const rounds = ctx.quick ? ctx.rounds : Math.max(ctx.rounds, 5);
    const vias: Via[] = ['signal', 'update'];
    const runs = rounds * vias.length;

    // The reference: its own bundle, worker and task queue, with a trivial activity.
    const activities: P2Activities = { p2Next: () => Promise.resolve() };
    const [bundle, subjectWorker, services] = await Promise.all([
      bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'bench', 'p2', 'workflows.ts'), logger: quietLogger }),
      startBenchWorker(stack, { taskQueue: benchId('p2-runbook') }),
      // One ECS service per runbook run (a run locks its service until it ends).
      (async () => {
        const region = 'us-east-1';
        const ecs = stack.aws.ecs(region);
        const cluster = benchId('p2');
        await ensureCluster(ecs, cluster);
        const [taskDefinition] = await ensureTaskDefinitions(ecs, `${cluster}-app`, ['example/app:1.0']);
        return Promise.all(
          Array.from({ length: runs }, async (_, i) => {
            const service = `svc-${i}`;
            await ensureService(ecs, { cluster, service, taskDefinition: taskDefinition!, desiredCount: 1 });
            return { region, cluster, service };
          }),
        );
      })(),
    ]);
    const referenceWorker = await Worker.create({
      connection: stack.native,
      taskQueue: benchId('p2-bare'),
      workflowBundle: bundle,
      activities,
      shutdownGraceTime: '2s',
      ...WORKER_DEFAULTS,
    });
    const referenceRunning = referenceWorker.run();

    const startSubject = async (ref: (typeof services)[number], via: Via): Promise<Prepared> => {
      const input: EmergencyScaleInput = {
        ...ref,
        desiredCount: 2,
        reason: 'P2 benchmark: approval latency',
        initiatedBy: 'alice',
        approval: { required: true, timeout: '10m' },
      };
      const handle = await client.workflow.start('emergencyScale', {
        taskQueue: subjectWorker.taskQueue,
        workflowId: benchId('p2-es'),
        args: [input],
      });
      await until('the approval gate', async () => (await handle.query(statusQuery)).state === 'awaiting-approval');
      await until('the run to be idle at its gate', () => idle(handle));
      return { handle, via, next: SUBJECT_NEXT };
    };
    const startReference = async (via: Via): Promise<Prepared> => {
      const handle = await client.workflow.start(via === 'signal' ? 'p2BareSignal' : 'p2BareUpdate', {
        taskQueue: referenceWorker.options.taskQueue,
        workflowId: benchId('p2-bare'),
      });
      await until('the bare workflow to wait', async () =>
        ((await handle.fetchHistory()).events ?? []).some(
          (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        ),
      );
      await until('the bare run to be idle', () => idle(handle));
      return { handle, via, next: REFERENCE_NEXT };
    };

    const subject: Record<Via, Measurement[]> = { signal: [], update: [] };
    const reference: Record<Via, Measurement[]> = { signal: [], update: [] };
    try {
      for (let round = 0; round < rounds; round++) {
        // The round's runs are started together and brought to their wait (the runbook to its approval gate); the
        // decisions are then sent one at a time, each run ending before the next decision.
        const [subjectRuns, referenceRuns] = await Promise.all([
          Promise.all(vias.map((via) => startSubject(services.shift()!, via))),
          Promise.all(vias.map((via) => startReference(via))),
        ]);
        for (const [i, via] of vias.entries()) {
          const s = subjectRuns[i]!;
          const r = referenceRuns[i]!;
          // Alternate which goes first, so a drift of the machine's state favours neither.
          for (const p of round % 2 === 0 ? [s, r] : [r, s]) {
            await sleep(SETTLE_MS);
            (p === s ? subject : reference)[via].push(await measure(p));
          }
          ctx.log(
            `round ${round + 1}/${rounds} ${via}: runbook ${fmtNumber(subject[via].at(-1)!.latencyMs)} ms, bare ` +
              `${fmtNumber(reference[via].at(-1)!.latencyMs)} ms`,
          );
        }
      }
    } finally {
      if (referenceWorker.getState() === 'RUNNING') referenceWorker.shutdown();
      await Promise.all([referenceRunning, subjectWorker.stop()]);
    }

    const rows: BenchRow[] = vias.map((via) => {
      const s = subject[via].map((m) => m.latencyMs);
      const r = reference[via].map((m) => m.latencyMs);
      const ratio = ratioStat(s, r);
      return {
        id: 'P2',
        case: via,
        subject: { label: `emergencyScale: approve ${via} → ${SUBJECT_NEXT} started`, value: stat(s), unit: 'ms' },
        reference: { label: `bare workflow: approve ${via} → activity started`, value: stat(r), unit: 'ms' },
        ratio,
        goal: `≤ ${GOAL}×`,
        met: ratio.median <= GOAL,
      };
    });

    // Means, so that the parts add up to the total.
    const mean = (ms: Measurement[], f: (m: Measurement) => number) =>
      fmtNumber(ms.reduce((a, m) => a + f(m), 0) / ms.length);
    const segments = (ms: Measurement[]) => [
      mean(ms, (m) => m.latencyMs),
      mean(ms, (m) => m.workflowTasks),
      mean(ms, (m) => m.taskWaitMs),
      mean(ms, (m) => m.workerMs),
      mean(ms, (m) => m.latencyMs - m.taskWaitMs - m.workerMs - m.activityDispatchMs),
      mean(ms, (m) => m.activityDispatchMs),
    ];
    const breakdown = (title: string, m: Measurement) => [
      `${title} (${fmtNumber(m.latencyMs)} ms):`,
      '',
      '| Event | ms after the decision |',
      '|---|---|',
      ...m.between.map((b) => `| ${b.event} | ${fmtNumber(b.atMs)} |`),
      '',
    ];
    const details = [
      `Method: in each round two emergencyScale runs (approval required, initiator alice), each on an ECS service ` +
        `of its own in the emulator, and two bare runs are started and brought to their wait (the runbook to its ` +
        `approval gate: status \`awaiting-approval\`, no workflow task or activity pending). Then, one run at a ` +
        `time (${SETTLE_MS} ms apart, each run ending before the next decision), bob approves by the \`approve\` ` +
        `signal or the \`approveUpdate\` update. The latency is read from the run's history (server event times): ` +
        `from the server's receipt of the decision — WorkflowExecutionSignaled, or for the update the workflow ` +
        `task it scheduled when the update arrived (UpdateAccepted's sequencing event; UpdateAccepted itself is ` +
        `only written when the worker's task completes) — to the ActivityTaskStarted of \`${SUBJECT_NEXT}\`, the ` +
        `activity of the next step ("Set desired count"; the service has no auto scaling range to hold). ` +
        `Whatever the frame does in between counts (the "approval-decided" notification, search attributes, ` +
        `status). The reference is a bare workflow of its own bundle (bench/p2/workflows.ts), on a worker and task ` +
        `queue of its own in the same process, that waits for the same signal/update and then runs one activity ` +
        `that returns at once, measured the same way. ${rounds} rounds, each with one runbook and one bare run ` +
        `for the signal and for the update (which goes first alternates); the ratio is taken per round and the ` +
        `goal (≤ ${GOAL}×) is held to its median. One Temporal dev server; both workers in the bench's process.`,
      '',
      'Where the time goes (means over the rounds, ms, so that the parts add up): the workflow tasks between the ' +
        'decision and the next activity’s schedule, how long they waited for the worker (scheduled → started, from ' +
        'the decision on), how long the worker had them (started → completed: the activation and the completion ' +
        'call), the server’s time from the completion to the activity’s schedule (writing the commands), and the ' +
        'activity’s schedule → start.',
      '',
      '| Run | Total | Workflow tasks | Task wait | Worker | Commands | Activity schedule → start |',
      '|---|---|---|---|---|---|---|',
      ...vias.flatMap((via) => [
        `| runbook, ${via} | ${segments(subject[via]).join(' | ')} |`,
        `| bare, ${via} | ${segments(reference[via]).join(' | ')} |`,
      ]),
      '',
      'The events from the decision to the next activity’s start in the last round:',
      '',
      ...breakdown('Runbook, signal', subject.signal.at(-1)!),
      ...breakdown('Bare workflow, signal', reference.signal.at(-1)!),
      ...breakdown('Runbook, update', subject.update.at(-1)!),
      ...breakdown('Bare workflow, update', reference.update.at(-1)!),
    ].join('\n');
    // Where the runbook's extra time went (means, runbook − bare), for the note on a missed goal.
    const extra = (via: Via, f: (m: Measurement) => number) => {
      const avg = (ms: Measurement[]) => ms.reduce((a, m) => a + f(m), 0) / ms.length;
      return fmtNumber(avg(subject[via]) - avg(reference[via]));
    };
    const missedRows = rows.filter((r) => !r.met);
    const missed = missedRows.length
      ? [
          ...missedRows.map((r) => {
            const via = r.case as Via;
            return (
              `- ${via}: median ratio ${fmtNumber(r.ratio.median)}× (goal ≤ ${GOAL}×). The runbook's extra time ` +
              `(means, runbook − bare): ${extra(via, (m) => m.latencyMs)} ms in all, of which the worker's workflow ` +
              `task ${extra(via, (m) => m.workerMs)} ms, the server writing its commands ` +
              `${extra(via, (m) => m.latencyMs - m.taskWaitMs - m.workerMs - m.activityDispatchMs)} ms, and the ` +
              `next activity's schedule → start ${extra(via, (m) => m.activityDispatchMs)} ms.`
            );
          }),
          '',
          'Why: the decision is taken in one workflow task in both (no extra activity, timer or local activity ' +
            'stands between the approval and the next step), so the distance is the weight of that task. (1) The ' +
            'worker: the runbook validates and records the decision, re-renders its status (current details) on ' +
            'each change, closes the gate and starts the next step; and its workflow instances are larger than the ' +
            "bare one's (its own runbook's input schemas and the shared api/common.ts and api/policy.ts are " +
            'evaluated per run), so the workflow thread spends more of its time in garbage collection. (2) The same ' +
            'task also upserts the run-state search attribute (awaiting-approval → running). Done: no ' +
            '"approval-decided" notification activity when the worker has no webhook; a run loads only its own ' +
            "runbook's modules. Tried: announcing the approval only after the next step's activity is scheduled " +
            'made no measurable difference and was reverted. Left: render the status once per activation instead ' +
            'of on each change (tracker.ts), and build the schemas lazily. At these magnitudes (tens of ms on a ' +
            '2-core machine) a few ms of scheduling noise move the ratio by tenths: the signal row met its goal in ' +
            'the same run.',
        ].join('\n')
      : undefined;
    return { rows, details, ...(missed ? { missed } : {}) };
  },
};
