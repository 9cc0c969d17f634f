// P1 — a regional failover by the runbook vs the seed's bash (seed 001 "Runbook 1: Database Failover", steps 1–8,
// AWS CLI, one command after the other) against the same emulator, and vs the floor: the same AWS calls made back
// to back by the SDK in one process. Each round makes a fresh topology for each of the three (a failover changes
// it), then times them one after the other.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startDemoApp } from '../scripts/lib/demo-apps';
import { breakdown, type Breakdown } from './p1/history';
import { sdkFailover } from './p1/sdk-floor';
import { bashEnv, failoverInput, makeTopology, type Topology } from './p1/topology';
import { benchId, startBenchWorker } from './lib/worker';
import { fmtNumber, ratioStat, stat } from './lib/stats';
import type { Benchmark, BenchContext, BenchResult } from './lib/types';

const SCRIPT = path.join(__dirname, 'p1', 'seed-failover.sh');

function runBash(env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn('bash', [SCRIPT], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(performance.now() - start);
      else reject(new Error(`the seed's bash failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' / ')}`));
    });
  });
}

export const p1: Benchmark = {
  id: 'P1',
  title: 'Failover vs the seed’s bash',
  claim:
    'A regionalFailover (approval off, one health probe) takes at most 0.1× the time of seed 001’s bash steps 1–8 ' +
    'and at most 3× a bare SDK script making the same calls',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const { stack } = ctx;
    const app = await startDemoApp('p1-app');
    const loginUrl = `${app.url}/login`;
    const worker = await startBenchWorker(stack);
    const rounds = ctx.quick ? 3 : Math.max(ctx.rounds, 5);
    const wf: number[] = [];
    const bash: number[] = [];
    const sdk: number[] = [];
    const breakdowns: Breakdown[] = [];
    try {
      // A warm-up run of each (first SDK client, first workflow task of the bundle): not counted.
      const warm = async () => {
        const [a, b] = await Promise.all([makeTopology(stack.aws, 'p1w'), makeTopology(stack.aws, 'p1w')]);
        await sdkFailover(stack.aws, a, app.healthUrl, loginUrl);
        await stack.client.workflow.execute('regionalFailover', {
          taskQueue: worker.taskQueue,
          workflowId: benchId('p1-warm'),
          args: [failoverInput(b, app.healthUrl)],
        });
      };
      // Every round's topologies made up front, a few at a time (not timed).
      const topologies: Topology[][] = [];
      for (let r = 0; r < rounds; r++) {
        topologies.push(await Promise.all(['p1b', 'p1s', 'p1f'].map((p) => makeTopology(stack.aws, p))));
      }
      await warm();
      for (let r = 0; r < rounds; r++) {
        const t = topologies[r]!;
        bash.push(await runBash(bashEnv(t[0]!, app.healthUrl, loginUrl)));
        let start = performance.now();
        await sdkFailover(stack.aws, t[1]!, app.healthUrl, loginUrl);
        sdk.push(performance.now() - start);
        const workflowId = benchId('p1-failover');
        start = performance.now();
        const report = (await stack.client.workflow.execute('regionalFailover', {
          taskQueue: worker.taskQueue,
          workflowId,
          args: [failoverInput(t[2]!, app.healthUrl)],
        })) as { outcome: string };
        wf.push(performance.now() - start);
        if (!String(report.outcome).startsWith('succeeded')) throw new Error(`the failover ended ${report.outcome}`);
        const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
        breakdowns.push(breakdown(history.events ?? []));
        ctx.log(
          `round ${r + 1}: workflow ${Math.round(wf.at(-1)!)} ms, bash ${Math.round(bash.at(-1)!)} ms, SDK ${Math.round(sdk.at(-1)!)} ms`,
        );
      }
    } finally {
      await worker.stop();
      await app.close();
    }
    const vsBash = ratioStat(wf, bash);
    const vsSdk = ratioStat(wf, sdk);
    const subject = { label: 'regionalFailover', value: stat(wf), unit: 'ms' as const };
    const b = breakdowns[Math.floor(breakdowns.length / 2)]!;
    const activityRows = b.activities
      .sort((x, y) => y.runMs + y.queueMs - (x.runMs + x.queueMs))
      .map((a) => `| ${a.name} | ${a.count} | ${a.queueMs} | ${a.runMs} |`);
    const activityMs = b.activities.reduce((s, a) => s + a.runMs, 0);
    const queueMs = b.activities.reduce((s, a) => s + a.queueMs, 0);
    const details = [
      `Per round: three fresh topologies (primary DB us-east-1 + cross-region replica us-west-1 with ReplicaLag ` +
        `datapoints, an ECS service in each region, a Route 53 failover pair, a log group), then one after the ` +
        `other: \`bench/p1/seed-failover.sh\` (AWS CLI ${'v1'}, the seed's commands in order), ` +
        `\`bench/p1/sdk-floor.ts\` (the same calls through the SDK in this process) and \`regionalFailover\` (approval ` +
        `off, one probe per health check, started by the client and timed until its result arrives). ${rounds} rounds ` +
        `after a warm-up of each; every subject ends with the replica promoted, the secondary serving on a task ` +
        `definition that names it, and DNS on the secondary.`,
      '',
      `Where the workflow's time goes (the median round's history, server times: ${fmtNumber(b.totalMs)} ms from ` +
        `start to close, ${b.events} events): ${b.workflowTasks} workflow tasks (${b.workflowTaskMs} ms scheduled → ` +
        `completed, summed), ${b.activities.reduce((s, a) => s + a.count, 0)} activities (${activityMs} ms running, ` +
        `${queueMs} ms waiting in the task queue), ${b.localActivities} local activities, ${b.childWorkflows} child ` +
        `workflows (${b.childMs} ms), ${b.timers} timers.`,
      '',
      '| activity | count | queued ms | running ms |',
      '|---|---|---|---|',
      ...activityRows,
    ].join('\n');
    const rows = [
      {
        id: 'P1',
        case: 'vs the seed’s bash',
        subject,
        reference: { label: 'seed 001 bash (AWS CLI)', value: stat(bash), unit: 'ms' as const },
        ratio: vsBash,
        goal: '≤ 0.1×',
        met: vsBash.median <= 0.1,
      },
      {
        id: 'P1',
        case: 'vs bare SDK calls',
        subject,
        reference: { label: 'SDK script, same calls', value: stat(sdk), unit: 'ms' as const },
        ratio: vsSdk,
        goal: '≤ 3×',
        met: vsSdk.median <= 3,
      },
    ];
    const steps = b.activities.reduce((s, a) => s + a.count, 0);
    const perStep = steps ? (b.totalMs - b.firstTaskMs - activityMs) / steps : 0;
    const missed =
      vsSdk.median > 3 || vsBash.median > 0.1
        ? [
            `The workflow makes the calls the SDK script makes, but durably: each change (and each wait after one) is an ` +
              `activity of its own, recorded before the next step starts, so each of its ${steps} activities costs a ` +
              `workflow-task round trip on top of its call (server records the result, schedules a workflow task, the ` +
              `worker runs it and answers with the next command): about ${fmtNumber(perStep)} ms a step here, outside ` +
              `the calls themselves (${activityMs} ms). The first workflow task takes ${b.firstTaskMs} ms: the worker ` +
              `evaluates the run's modules (its input schemas, zod) once for every run. The run also starts ` +
              `${b.childWorkflows} lock children (its own resource lock and one per resource it changes).`,
            '',
            'Done to close the distance: eager activity dispatch (no matching wait: queued 0–1 ms); the four ' +
              'resource locks started at once; no notification activity when the worker has no webhook; a run loads ' +
              'only its own runbook’s modules (a lock child: none of the schemas). The issue measured the run at ' +
              'about 1.6 s before them; the figure above is after.',
            '',
            'Tried and taken back: the reads as local activities (the preflight’s seven reads in one workflow task ' +
              'instead of seven round trips, about 100 ms less here). A worker killed while a run waited, and another ' +
              'replaying it, hit a nondeterminism error on that change’s patch marker in the CI run; until that is ' +
              'understood the reads stay activities.',
            '',
            'Left, in order of gain: merge a change with the wait that follows it into one activity where repeating ' +
              'the change is harmless (UpdateService + wait for stable, ChangeResourceRecordSets + wait for INSYNC); ' +
              'the reads as local activities, once replay-safe (the patch decided once at the start of the run, not ' +
              'where a read first happens); build the input schemas lazily so the first task does not evaluate them; ' +
              'run the preflight reads in parallel. Not done: making changes local activities — a retried workflow ' +
              'task would repeat them.',
          ].join('\n')
        : undefined;
    return { rows, details, ...(missed ? { missed } : {}) };
  },
};
