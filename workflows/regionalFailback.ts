// regionalFailback — the reverse of a completed regionalFailover, seeded from what it recorded (seed 001 Runbook 1
// "Rollback Procedure", done properly): preflight (read only: the world as the failover left it), move the writer back
// to the original region (the point of no return, compensated until then), repoint the original region's app, restore
// the original service count and revision, restore the recorded DNS record sets exactly, verify, put the secondary
// service back as it was, report. The database side is a new cross-region read replica of the promoted DB in the
// original region, promoted in turn (workflows/lib/failback-db.ts), or — after an Aurora global database failover — a
// switchover back to the original cluster (workflows/lib/global-failback.ts); the rest is below.
import { formatDuration, parseDuration } from '../api/duration';
import type { RecordSet } from '../api/runbooks/dns-failover';
import { normalizeDnsName } from '../api/runbooks/dns-failover';
import { deploymentControllerRefusal, shortName } from '../api/runbooks/ecs';
import {
  type RegionalFailbackInput,
  type RegionalFailbackResult,
  type RegionalFailoverResult,
} from '../api/runbooks/regional-failover';
import type { PlannedAction, RunbookReport } from '../api/status';
import { describeRecordTarget } from './lib/dns';
import { fail } from './lib/errors';
import { pauseWrites } from './lib/db-steps';
import { instanceFailbackDb, type FailbackContext, type FailbackDb } from './lib/failback-db';
import { globalFailbackDb } from './lib/global-failback';
import { aws } from './lib/proxies';
import { deployService, repointApp, verifyHealthy, waitDnsInsync } from './lib/region-steps';
import { lockable } from './lib/lock';
import { Checklist } from './lib/operator';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { regionalFailbackEntry } from '../api/runbooks/regional-failover';

export { failbackReplicaId } from './lib/failback-db';

const describeSets = (sets: RecordSet[]) =>
  sets.map((r) => `${r.SetIdentifier ? `[${r.SetIdentifier}] ` : ''}${describeRecordTarget(r)}`).join('; ');

export async function regionalFailback(input: RegionalFailbackInput): Promise<RunbookReport<RegionalFailbackResult>> {
  return runRunbook(regionalFailbackEntry, input, {
    target: (p) => p.failoverWorkflowId,
    async execute(ctx) {
      const p = ctx.params;

      // 1. Preflight (read only): what the failover did.
      const fo = await ctx.step(
        'Preflight: read what the failover did',
        async () => {
          const report = (await aws.getCompletedRunResult({
            workflowId: p.failoverWorkflowId,
            expectType: 'regionalFailover',
            ...(p.failoverRunId ? { runId: p.failoverRunId } : {}),
          })) as RunbookReport<RegionalFailoverResult>;
          if (!report.result)
            throw fail('PreconditionFailed', `${p.failoverWorkflowId} has no failover result to reverse`);
          return report.result;
        },
        {
          details: (f) => ({
            promoted: `${f.secondary.region}/${f.secondary.dbInstance}`,
            originalRegion: f.primary.region,
          }),
        },
      );
      // The database side: a new replica of the promoted DB, or a switchover back of the Aurora global database.
      return failBack(ctx, fo, fo.database ? globalFailbackDb(ctx, fo, fo.database) : instanceFailbackDb(ctx, fo));
    },
  });
}

async function failBack(
  ctx: FailbackContext,
  fo: RegionalFailoverResult,
  side: FailbackDb,
): Promise<RegionalFailbackResult | typeof DRY_RUN> {
  const p = ctx.params;
  const startedAt = Date.parse(ctx.tracker.status.startedAt);
  const { names } = side;
  const original = { region: side.regions.original };
  const secondaryService = {
    region: side.regions.secondary,
    cluster: fo.secondary.ecs.cluster,
    service: fo.secondary.ecs.service,
  };
  const primaryService = fo.primary.ecs
    ? { region: fo.primary.region, cluster: fo.primary.ecs.cluster, service: fo.primary.ecs.service }
    : undefined;
  const recordLabel = `${normalizeDnsName(fo.dns.name)} ${fo.dns.type}`;

  // The state of both regions now: the database (its own reads and refusals), the services, DNS.
  const now = await ctx.step(
    names.preflight,
    async () => {
      const db = await side.read();
      const primarySvc = primaryService ? await aws.describeService(primaryService) : undefined;
      const secondarySvc = await aws.describeService(secondaryService);
      // After the point of no return both services are put back on a task definition (the original one with a
      // forced deployment in secret mode): AWS refuses that through UpdateService for a CODE_DEPLOY or EXTERNAL
      // service. Refused here, before anything is created.
      const pnr = `, after ${names.move} (the point of no return)`;
      for (const [state, ref, label, action] of [
        [
          primarySvc,
          primaryService,
          'original service',
          `deploy the recorded revision with ${names.endpoint} to it${fo.appConfig.mode === 'secret' ? ' (a forced deployment)' : ''}${pnr}`,
        ],
        [
          secondarySvc,
          secondaryService,
          'secondary service',
          `put it back on its revision from before the failover${pnr}`,
        ],
      ] as const) {
        const refusal =
          state && ref
            ? deploymentControllerRefusal({ label, ref, deploymentController: state.deploymentController, action })
            : undefined;
        if (refusal) throw fail('PreconditionFailed', refusal);
      }
      const records = await aws.listRecordSets({
        hostedZoneId: fo.dns.hostedZoneId,
        name: fo.dns.name,
        type: fo.dns.type,
      });
      // DNS must still be as the failover left it: otherwise someone changed it since (or this failover was already
      // failed back), and restoring the old records would undo their change.
      const left = fo.dns.newRecordSet;
      const nowRecord = records.find((r) => (r.SetIdentifier ?? '') === (left.SetIdentifier ?? ''));
      if (!nowRecord || describeRecordTarget(nowRecord) !== describeRecordTarget(left)) {
        throw fail(
          'PreconditionFailed',
          `${recordLabel}${left.SetIdentifier ? ` [${left.SetIdentifier}]` : ''} points to ` +
            `${nowRecord ? describeRecordTarget(nowRecord) : '(nothing)'}, not to ${describeRecordTarget(left)} as the failover ` +
            `left it: it was changed since (or already failed back); check DNS by hand`,
        );
      }
      return { db, primarySvc, secondarySvc, records };
    },
    {
      details: (r) => ({
        ...r.db.details(),
        secondaryService: `${r.secondarySvc.desiredCount} tasks`,
        dnsNow: describeSets(r.records),
      }),
    },
  );
  const { db } = now;

  // What the original-region service goes back to: its recorded count and revision, or — when its region did not
  // answer during the failover — the count given in the input (else what the secondary runs now) and its current
  // revision.
  const primaryCount =
    fo.primary.ecs?.previousCount ?? p.originalServiceDesiredCount ?? Math.max(1, now.secondarySvc.desiredCount);
  const primaryBase = fo.primary.ecs?.taskDefinition ?? now.primarySvc?.taskDefinition;
  if (primaryService && fo.primary.ecs?.previousCount === undefined) {
    ctx.warn(
      `the failover did not record ${primaryService.service}'s count (its region did not answer then): restoring it ` +
        `to ${primaryCount} tasks${p.originalServiceDesiredCount ? ' (from the input)' : ' (what the secondary runs now)'}`,
    );
  }
  const dbPlan = db.plan();
  const plan: PlannedAction[] = [
    ...dbPlan.before,
    { step: 'Approval', action: p.approval.required ? 'wait for approval' : 'not required', params: {} },
    {
      step: 'Pause writes in the secondary',
      action: 'ecs:UpdateService',
      params: { ...secondaryService, desiredCount: 0, from: now.secondarySvc.desiredCount },
    },
    dbPlan.move,
    fo.appConfig.mode === 'task-definition-env'
      ? {
          step: 'Repoint the original region app',
          action: 'ecs:RegisterTaskDefinition',
          params: {
            region: original.region,
            from: primaryBase ? shortName(primaryBase) : '(none)',
            set: { [fo.appConfig.variable]: dbPlan.endpoint },
          },
        }
      : {
          step: 'Repoint the original region app',
          action: 'secretsmanager:PutSecretValue',
          params: {
            region: original.region,
            secretId: fo.appConfig.secretId,
            set: { [fo.appConfig.key]: dbPlan.endpoint },
          },
        },
    {
      step: 'Restore the original service',
      action: primaryService ? 'ecs:UpdateService' : 'skipped',
      params: primaryService
        ? { ...primaryService, desiredCount: primaryCount }
        : { why: 'no primary service recorded' },
    },
    {
      step: 'Restore the DNS records',
      action: 'route53:ChangeResourceRecordSets',
      params: { record: recordLabel, to: describeSets(fo.dns.previousRecordSets) },
    },
    {
      step: 'Put the secondary service back',
      action: 'ecs:UpdateService',
      params: {
        ...secondaryService,
        desiredCount: fo.secondary.ecs.previousCount,
        taskDefinition: shortName(fo.secondary.ecs.previousTaskDefinition),
      },
    },
  ];
  if (ctx.planned(plan.map((a, i) => ({ ...a, step: `${i + 1}. ${a.step}` }))) === 'dry-run') return DRY_RUN;

  // Take what the run will change, whichever runbook would change it too, before anything is created: the databases
  // (the promoted DB and the new replica by the name it will have, or both global clusters), both services, the DNS
  // record, the secret in the original region (secret mode). The old primary instance is only read.
  await ctx.lockResources([
    ...db.locks(),
    lockable.ecsService(secondaryService),
    ...(primaryService ? [lockable.ecsService(primaryService)] : []),
    lockable.record({ hostedZoneId: fo.dns.hostedZoneId, name: fo.dns.name, type: fo.dns.type }),
    ...(fo.appConfig.mode === 'secret'
      ? [lockable.secret({ region: original.region, secretId: fo.appConfig.secretId })]
      : []),
  ]);

  const stableTimeoutMs = parseDuration(p.stableTimeout);

  // What the database needs before the approval (a new replica: created, compensated, its lag checked).
  const prepared = await db.prepare();

  // Approval.
  await ctx.approval(
    prepared.approval +
      `${primaryService ? `${primaryService.service} to ${primaryCount} tasks, ` : ''}DNS ${recordLabel} to ${describeSets(fo.dns.previousRecordSets)}` +
      (p.reason ? ` — reason: ${p.reason}` : ''),
  );

  const checklist = new Checklist([
    { id: 'database', label: names.checklist },
    { id: 'repoint', label: 'repoint the app' },
    { id: 'restore-service', label: 'restore the original service' },
    { id: 'verify-app', label: 'verify the original app' },
    { id: 'restore-dns', label: 'restore DNS' },
    { id: 'verify-public', label: 'verify the public endpoint' },
    { id: 'secondary-back', label: 'put the secondary service back' },
  ] as const);
  for (const note of prepared.notes) checklist.note(note);
  // From the pause until DNS is restored, public traffic goes to the secondary region with no task running there: an
  // outage, which an operator deciding between retryStep and abandon must see in the "done" list.
  const secondaryCount = now.secondarySvc.desiredCount;
  const paused = `paused writes: ${secondaryService.service} in ${secondaryService.region} scaled from ${secondaryCount} to 0`;
  // (Not "scale it back up": past the point of no return its DB is no longer the one the original region writes to.)
  const outage =
    ` — OUTAGE: DNS ${recordLabel} still sends traffic to ${secondaryService.region}, where ` +
    `${secondaryService.service} runs no task, until DNS is restored`;
  let dnsRestored = false;
  const progress = () => checklist.progress((d) => (d === paused && !dnsRestored ? `${d}${outage}` : d));

  // Pause writes in the secondary (compensated until the point of no return).
  await pauseWrites(ctx, { which: 'secondary', service: secondaryService, count: secondaryCount, stableTimeoutMs });
  checklist.note(paused);

  // Move the writer back: the point of no return.
  const moved = await prepared.move({ did: (detail) => checklist.did('database', detail), progress });
  const { endpoint } = moved;

  // Repoint the original region's app and restore its service to the recorded count (and revision).
  const run = { ctx, checklist, progress };
  const repointed = await repointApp(run, 'repoint', {
    appConfig: fo.appConfig,
    region: original.region,
    baseTaskDefinition: primaryBase,
    endpoint,
    names: names.repoint,
  });
  const primaryTaskDefinition = repointed.taskDefinition ?? primaryBase;

  let primaryEcs: RegionalFailbackResult['primaryEcs'];
  if (primaryService && primaryTaskDefinition) {
    const stable = await deployService(run, 'restore-service', {
      names: { update: 'Restore the original service', wait: 'Wait until the original service is stable' },
      service: primaryService,
      want: { desiredCount: primaryCount, taskDefinition: primaryTaskDefinition },
      forceNewDeployment: fo.appConfig.mode === 'secret',
      timeoutMs: stableTimeoutMs,
    });
    primaryEcs = {
      cluster: primaryService.cluster,
      service: primaryService.service,
      desiredCount: stable.desiredCount,
      taskDefinition: primaryTaskDefinition,
    };
  }

  const primaryHealth = await verifyHealthy(run, 'verify-app', {
    name: 'Verify the original region app',
    check: p.health.primaryApp,
    what: `the app in ${original.region}`,
  });

  // Restore the DNS record sets the failover saved, exactly.
  const restore = await ctx.critical(
    'Restore the recorded DNS record sets',
    () =>
      aws.restoreRecordSets({
        hostedZoneId: fo.dns.hostedZoneId,
        name: fo.dns.name,
        type: fo.dns.type,
        saved: fo.dns.previousRecordSets,
        comment: `regionalFailback ${ctx.workflowId}`,
      }),
    progress,
    { mutating: true, details: (r) => ({ upserted: r.upserted, deleted: r.deleted }) },
  );
  if (restore.changeId) await waitDnsInsync(run, restore.changeId, parseDuration(p.insyncTimeout));
  dnsRestored = true;
  checklist.did('restore-dns', `${recordLabel} → ${describeSets(fo.dns.previousRecordSets)}`);

  const publicHealth = await verifyHealthy(run, 'verify-public', {
    name: 'Verify the public endpoint',
    check: p.health.publicEndpoint,
    what: 'the public endpoint',
  });

  // Put the secondary service back to what it was before the failover (count and revision).
  const back = {
    desiredCount: fo.secondary.ecs.previousCount,
    taskDefinition: fo.secondary.ecs.previousTaskDefinition,
  };
  const secondaryStable = await deployService(run, 'secondary-back', {
    names: { update: 'Put the secondary service back as it was', wait: 'Wait until the secondary service is stable' },
    service: secondaryService,
    want: back,
    timeoutMs: stableTimeoutMs,
  });
  for (const warning of moved.warnings) ctx.warn(warning);
  if (back.desiredCount > 0) {
    ctx.warn(
      `${secondaryService.service} in ${secondaryService.region} runs ${back.desiredCount} tasks again on ` +
        `${shortName(back.taskDefinition)}, whose database setting predates the failover: check it points where you want.`,
    );
  }

  const rtoSeconds = Math.round((Date.now() - startedAt) / 1000);
  ctx.incident({
    title: `failback of ${p.failoverWorkflowId}`,
    resolvedAs: `serving from ${original.region} again`,
    rtoSeconds,
    impact: [['RTO', formatDuration(rtoSeconds * 1000)], ...moved.incident.impact],
    resolution:
      moved.incident.resolution +
      `${primaryEcs ? `${primaryEcs.service} back to ${primaryEcs.desiredCount} tasks; ` : ''}` +
      `${recordLabel} restored to ${describeSets(fo.dns.previousRecordSets)}; ` +
      `${secondaryService.service} in ${secondaryService.region} back to ${back.desiredCount} tasks.` +
      (moved.incident.tail ? ` ${moved.incident.tail}` : ''),
  });

  return {
    failoverWorkflowId: p.failoverWorkflowId,
    newPrimary: moved.newPrimary,
    ...(moved.lagSeconds !== undefined ? { replicaLagSeconds: moved.lagSeconds } : {}),
    restoredRecordSets: fo.dns.previousRecordSets,
    ...(primaryEcs ? { primaryEcs } : {}),
    secondaryEcs: {
      cluster: secondaryService.cluster,
      service: secondaryService.service,
      desiredCount: secondaryStable.desiredCount,
      taskDefinition: back.taskDefinition,
    },
    health: { primaryApp: primaryHealth, publicEndpoint: publicHealth },
    rtoSeconds,
  };
}
