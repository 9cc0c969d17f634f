// P4 — Backup verification fan-out: backupVerification over a fleet of N RDS instances (N = 20, 100, 200; quick: 20)
// through one in-process worker whose AWS clients carry the production rate limits (activities/rate-limit.ts),
// set for the bench so that they bind. Its wall time is held to the bound those limits set — the slowest service's
// (calls the run made − burst) / rate — and the worker's RSS and the children's history sizes are read beside it.
import { DEFAULT_AWS_RATE_LIMITS, type RateLimits } from '../activities/rate-limit';
import { createActivities } from '../activities';
import { createAwsClients } from '../activities/aws-clients';
import type { BackupVerificationInput, BackupVerificationResult } from '../api/runbooks/restore';
import type { RunbookReport } from '../api/status';
import { FLEET_TAG, countedClients, historySize, inBatches, makeFleet, rateBound, type Fleet } from './p4/fleet';
import { fmtNumber, ratioStat, since, stat } from './lib/stats';
import type { BenchContext, BenchResult, BenchRow, Benchmark } from './lib/types';
import { benchId, startBenchWorker } from './lib/worker';

/** The bench's limits: RDS binds; Secrets Manager (one read a database) is set so that it binds less. */
const BENCH_LIMITS: RateLimits = {
  ...DEFAULT_AWS_RATE_LIMITS,
  rds: { rate: 50, burst: 10 },
  secretsmanager: { rate: 50, burst: 10 },
};
/** Restores at once: enough that the rate limit, not the children's own latency, is what bounds the run. */
const MAX_CONCURRENT = 10;
/** Each fleet in a region of its own, reused over the rounds (each run deletes its temporary instances). */
const REGION: Record<number, string> = { 20: 'us-west-1', 100: 'us-west-2', 200: 'eu-north-1' };
const RATIO_GOAL = 1.2;
const RSS_GOAL_MIB = 400;
/** Temporal's hard history limits, and the warning it gives at a fifth of them. */
const HISTORY_LIMIT = { events: 51_200, bytes: 50 * 1024 * 1024 };

const MiB = 1024 * 1024;

interface RoundFigures {
  n: number;
  wallMs: number;
  boundMs: number;
  boundService: string;
  perService: Record<string, { calls: number; ms: number }>;
  rssBaseline: number;
  rssPeak: number;
  parent: { events: number; bytes: number };
  child: { events: number; bytes: number };
}

async function oneRun(
  ctx: BenchContext,
  taskQueue: string,
  fleet: Fleet,
  counted: ReturnType<typeof countedClients>,
): Promise<RoundFigures> {
  const { client } = ctx.stack;
  const input: BackupVerificationInput = {
    region: fleet.region,
    tag: FLEET_TAG,
    dataChecks: {
      secretId: fleet.secretId,
      checks: [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 1000 } }],
      timeout: '30s',
    },
    maxSnapshotAge: '24h',
    maxConcurrent: MAX_CONCURRENT,
    restoreTimeout: '10m',
    reason: 'bench P4: backup verification fan-out',
  };
  const workflowId = benchId('p4-verify');
  global.gc?.();
  const rssBaseline = process.memoryUsage().rss;
  let rssPeak = rssBaseline;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100);
  counted.reset();
  const t0 = performance.now();
  let report: RunbookReport<BackupVerificationResult>;
  try {
    const handle = await client.workflow.start('backupVerification', { taskQueue, workflowId, args: [input] });
    report = (await handle.result()) as RunbookReport<BackupVerificationResult>;
  } finally {
    clearInterval(sampler);
  }
  const wallMs = since(t0);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  const result = report.result;
  if (!result?.passed || result.databases.length !== fleet.ids.length) {
    throw new Error(`the run did not verify all ${fleet.ids.length} databases: ${result?.summary ?? 'no result'}`);
  }
  const bound = rateBound(counted.calls, BENCH_LIMITS);
  const parent = await historySize(client, workflowId);
  const children = await inBatches(fleet.ids, 10, (id) => historySize(client, `${workflowId}/verify-${id}`));
  const child = {
    events: Math.max(...children.map((c) => c.events)),
    bytes: Math.max(...children.map((c) => c.bytes)),
  };
  return {
    n: fleet.ids.length,
    wallMs,
    boundMs: bound.ms,
    boundService: bound.service,
    perService: bound.perService,
    rssBaseline,
    rssPeak,
    parent,
    child,
  };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const sizes = ctx.quick ? [20] : [20, 100, 200];
  const fleets = new Map<number, Fleet>();
  const tSetup = performance.now();
  // The fleets are made outside any rate limit (their making is not what is measured).
  const setupAws = createAwsClients({ rateLimits: {} });
  try {
    for (const n of sizes) fleets.set(n, await makeFleet(setupAws, REGION[n]!, n));
  } finally {
    setupAws.destroy();
  }
  ctx.log(`fleets of ${sizes.join(', ')} instances ready in ${fmtNumber(since(tSetup) / 1000)} s`);

  const counted = countedClients(BENCH_LIMITS);
  const worker = await startBenchWorker(ctx.stack, {
    activities: () =>
      createActivities({
        aws: counted.aws,
        temporal: ctx.stack.client,
        dbEndpointOverrides: { '*.rds.amazonaws.com': `127.0.0.1:${ctx.stack.pgPort}` },
      }),
  });
  const figures = new Map<number, RoundFigures[]>(sizes.map((n) => [n, []]));
  try {
    for (let round = 1; round <= ctx.rounds; round++) {
      for (const n of sizes) {
        const f = await oneRun(ctx, worker.taskQueue, fleets.get(n)!, counted);
        figures.get(n)!.push(f);
        ctx.log(
          `round ${round}, ${n} instances: ${fmtNumber(f.wallMs / 1000)} s vs bound ${fmtNumber(f.boundMs / 1000)} s ` +
            `(${f.boundService}: ${f.perService[f.boundService]?.calls ?? 0} calls) = ${fmtNumber(f.wallMs / f.boundMs)}×; ` +
            `RSS ${fmtNumber(f.rssBaseline / MiB)} → ${fmtNumber(f.rssPeak / MiB)} MiB; ` +
            `largest child ${f.child.events} events`,
        );
      }
    }
  } finally {
    await worker.stop();
    counted.aws.destroy();
  }
  return report(ctx, sizes, figures);
}

function report(ctx: BenchContext, sizes: number[], figures: Map<number, RoundFigures[]>): BenchResult {
  const rows: BenchRow[] = [];
  for (const n of sizes) {
    const f = figures.get(n)!;
    const ratio = ratioStat(
      f.map((r) => r.wallMs),
      f.map((r) => r.boundMs),
    );
    rows.push({
      id: 'P4',
      case: `${n} instances`,
      subject: { label: 'backupVerification wall time', value: stat(f.map((r) => r.wallMs / 1000)), unit: 's' },
      reference: { label: 'rate-limit bound', value: stat(f.map((r) => r.boundMs / 1000)), unit: 's' },
      ratio,
      goal: `≤ ${RATIO_GOAL}×`,
      met: ratio.median <= RATIO_GOAL,
    });
  }
  const largest = sizes.at(-1)!;
  const big = figures.get(largest)!;
  const rssRatio = stat(big.map((r) => r.rssPeak / MiB / RSS_GOAL_MIB));
  rows.push({
    id: 'P4',
    case: `worker RSS, ${largest}`,
    subject: { label: 'peak RSS of the bench process', value: stat(big.map((r) => r.rssPeak / MiB)), unit: 'MiB' },
    reference: { label: 'goal', value: stat(big.map(() => RSS_GOAL_MIB)), unit: 'MiB' },
    ratio: rssRatio,
    goal: '≤ 1× (400 MB)',
    met: rssRatio.median <= 1,
  });
  const all = sizes.flatMap((n) => figures.get(n)!);
  const childEvents = stat(big.map((r) => r.child.events));
  const histRatio = stat(big.map((r) => r.child.events / HISTORY_LIMIT.events));
  rows.push({
    id: 'P4',
    case: `child history, ${largest}`,
    subject: { label: 'largest child history', value: childEvents, unit: 'events' },
    reference: { label: 'Temporal limit', value: stat(big.map(() => HISTORY_LIMIT.events)), unit: 'events' },
    ratio: histRatio,
    goal: '≤ 0.2× (warning level)',
    met: histRatio.median <= 0.2 && all.every((r) => r.child.bytes <= HISTORY_LIMIT.bytes / 5),
  });
  if (sizes.length > 1) {
    const small = figures.get(sizes[0]!)!;
    const perSmall = small.map((r) => r.wallMs / sizes[0]!);
    const perBig = big.map((r) => r.wallMs / largest);
    const scale = ratioStat(perBig, perSmall);
    rows.push({
      id: 'P4',
      case: `scaling ${sizes[0]} → ${largest}`,
      subject: { label: `wall time per instance at ${largest}`, value: stat(perBig), unit: 'ms' },
      reference: { label: `wall time per instance at ${sizes[0]}`, value: stat(perSmall), unit: 'ms' },
      ratio: scale,
      goal: '≤ 1.2× (linear)',
      met: scale.median <= 1.2,
    });
  }

  const rate = (s: string) => `${BENCH_LIMITS[s]!.rate}/s (burst ${BENCH_LIMITS[s]!.burst})`;
  const med = (xs: number[]) => stat(xs).median;
  const breakdown = sizes.map((n) => {
    const f = figures.get(n)!;
    const calls = (s: string) => fmtNumber(med(f.map((r) => r.perService[s]?.calls ?? 0)));
    return (
      `| ${n} | ${calls('rds')} | ${calls('secretsmanager')} | ${fmtNumber(med(f.map((r) => r.wallMs)) / n)} | ` +
      `${fmtNumber(med(f.map((r) => r.rssBaseline / MiB)))} → ${fmtNumber(med(f.map((r) => r.rssPeak / MiB)))} | ` +
      `${fmtNumber(med(f.map((r) => r.parent.events)))} / ${fmtNumber(med(f.map((r) => r.parent.bytes / 1024)))} | ` +
      `${fmtNumber(med(f.map((r) => r.child.events)))} / ${fmtNumber(med(f.map((r) => r.child.bytes / 1024)))} |`
    );
  });
  const details = [
    `One \`backupVerification\` run per fleet size and round (${ctx.rounds} rounds, sizes ${sizes.join(', ')} interleaved ` +
      `in each round), selecting the fleet by tag, \`maxConcurrent\` ${MAX_CONCURRENT}, one SQL check per database. ` +
      `Each fleet (N tagged instances with a manual snapshot each) lives in a moto region of its own; the temporary ` +
      `restores are instant in moto, so what is left is the runbook's own work and the rate limits.`,
    `Timed: from \`workflow.start\` to the result, in the bench process. One in-process worker (the real activities, ` +
      `the prebuilt bundle) whose AWS clients carry the production rate limiter (activities/rate-limit.ts, a token ` +
      `bucket per service and region) set to RDS ${rate('rds')}, Secrets Manager ${rate('secretsmanager')}, ` +
      `the defaults for the rest.`,
    `Reference, per run: the rate-limit bound = max over services of (calls the run made − burst) / rate; the calls ` +
      `are counted by an SDK middleware beside the limiter's in the worker's clients (each attempt that went to AWS).`,
    `RSS: \`process.memoryUsage().rss\` of the bench process (worker, client and all) sampled every 100 ms during the ` +
      `run, baseline just before it. History: \`describe()\` of the parent and of every child after the run ` +
      `(events / bytes), against Temporal's limits of 51,200 events and 50 MB (it warns at 10,240 and 10 MB).`,
    `Goals are judged on the median over rounds.`,
    '',
    '| instances | RDS calls | Secrets Manager calls | wall ms per instance | RSS MiB (before → peak) | parent history (events / KiB) | largest child (events / KiB) |',
    '|---|---|---|---|---|---|---|',
    ...breakdown,
  ].join('\n');
  const missedRows = rows.filter((r) => !r.met);
  const growth = med(big.map((r) => (r.rssPeak - r.rssBaseline) / MiB));
  const why = [
    ...missedRows.map((r) => `- ${r.case}: ${fmtNumber(r.ratio.median)}× against ${r.goal}.`),
    '',
    `Why: every workflow the worker starts evaluates its modules again in its own module cache (the SDK's ` +
      `reusable V8 context isolates module state per workflow), and those modules build zod input schemas at import ` +
      `(api/): each child workflow costs CPU and heap for that while it lives. Before this change each child ` +
      `evaluated every runbook's schemas (1.1–2.3 s of CPU per evaluation measured while developing under a load of ` +
      `~20); now workflows/index.ts loads each workflow when a run of it first runs and each runbook's entry lives ` +
      `with its schema, so a child evaluates only the backup-verification modules and the shared api/common.ts and ` +
      `api/policy.ts — still the largest part of a child's cost. With ${MAX_CONCURRENT} children at once the ` +
      `process's RSS grows by ${fmtNumber(growth)} MiB during the ${largest}-instance run, and the children's CPU ` +
      `(with the Temporal server, moto and PostgreSQL on the same 2 cores), not the rate limiter, sets the pace.`,
    `Done: the rate limiter (a token bucket per service and region in every AWS client, RUNBOOKS_AWS_RATE_LIMITS), ` +
      `\`maxConcurrent\` up to 50 so that on AWS (restores of minutes) concurrency lets the rate limit be the bound.`,
    `Left: keep the schemas out of the per-workflow module cost — build them lazily, or validate inputs outside ` +
      `the workflow (api/ and the frame). The RSS figure is the bench process's, not a worker's alone: its ` +
      `baseline (${fmtNumber(med(big.map((r) => r.rssBaseline / MiB)))} MiB) also holds the earlier benchmarks' ` +
      `workers, the webpack bundling of the workflows, the client and the stack's connections; a worker measured in ` +
      `a process of its own is the next step for this figure.`,
  ];
  return { rows, details, ...(missedRows.length ? { missed: why.join('\n') } : {}) };
}

export const p4: Benchmark = {
  id: 'P4',
  title: 'Backup verification fan-out',
  claim:
    'backupVerification over 20–200 RDS instances runs within 1.2× of the bound the configured AWS API rate limits set, in under 400 MB, far from Temporal’s history limits, scaling linearly.',
  run,
};
