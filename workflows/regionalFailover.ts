// regionalFailover — seed 001 "Runbook 1: Database Failover" (all nine steps), seed 000 "Database Emergency
// Recovery" (promote, update the DB secret, force a new deployment) and "DNS Emergency Failover": preflight (read
// only, with RPO and healthy-primary refusals), approval, pause writes, move the database (the point of no return),
// repoint the app, scale up the secondary, verify it, switch DNS, verify the public endpoint, report. The database
// side is a DB instance promoting its cross-region replica (workflows/lib/failover-db.ts) or an Aurora global
// database switched over or failed over (input `database`, workflows/lib/global-failover.ts); the rest is below.
import { formatDuration, parseDuration } from '../api/duration';
import { normalizeDnsName } from '../api/runbooks/dns-failover';
import { deploymentControllerRefusal, shortName } from '../api/runbooks/ecs';
import {
  regionalFailoverTarget,
  type RegionalFailoverInput,
  type RegionalFailoverResult,
} from '../api/runbooks/regional-failover';
import type { PlannedAction, RunbookReport } from '../api/status';
import { describeRecordTarget, readRecord } from './lib/dns';
import { errorMessage, fail, isClientError } from './lib/errors';
import { hostValue, pauseWrites } from './lib/db-steps';
import { instanceFailoverDb, type FailoverContext, type FailoverDb } from './lib/failover-db';
import { globalFailoverDb } from './lib/global-failover';
import { aws, probes } from './lib/proxies';
import { deployService, repointApp, verifyHealthy, waitDnsInsync } from './lib/region-steps';
import { lockable } from './lib/lock';
import { Checklist } from './lib/operator';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { regionalFailoverEntry } from '../api/runbooks/regional-failover';
import { watchAfterSwitch } from './lib/watch';

export async function regionalFailover(input: RegionalFailoverInput): Promise<RunbookReport<RegionalFailoverResult>> {
  return runRunbook(regionalFailoverEntry, input, {
    target: regionalFailoverTarget,
    async execute(ctx) {
      // The database side: a DB instance and its cross-region replica, or an Aurora global database (input
      // `database`). Everything else is the same steps.
      return failOver(ctx, ctx.params.database ? globalFailoverDb(ctx, ctx.params.database) : instanceFailoverDb(ctx));
    },
  });
}

async function failOver(ctx: FailoverContext, side: FailoverDb): Promise<RegionalFailoverResult | typeof DRY_RUN> {
  const p = ctx.params;
  const startedAt = Date.parse(ctx.tracker.status.startedAt);
  const region = p.secondary.region;
  const secondaryService = { region, cluster: p.secondary.ecs.cluster, service: p.secondary.ecs.service };
  const primaryService = p.primary.ecs
    ? { region: p.primary.region, cluster: p.primary.ecs.cluster, service: p.primary.ecs.service }
    : undefined;
  const recordLabel = `${normalizeDnsName(p.dns.record.name)} ${p.dns.record.type}${p.dns.record.setIdentifier ? ` [${p.dns.record.setIdentifier}]` : ''}`;
  const { names } = side;

  // 1. Preflight, read only. The primary's region may be down: that is reported, not fatal.
  const pre = await ctx.step(
    names.preflight,
    async () => {
      const { db, primaryService: primaryEcs } = await side.read(async () => {
        if (!primaryService) return undefined;
        try {
          const s = await probes.describeService(primaryService);
          return { desiredCount: s.desiredCount, taskDefinition: s.taskDefinition };
        } catch (err) {
          if (isClientError(err)) throw err;
          return { unreachable: errorMessage(err) };
        }
      });
      const service = await aws.describeService(secondaryService);
      const dns = await readRecord(p.dns.hostedZone, p.dns.record, p.dns.target);
      const secret =
        p.appConfig.mode === 'secret'
          ? await aws.getSecretField({ region, secretId: p.appConfig.secretId, key: p.appConfig.key })
          : undefined;
      return { db, primaryEcs, service, dns, secret };
    },
    {
      details: (r) => ({
        ...r.db.details(),
        secondaryService: `${r.service.desiredCount} tasks on ${shortName(r.service.taskDefinition)}`,
        dnsNow: describeRecordTarget(r.dns.current),
      }),
    },
  );
  const { db } = pre;

  // Safety checks: the database can be moved (RPO, "nobody fails over a healthy primary by accident").
  await ctx.step(names.safety, async () => {
    // The app is repointed after the point of no return, by a new task definition or a forced deployment: AWS
    // refuses both through UpdateService for a CODE_DEPLOY or EXTERNAL service. Found now, it costs nothing; found
    // then, it would leave a moved database with no app on it.
    const controlled = deploymentControllerRefusal({
      label: 'secondary service',
      ref: secondaryService,
      deploymentController: pre.service.deploymentController,
      action:
        (p.appConfig.mode === 'task-definition-env'
          ? `deploy a task definition with ${names.endpoint} to it`
          : `force a new deployment of it so that its tasks read ${names.endpoint} from the secret`) +
        `, after ${names.move} (the point of no return)`,
    });
    if (controlled) throw fail('PreconditionFailed', controlled);
    return db.check();
  });

  const endpoint = db.endpoint();
  const canPause = p.pausePrimaryWrites && primaryService && pre.primaryEcs && 'desiredCount' in pre.primaryEcs;
  const previousPrimaryCount =
    pre.primaryEcs && 'desiredCount' in pre.primaryEcs ? pre.primaryEcs.desiredCount : undefined;
  const pauseSkipReason = () =>
    !p.pausePrimaryWrites
      ? 'pausePrimaryWrites is false'
      : !primaryService
        ? 'no primary service in the input'
        : `the primary region's service does not answer (${pre.primaryEcs && 'unreachable' in pre.primaryEcs ? pre.primaryEcs.unreachable : 'unknown'})`;
  const dbPlan = db.plan();
  const plan: PlannedAction[] = [
    { step: '1. Preflight', action: 'read only', params: dbPlan.preflight },
    {
      step: '2. Approval',
      action: p.approval.required ? 'wait for approval' : 'not required',
      params: { quorum: p.approval.quorum },
    },
    canPause
      ? {
          step: '3. Pause writes',
          action: 'ecs:UpdateService',
          params: { ...primaryService, desiredCount: 0, from: previousPrimaryCount },
        }
      : { step: '3. Pause writes', action: 'skipped', params: { why: pauseSkipReason() } },
    dbPlan.move,
    p.appConfig.mode === 'task-definition-env'
      ? {
          step: '5. Repoint the app',
          action: 'ecs:RegisterTaskDefinition',
          params: {
            region,
            from: shortName(pre.service.taskDefinition),
            set: {
              [p.appConfig.variable]: p.appConfig.template ? hostValue(p.appConfig.template, endpoint) : endpoint,
            },
          },
        }
      : {
          step: '5. Repoint the app',
          action: 'secretsmanager:PutSecretValue',
          params: { region, secretId: p.appConfig.secretId, set: { [p.appConfig.key]: endpoint } },
        },
    {
      step: '6. Scale up the secondary service',
      action: 'ecs:UpdateService',
      params: {
        ...secondaryService,
        desiredCount: p.secondary.ecs.desiredCount,
        from: pre.service.desiredCount,
        taskDefinition:
          p.appConfig.mode === 'task-definition-env' ? '(the new revision)' : shortName(pre.service.taskDefinition),
        ...(p.appConfig.mode === 'secret' ? { forceNewDeployment: true } : {}),
      },
    },
    { step: '7. Verify the secondary app', action: 'http GET', params: { url: p.health.secondaryApp.url } },
    {
      step: '8. Switch DNS',
      action: 'route53:ChangeResourceRecordSets',
      params: {
        record: recordLabel,
        action: 'UPSERT',
        from: describeRecordTarget(pre.dns.current),
        to: describeRecordTarget(pre.dns.desired),
      },
    },
    { step: '9. Verify the public endpoint', action: 'http GET', params: { url: p.health.publicEndpoint.url } },
    { step: '10. Report', action: 'none', params: {} },
  ];
  if (ctx.planned(plan) === 'dry-run') return DRY_RUN;

  // Take what the run will change, whichever runbook would change it too: the database's (the replica it promotes,
  // or both global clusters), the secondary service, the primary's service when it pauses it, the DNS record, the
  // secret it writes (secret mode). The primary DB instance is only read.
  await ctx.lockResources([
    ...db.locks(),
    lockable.ecsService(secondaryService),
    ...(canPause && primaryService ? [lockable.ecsService(primaryService)] : []),
    lockable.record({ hostedZoneId: pre.dns.zone.id, name: p.dns.record.name, type: p.dns.record.type }),
    ...(p.appConfig.mode === 'secret' ? [lockable.secret({ region, secretId: p.appConfig.secretId })] : []),
  ]);

  // 2. Approval, showing the plan and the measured lag.
  await ctx.approval(
    `${db.approval()}; app ${p.secondary.ecs.service} → ${p.secondary.ecs.desiredCount} tasks; ` +
      `DNS ${recordLabel} → ${describeRecordTarget(pre.dns.desired)}` +
      (p.reason ? ` — reason: ${p.reason}` : ''),
  );

  const checklist = new Checklist([
    { id: 'database', label: names.checklist },
    { id: 'repoint', label: 'repoint the app' },
    { id: 'scale-up', label: 'scale up the secondary service' },
    { id: 'verify-app', label: 'verify the secondary app' },
    { id: 'switch-dns', label: 'switch DNS' },
    { id: 'verify-public', label: 'verify the public endpoint' },
  ] as const);
  const progress = () => checklist.progress();
  const stableTimeoutMs = parseDuration(p.stableTimeout);

  // 3. Pause writes in the primary region (compensated until the point of no return).
  let paused = false;
  if (canPause && primaryService && previousPrimaryCount !== undefined) {
    await pauseWrites(ctx, { which: 'primary', service: primaryService, count: previousPrimaryCount, stableTimeoutMs });
    paused = true;
    checklist.note(
      `paused writes: ${primaryService.service} in ${p.primary.region} scaled from ${previousPrimaryCount} to 0`,
    );
  } else {
    ctx.tracker.skipped('Pause writes', pauseSkipReason());
  }

  // 4. Move the database: the point of no return.
  const moved = await db.move({ did: (detail) => checklist.did('database', detail), progress });
  const newEndpoint = moved.endpoint;
  const { dataLossEstimateSeconds } = moved;

  // 5. Repoint the app at the new writer's endpoint.
  const run = { ctx, checklist };
  const repointed = await repointApp(run, 'repoint', {
    appConfig: p.appConfig,
    region,
    baseTaskDefinition: pre.service.taskDefinition,
    endpoint: newEndpoint,
    names: names.repoint,
  });
  const taskDefinition = repointed.taskDefinition ?? pre.service.taskDefinition;

  // 6. Scale up the secondary service on that revision (a new deployment makes tasks re-read the secret).
  const stable = await deployService(run, 'scale-up', {
    names: { update: 'Scale up the secondary service', wait: 'Wait until the secondary service is stable' },
    service: secondaryService,
    want: { desiredCount: p.secondary.ecs.desiredCount, taskDefinition },
    forceNewDeployment: p.appConfig.mode === 'secret',
    timeoutMs: stableTimeoutMs,
  });

  // 7. Verify the secondary app.
  const secondaryHealth = await verifyHealthy(run, 'verify-app', {
    name: 'Verify the secondary app',
    check: p.health.secondaryApp,
    what: 'the secondary app',
  });

  // 8. Switch DNS: save the exact record sets right before, UPSERT, wait INSYNC.
  const saved = await ctx.critical(
    'Save the DNS records',
    () => readRecord(p.dns.hostedZone, p.dns.record, p.dns.target),
    progress,
    { details: (r) => ({ savedRecordSets: r.saved }) },
  );
  const change = await ctx.critical(
    'Switch DNS to the secondary',
    () =>
      aws.changeRecordSets({
        hostedZoneId: saved.zone.id,
        comment: `regionalFailover ${ctx.workflowId}`,
        changes: [{ action: 'UPSERT', recordSet: saved.desired }],
      }),
    progress,
    { mutating: true, params: { from: describeRecordTarget(saved.current), to: describeRecordTarget(saved.desired) } },
  );
  await waitDnsInsync(run, change.changeId, parseDuration(p.insyncTimeout));
  checklist.did('switch-dns', `${recordLabel} → ${describeRecordTarget(saved.desired)}`);

  // 9. Verify the public endpoint.
  const publicHealth = await verifyHealthy(run, 'verify-public', {
    name: 'Verify the public endpoint',
    check: p.health.publicEndpoint,
    what: 'the public endpoint',
  });

  // 10. Report: RTO, data-loss estimate, incident summary.
  const detected = p.detectedAt && Date.parse(p.detectedAt) <= startedAt ? Date.parse(p.detectedAt) : undefined;
  if (p.detectedAt && detected === undefined) {
    ctx.warn(`detectedAt (${p.detectedAt}) is after the run started; RTO is measured from the start`);
  }
  const rtoFrom = detected !== undefined ? 'detectedAt' : 'start';
  const rtoSeconds = Math.round((Date.now() - (detected ?? startedAt)) / 1000);
  ctx.incident({
    title: moved.incident.title,
    resolvedAs: 'serving from the secondary region',
    ...(p.detectedAt && detected !== undefined ? { detectedAt: p.detectedAt } : {}),
    rtoSeconds,
    ...(p.rtoTarget ? { rtoTargetSeconds: Math.round(parseDuration(p.rtoTarget) / 1000) } : {}),
    ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
    impact: [
      ...moved.incident.before,
      [
        'RTO',
        `${formatDuration(rtoSeconds * 1000)} (from ${rtoFrom === 'detectedAt' ? 'detection' : 'the start of the run'})`,
      ],
      ['Data-loss estimate', moved.incident.dataLoss],
      ...(p.acceptDataLoss ? ([['Data loss accepted', p.acceptDataLoss.reason]] as [string, string][]) : []),
    ],
    resolution:
      moved.incident.resolution +
      `${p.appConfig.mode === 'secret' ? `secret ${p.appConfig.secretId} updated` : `task definition ${shortName(taskDefinition)} registered`}; ` +
      `${p.secondary.ecs.service} scaled to ${p.secondary.ecs.desiredCount}; ${recordLabel} now points to ${describeRecordTarget(saved.desired)}. ` +
      `Fail back with regionalFailback {"failoverWorkflowId": "${ctx.workflowId}"}.`,
  });

  const watched = p.watch ? await watchAfterSwitch(ctx, p.watch, region, names.watch) : undefined;

  return {
    primary: {
      ...moved.primary,
      ...(primaryService
        ? {
            ecs: {
              cluster: primaryService.cluster,
              service: primaryService.service,
              ...(previousPrimaryCount !== undefined ? { previousCount: previousPrimaryCount } : {}),
              ...(pre.primaryEcs && 'taskDefinition' in pre.primaryEcs
                ? { taskDefinition: pre.primaryEcs.taskDefinition }
                : {}),
              paused,
            },
          }
        : {}),
    },
    secondary: {
      ...moved.secondary,
      endpoint: newEndpoint,
      ecs: {
        cluster: secondaryService.cluster,
        service: secondaryService.service,
        previousCount: pre.service.desiredCount,
        previousTaskDefinition: pre.service.taskDefinition,
        desiredCount: stable.desiredCount,
        taskDefinition,
      },
    },
    appConfig: {
      ...p.appConfig,
      ...(p.appConfig.mode === 'secret'
        ? {
            secretRegion: region,
            ...(pre.secret ? { previousSecretVersionId: pre.secret.versionId } : {}),
            ...(repointed.secretVersionId ? { secretVersionId: repointed.secretVersionId } : {}),
          }
        : {}),
    },
    dns: {
      hostedZoneId: saved.zone.id,
      name: p.dns.record.name,
      type: p.dns.record.type,
      ...(p.dns.record.setIdentifier ? { setIdentifier: p.dns.record.setIdentifier } : {}),
      previousRecordSets: saved.saved,
      newRecordSet: saved.desired,
    },
    ...(db.lagSeconds !== undefined ? { replicaLagSeconds: db.lagSeconds } : {}),
    ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
    ...(p.acceptDataLoss ? { acceptedDataLoss: p.acceptDataLoss.reason } : {}),
    ...(p.plannedSwitchover ? { plannedSwitchover: p.plannedSwitchover.reason } : {}),
    rtoSeconds,
    rtoFrom,
    health: { secondaryApp: secondaryHealth, publicEndpoint: publicHealth },
    ...(watched ? { watch: watched } : {}),
    ...(moved.database ? { database: moved.database } : {}),
  };
}
