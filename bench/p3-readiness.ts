// P3 — Readiness detection. A resource becomes ready T after a change (an RDS reboot with failover; an ECS forced
// deployment), played out by the realistic AWS layer in real time. Subject: the real runbooks (rdsRebootFailover,
// ecsRestart) on a worker of their own whose AWS calls go through the layer — how long after the resource was ready
// their next step (the health check after the wait) started, and how many describe calls the wait made. Reference: the
// AWS CLI's waiters on a twin resource changed the same way in the same round. Every case (T × round × kind) runs at
// the same time, each on its own resources: the waits are idle, so the run takes about the longest T.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RebootDBInstanceCommand, CreateDBInstanceCommand } from '@aws-sdk/client-rds';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { createActivities } from '../activities';
import { createAwsClients } from '../activities/aws-clients';
import type { RdsRebootFailoverInput } from '../api/runbooks/rds-reboot';
import type { EcsRestartInput } from '../api/runbooks/ecs-deploy';
import { ensureCluster, ensureService, ensureTaskDefinitions } from '../scripts/lib/fixtures';
import { DEMO_DB } from '../scripts/lib/postgres';
import { startRealisticLayer } from '../scripts/realistic/layer';
import { awsCli, runWaiter, WAITER_DELAY_S } from './p3/aws-cli';
import { nextStepAfter } from './p3/history';
import { fmtNumber, ratioStat, stat } from './lib/stats';
import type { Benchmark, BenchContext, BenchRow, Stat } from './lib/types';
import { benchId, startBenchWorker } from './lib/worker';

const REGION = 'us-east-1';
/** The waits' longest delay between probes (waitForDbFailover, waitForServiceStable: maxDelayMs). */
const MAX_INTERVAL_S = 15;
/** The lateness goal's share of T, and the growth of the delay it allows per probe. */
const SHARE = 0.1;

type Kind = 'rds' | 'ecs';

const KIND = {
  rds: {
    name: 'RDS reboot with failover',
    runbook: 'rdsRebootFailover',
    wait: 'waitForDbFailover',
    waiter: 'aws rds wait db-instance-available',
  },
  ecs: {
    name: 'ECS forced deployment',
    runbook: 'ecsRestart',
    wait: 'waitForServiceStable',
    waiter: 'aws ecs wait services-stable',
  },
} as const;

interface Measurement {
  kind: Kind;
  T: number;
  round: number;
  /** Ready → the runbook's next step started (ms). */
  subjectLateMs: number;
  /** Ready → the wait activity completed (ms): what the poll schedule costs. */
  subjectSeenMs: number;
  /** The wait activity completed → the next step started (ms): what Temporal costs. */
  nextStepMs: number;
  next: string;
  subjectDescribes: number;
  /** Other reads of the wait (ECS: its stopped tasks, read while the service is not stable yet). */
  subjectOtherReads: number;
  waiterLateMs: number;
  waiterDescribes: number;
}

/** The calls bound: 2 + log(T / 1 s) / log(1 + 10 %) + T / max interval (see the details). */
export function callsBound(T: number): number {
  return 2 + Math.log(Math.max(1, T / 1000)) / Math.log(1 + SHARE) + T / 1000 / MAX_INTERVAL_S;
}

const lateGoalMs = (T: number) => Math.max(1000, SHARE * T);
const tName = (T: number) => (T >= 60_000 ? `${T / 60_000} min` : `${T / 1000} s`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(ctx: BenchContext): Promise<{ rows: BenchRow[]; details: string; missed?: string }> {
  const { stack } = ctx;
  const Ts = ctx.quick ? [1_000, 10_000] : [1_000, 10_000, 60_000, 300_000];
  const cli = awsCli(ctx.log);

  // Calls per resource (RDS: the DB instance; ECS: the cluster, one per service), as the layer saw them.
  const calls = new Map<string, { at: number; operation: string; status: number }[]>();
  const minuteMs = new Map<string, number>(); // resource → T (one AWS minute: a reboot, a 1-task deployment)
  const layer = await startRealisticLayer({
    upstream: stack.awsEndpoint,
    minuteMsFor: (resource) => minuteMs.get(resource),
    onCall: (call, record) => {
      const p = call.params;
      const key =
        call.service === 'rds' && typeof p.DBInstanceIdentifier === 'string'
          ? `rds/${p.DBInstanceIdentifier}`
          : call.service === 'ecs' && typeof p.cluster === 'string'
            ? `ecs/${p.cluster.split('/').pop()}`
            : undefined;
      if (!key) return;
      const list = calls.get(key) ?? [];
      list.push({ at: Date.now(), operation: record.operation, status: record.status });
      calls.set(key, list);
    },
  });
  const through = createAwsClients({ endpoint: layer.endpoint });
  const health = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  const healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
  const worker = await startBenchWorker(stack, {
    activities: () =>
      createActivities({
        aws: through,
        temporal: stack.client,
        dbEndpointOverrides: { '*.rds.amazonaws.com': `127.0.0.1:${stack.pgPort}` },
      }),
  });

  /** When the resource's change (reboot, deployment) took effect at the layer: its phases start then. */
  const changedAt = (key: string, operation: string): number => {
    const c = (calls.get(key) ?? []).find((x) => x.operation === operation && x.status < 300);
    if (!c) throw new Error(`no ${operation} for ${key} reached the layer`);
    return c.at;
  };
  const readsBetween = (key: string, from: number, to: number) => {
    const reads = (calls.get(key) ?? []).filter(
      (c) => c.at > from && c.at <= to && !/^(Reboot|Update)/.test(c.operation),
    );
    const describes = reads.filter((c) => c.operation.startsWith('Describe')).length;
    return { describes, other: reads.length - describes };
  };

  try {
    // The resources, made in the emulator directly (the layer has not seen them: they are simply there, ready).
    const ecs = stack.aws.ecs(REGION);
    const family = benchId('p3-family');
    const [taskDefinition] = await ensureTaskDefinitions(ecs, family, ['example/app:1.0']);
    const makeDb = async (name: string) => {
      await stack.aws.rds(REGION).send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: name,
          Engine: 'postgres',
          DBInstanceClass: 'db.t3.micro',
          AllocatedStorage: 20,
          MasterUsername: DEMO_DB.user,
          MasterUserPassword: DEMO_DB.password,
          DBName: DEMO_DB.database,
          MultiAZ: true,
        }),
      );
      return name;
    };
    const makeService = async (name: string) => {
      const cluster = `${name}-cluster`;
      await ensureCluster(ecs, cluster);
      await ensureService(ecs, { cluster, service: name, taskDefinition: taskDefinition!, desiredCount: 1 });
      return { region: REGION, cluster, service: name };
    };
    interface ServiceRef {
      region: string;
      cluster: string;
      service: string;
    }
    interface Case {
      T: number;
      round: number;
      db: { subject: string; reference: string };
      svc: { subject: ServiceRef; reference: ServiceRef };
    }
    const cases: Case[] = [];
    // Longest first: the run ends about the longest T after it started.
    for (const T of [...Ts].reverse()) {
      for (let round = 1; round <= ctx.rounds; round++) {
        const tag = `${T / 1000}s-r${round}`;
        const [dbS, dbR, svcS, svcR] = await Promise.all([
          makeDb(benchId(`p3-db-${tag}-s`)),
          makeDb(benchId(`p3-db-${tag}-w`)),
          makeService(benchId(`p3-svc-${tag}-s`)),
          makeService(benchId(`p3-svc-${tag}-w`)),
        ]);
        for (const r of [dbS, dbR, svcS.service, svcR.service]) minuteMs.set(r, T);
        cases.push({ T, round, db: { subject: dbS, reference: dbR }, svc: { subject: svcS, reference: svcR } });
      }
    }
    ctx.log(
      `${cases.length} cases (T = ${Ts.map(tName).join(', ')}; ${ctx.rounds} rounds), 4 resources each; waiter: ${cli}`,
    );

    const healthCheck = { url: healthUrl, consecutive: 1, interval: '100ms', timeout: '10s' };

    const subject = async (kind: Kind, c: Case) => {
      const input: RdsRebootFailoverInput | EcsRestartInput =
        kind === 'rds'
          ? {
              region: REGION,
              dbInstance: c.db.subject,
              health: healthCheck,
              approval: { required: false },
              initiatedBy: 'p3-bench',
              reason: 'P3 benchmark: readiness detection',
            }
          : {
              ...c.svc.subject,
              health: healthCheck,
              approval: { required: false },
              initiatedBy: 'p3-bench',
              reason: 'P3 benchmark: readiness detection',
            };
      const handle = await stack.client.workflow.start(KIND[kind].runbook, {
        taskQueue: worker.taskQueue,
        workflowId: benchId(`p3-${kind}`),
        args: [input],
      });
      const report = (await handle.result()) as { outcome: string; error?: unknown };
      if (report.outcome !== 'succeeded') {
        throw new Error(`${KIND[kind].runbook} ended ${report.outcome}: ${JSON.stringify(report.error ?? '')}`);
      }
      const step = nextStepAfter((await handle.fetchHistory()).events ?? [], KIND[kind].wait);
      const key = kind === 'rds' ? `rds/${c.db.subject}` : `ecs/${c.svc.subject.cluster}`;
      const ready = changedAt(key, kind === 'rds' ? 'RebootDBInstance' : 'UpdateService') + c.T;
      return { ready, step, reads: readsBetween(key, ready - c.T, step.nextStartedAt) };
    };

    const reference = async (kind: Kind, c: Case) => {
      let key: string;
      let args: string[];
      if (kind === 'rds') {
        key = `rds/${c.db.reference}`;
        await through
          .rds(REGION)
          .send(new RebootDBInstanceCommand({ DBInstanceIdentifier: c.db.reference, ForceFailover: true }));
        args = ['rds', 'wait', 'db-instance-available', '--region', REGION, '--db-instance-identifier', c.db.reference];
      } else {
        const s = c.svc.reference;
        key = `ecs/${s.cluster}`;
        await through
          .ecs(REGION)
          .send(new UpdateServiceCommand({ cluster: s.cluster, service: s.service, forceNewDeployment: true }));
        args = ['ecs', 'wait', 'services-stable', '--region', REGION, '--cluster', s.cluster, '--services', s.service];
      }
      const exitAt = await runWaiter(cli, args, layer.endpoint);
      const ready = changedAt(key, kind === 'rds' ? 'RebootDBInstance' : 'UpdateService') + c.T;
      return { ready, exitAt, reads: readsBetween(key, ready - c.T, exitAt) };
    };

    const measure = async (kind: Kind, c: Case): Promise<Measurement> => {
      const [s, w] = await Promise.all([subject(kind, c), reference(kind, c)]);
      const m: Measurement = {
        kind,
        T: c.T,
        round: c.round,
        subjectLateMs: s.step.nextStartedAt - s.ready,
        subjectSeenMs: s.step.waitCompletedAt - s.ready,
        nextStepMs: s.step.nextStartedAt - s.step.waitCompletedAt,
        next: s.step.next,
        subjectDescribes: s.reads.describes,
        subjectOtherReads: s.reads.other,
        waiterLateMs: w.exitAt - w.ready,
        waiterDescribes: w.reads.describes,
      };
      if (m.subjectSeenMs < 0)
        ctx.log(`warning: ${kind} T=${tName(c.T)}: the wait ended before the layer's ready time`);
      ctx.log(
        `${kind} T=${tName(c.T)} round ${c.round}: runbook ${fmtNumber(m.subjectLateMs / 1000)} s late ` +
          `(${m.subjectDescribes} describes), waiter ${fmtNumber(m.waiterLateMs / 1000)} s (${m.waiterDescribes})`,
      );
      return m;
    };

    // Staggered starts, longest T first: each case starts two runbooks and two CLI processes (a second of CPU each
    // to start), so the starts are spread out — over time the shorter cases have anyway (the last one still ends
    // well before the longest T) — instead of landing on 2 cores at once and delaying one another's workflow tasks.
    const stagger = ctx.quick ? 2_000 : 8_000;
    const measurements = (
      await Promise.all(
        cases.map(async (c, i) => {
          await sleep(i * stagger);
          return Promise.all([measure('rds', c), measure('ecs', c)]);
        }),
      )
    ).flat();
    return report(Ts, measurements, ctx.rounds, stagger);
  } finally {
    await worker.stop();
    through.destroy();
    await layer.close();
    await new Promise<void>((resolve) => health.close(() => resolve()));
  }
}

function report(Ts: number[], ms: Measurement[], rounds: number, staggerMs: number) {
  const rows: BenchRow[] = [];
  const breakdown: string[] = [];
  const missed: string[] = [];
  const sec = (v: number[]) => stat(v.map((x) => x / 1000));
  const num = (x: number) => (Number.isInteger(x) ? String(x) : fmtNumber(x));
  const f = (s: Stat, unit = '') =>
    s.min === s.max ? `${num(s.median)}${unit}` : `${num(s.median)}${unit} (${num(s.min)}–${num(s.max)})`;
  for (const kind of ['rds', 'ecs'] as const) {
    for (const T of Ts) {
      const r = ms.filter((m) => m.kind === kind && m.T === T).sort((a, b) => a.round - b.round);
      const late = sec(r.map((m) => m.subjectLateMs));
      const goalMs = lateGoalMs(T);
      const lateMet = late.median * 1000 <= goalMs;
      const caseName = `${KIND[kind].name}, T = ${tName(T)}`;
      rows.push({
        id: 'P3',
        case: `${caseName}: lateness`,
        subject: { label: `${KIND[kind].runbook}: ready → next step started`, value: late, unit: 's' },
        reference: {
          label: `${KIND[kind].waiter}: ready → exit`,
          value: sec(r.map((m) => m.waiterLateMs)),
          unit: 's',
        },
        ratio: ratioStat(
          r.map((m) => m.subjectLateMs),
          r.map((m) => m.waiterLateMs),
        ),
        goal: `runbook ≤ ${fmtNumber(goalMs / 1000)} s late (max(1 s, 10 % of T), median)`,
        met: lateMet,
      });
      const describes = stat(r.map((m) => m.subjectDescribes));
      const bound = callsBound(T);
      const callsMet = describes.median <= bound;
      rows.push({
        id: 'P3',
        case: `${caseName}: describe calls`,
        subject: { label: `${KIND[kind].wait}: describe calls`, value: describes, unit: 'calls' },
        reference: {
          label: `${KIND[kind].waiter}: describe calls`,
          value: stat(r.map((m) => m.waiterDescribes)),
          unit: 'calls',
        },
        ratio: ratioStat(
          r.map((m) => m.subjectDescribes),
          r.map((m) => m.waiterDescribes),
        ),
        goal: `≤ ${fmtNumber(bound)} (2 + log₁.₁(T/1 s) + T/15 s, median)`,
        met: callsMet,
      });
      const seen = sec(r.map((m) => m.subjectSeenMs));
      const next = sec(r.map((m) => m.nextStepMs));
      const other = stat(r.map((m) => m.subjectOtherReads));
      breakdown.push(
        `| ${caseName} | ${f(seen, ' s')} | ${f(next, ' s')} | ${[...new Set(r.map((m) => m.next))].join(', ')} | ` +
          `${f(describes)} | ${f(other)} | ${f(sec(r.map((m) => m.waiterLateMs)), ' s')} |`,
      );
      if (!lateMet) {
        missed.push(
          `- ${caseName}: the runbook's next step started ${fmtNumber(late.median)} s after ready (median), goal ` +
            `${fmtNumber(goalMs / 1000)} s: the wait saw it ${fmtNumber(seen.median)} s late (the poll schedule: the ` +
            `delay before a probe is at most max(1 s, 10 % of the time waited), capped at ${MAX_INTERVAL_S} s), and ` +
            `the step after the wait started ${fmtNumber(next.median)} s after the wait completed (Temporal: the ` +
            `activity's completion, a workflow task, the next activity's dispatch).`,
        );
      }
      if (!callsMet) {
        missed.push(
          `- ${caseName}: ${fmtNumber(describes.median)} describe calls (median) against a bound of ` +
            `${fmtNumber(bound)}.`,
        );
      }
    }
  }
  const details = [
    `Method: each case (resource kind × T × round) has two fresh resources in the emulator behind the realistic ` +
      `layer, which makes an RDS reboot with failover (\`rebooting\` in the old zone) and a 1-task ECS forced ` +
      `deployment (two deployments until the old task drained) last exactly T of real time from the moment the ` +
      `change reached it. Subject: the real runbook (\`rdsRebootFailover\`, \`ecsRestart\`; approval off, one ` +
      `health probe) on a worker of its own whose AWS calls go through the layer; timed from ready (the layer's ` +
      `time of the RebootDBInstance / UpdateService + T) to the ActivityTaskStarted of the step after the wait ` +
      `(history, server time). Reference: the same change made on the twin resource, then the AWS CLI waiter ` +
      `(\`${KIND.rds.waiter}\`, every ${WAITER_DELAY_S.rds} s; \`${KIND.ecs.waiter}\`, every ${WAITER_DELAY_S.ecs} s) ` +
      `against the layer's endpoint, timed from ready to its exit. Describe calls are counted at the layer, per ` +
      `resource, from the change to the next step (the waiter: to its exit). ${rounds} rounds; every case of every ` +
      `T runs at the same time (starts staggered by ${staggerMs / 1000} s, longest T first). Figures are medians (min–max); a goal is met ` +
      `when the median holds.`,
    '',
    `The calls bound 2 + log(T / 1 s) / log(1.1) + T / 15 s reads the issue's "calls growing no faster than log(T) ` +
      `plus one per max-interval" with the base of the log the lateness goal sets: to be at most 10 % of T late ` +
      `whatever T is, the delay before a probe may be at most 10 % of the time waited, so the delays grow by at ` +
      `most 10 % a probe and any poller needs about log(T) / log(1.1) probes (a log₂ bound would need doubling ` +
      `delays, which are up to 50 % late); plus one probe per max interval (15 s, the waits' longest delay) and 2 ` +
      `(the first probe, at once, and the one that sees it ready).`,
    '',
    '| case | ready → wait saw it | wait done → next step | next step | describe calls | other reads | waiter: ready → exit |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...breakdown,
    '',
    `"Other reads": \`waitForServiceStable\` also lists the service's stopped tasks on each probe while the service ` +
      `is not stable yet (to stop at once on a crash loop); the waiter reads nothing but the describe.`,
  ].join('\n');
  return { rows, details, ...(missed.length ? { missed: missed.join('\n') } : {}) };
}

export const p3: Benchmark = {
  id: 'P3',
  title: 'Readiness detection',
  claim:
    'A runbook takes its next step at most max(1 s, 10 % of T) after a resource became ready at T, with describe ' +
    'calls growing like log(T) plus one per max interval, against the AWS CLI waiters’ 15–30 s polls.',
  background: true,
  run,
};
