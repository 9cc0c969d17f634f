// regionalFailback of an Aurora global database failover (the failover's result has `database`): the writer goes
// back to the original cluster by SwitchoverGlobalCluster (planned, no data loss) once that cluster is an available
// secondary again, and the services and DNS go back as the failover recorded them. Preflight (read only, the world
// must be as the failover left it), lock, approval, pause writes in the secondary (compensated), the switchover (the
// point of no return), wait until the original cluster is the available writer, repoint the original region's app at
// its writer endpoint, restore its service, verify, restore the recorded DNS record sets, verify, put the secondary
// service back, report.
import { formatDuration, parseDuration } from '../../api/duration';
import type { RecordSet } from '../../api/runbooks/dns-failover';
import { normalizeDnsName } from '../../api/runbooks/dns-failover';
import { deploymentControllerRefusal, shortName } from '../../api/runbooks/ecs';
import type {
  RegionalFailbackParams,
  RegionalFailbackResult,
  RegionalFailoverResult,
} from '../../api/runbooks/regional-failover';
import {
  memberNamed,
  primaryClusterHealth,
  sameCluster,
  writerOf,
  type GlobalFailoverRecord,
} from '../../api/runbooks/regional-failover-global';
import type { PlannedAction } from '../../api/status';
import { pauseWrites } from './db-steps';
import { describeRecordTarget } from './dns';
import { errorMessage, fail, isClientError } from './errors';
import { lockable } from './lock';
import { Checklist } from './operator';
import { aws, probes, waits } from './proxies';
import { deployService, repointApp, verifyHealthy, waitDnsInsync } from './region-steps';
import { DRY_RUN, type RunbookContext } from './runbook';

const describeSets = (sets: RecordSet[]) =>
  sets.map((r) => `${r.SetIdentifier ? `[${r.SetIdentifier}] ` : ''}${describeRecordTarget(r)}`).join('; ');

export async function failBackGlobalDatabase(
  ctx: RunbookContext<RegionalFailbackParams, undefined, RegionalFailbackResult>,
  fo: RegionalFailoverResult,
  db: GlobalFailoverRecord,
): Promise<RegionalFailbackResult | typeof DRY_RUN> {
  const p = ctx.params;
  const startedAt = Date.parse(ctx.tracker.status.startedAt);
  const original = { region: db.before.region, cluster: db.before.cluster, arn: db.before.arn };
  const current = { region: db.after.region, cluster: db.after.cluster, arn: db.after.arn };
  const secondaryService = {
    region: current.region,
    cluster: fo.secondary.ecs.cluster,
    service: fo.secondary.ecs.service,
  };
  const primaryService = fo.primary.ecs
    ? { region: fo.primary.region, cluster: fo.primary.ecs.cluster, service: fo.primary.ecs.service }
    : undefined;
  const recordLabel = `${normalizeDnsName(fo.dns.name)} ${fo.dns.type}`;
  const ignored = (
    [
      'newReplicaId',
      'replicaInstanceClass',
      'replicaKmsKeyId',
      'replicaSubnetGroup',
      'replicaSecurityGroupIds',
    ] as const
  ).filter((k) => p[k] !== undefined);
  if (ignored.length) {
    ctx.warn(
      `${ignored.join(', ')} ignored: an Aurora global database fails back by switchover, no replica is created`,
    );
  }

  // 1. Preflight, read only: the global database and DNS still as the failover left them, the original cluster an
  // available secondary, both services deployable.
  const now = await ctx.step(
    'Preflight: global database, original cluster, services, DNS',
    async () => {
      const global = await aws.describeGlobalCluster({ region: original.region, globalCluster: db.globalCluster });
      const writer = writerOf(global);
      if (!writer || !sameCluster(current.arn, writer.arn)) {
        throw fail(
          'PreconditionFailed',
          `the writer of ${global.id} is ${writer ? `${writer.id} (${writer.region})` : 'none'}, not ${current.cluster} as ` +
            `the failover left it: it was moved since (or already failed back); check it by hand`,
        );
      }
      if (global.failoverState) {
        throw fail(
          'PreconditionFailed',
          `a ${global.failoverState.status} of ${global.id} is under way; fail back once it has finished`,
        );
      }
      if (!memberNamed(global, original.arn)) {
        throw fail(
          'PreconditionFailed',
          `${original.cluster} (${original.region}) is no longer a member of the global database ${global.id}: add it ` +
            `back as a secondary (or create a new secondary cluster there), then fail back`,
        );
      }
      let originalCluster;
      try {
        originalCluster = await probes.findGlobalMemberCluster({ region: original.region, cluster: original.arn });
      } catch (err) {
        if (isClientError(err)) throw err;
        throw fail(
          'PreconditionFailed',
          `the original region ${original.region} does not answer (${errorMessage(err)}); fail back once it does`,
        );
      }
      const health = primaryClusterHealth(originalCluster ?? { status: 'not-found' });
      if (!originalCluster || originalCluster.status !== 'available' || !originalCluster.endpoint) {
        throw fail(
          'PreconditionFailed',
          `${original.cluster} (${original.region}) is not an available secondary yet: ${health.why}. Fail back once ` +
            `it is (aws rds describe-db-clusters --region ${original.region} --db-cluster-identifier ${original.cluster})`,
        );
      }
      if (global.status !== 'available') {
        throw fail('PreconditionFailed', `the global database ${global.id} is ${global.status}, not available`);
      }
      const lag = await aws.getGlobalDbLag({ region: original.region, cluster: original.cluster });
      const primarySvc = primaryService ? await aws.describeService(primaryService) : undefined;
      const secondarySvc = await aws.describeService(secondaryService);
      const pnr = ', after the switchover (the point of no return)';
      for (const [state, ref, label, action] of [
        [
          primarySvc,
          primaryService,
          'original service',
          `deploy the recorded revision with the original writer endpoint to it${fo.appConfig.mode === 'secret' ? ' (a forced deployment)' : ''}${pnr}`,
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
      return { global, originalCluster, lag, primarySvc, secondarySvc, records };
    },
    {
      details: (r) => ({
        writer: `${current.cluster} (${current.region})`,
        original: `${r.originalCluster.id} ${r.originalCluster.status} at ${r.originalCluster.endpoint}`,
        globalLagMs: r.lag.ms ?? '(no datapoint)',
        secondaryService: `${r.secondarySvc.desiredCount} tasks`,
        dnsNow: describeSets(r.records),
      }),
    },
  );

  const primaryCount =
    fo.primary.ecs?.previousCount ?? p.originalServiceDesiredCount ?? Math.max(1, now.secondarySvc.desiredCount);
  const primaryBase = fo.primary.ecs?.taskDefinition ?? now.primarySvc?.taskDefinition;
  if (primaryService && fo.primary.ecs?.previousCount === undefined) {
    ctx.warn(
      `the failover did not record ${primaryService.service}'s count (its region did not answer then): restoring it ` +
        `to ${primaryCount} tasks${p.originalServiceDesiredCount ? ' (from the input)' : ' (what the secondary runs now)'}`,
    );
  }
  const plan: PlannedAction[] = [
    { step: '1. Approval', action: p.approval.required ? 'wait for approval' : 'not required', params: {} },
    {
      step: '2. Pause writes in the secondary',
      action: 'ecs:UpdateService',
      params: { ...secondaryService, desiredCount: 0, from: now.secondarySvc.desiredCount },
    },
    {
      step: '3. Switch the global database back (point of no return)',
      action: 'rds:SwitchoverGlobalCluster',
      params: {
        globalCluster: db.globalCluster,
        from: `${current.cluster} (${current.region})`,
        to: `${original.cluster} (${original.region})`,
      },
    },
    fo.appConfig.mode === 'task-definition-env'
      ? {
          step: '4. Repoint the original region app',
          action: 'ecs:RegisterTaskDefinition',
          params: {
            region: original.region,
            from: primaryBase ? shortName(primaryBase) : '(none)',
            set: { [fo.appConfig.variable]: now.originalCluster.endpoint ?? '' },
          },
        }
      : {
          step: '4. Repoint the original region app',
          action: 'secretsmanager:PutSecretValue',
          params: {
            region: original.region,
            secretId: fo.appConfig.secretId,
            set: { [fo.appConfig.key]: now.originalCluster.endpoint ?? '' },
          },
        },
    {
      step: '5. Restore the original service',
      action: primaryService ? 'ecs:UpdateService' : 'skipped',
      params: primaryService
        ? { ...primaryService, desiredCount: primaryCount }
        : { why: 'no primary service recorded' },
    },
    {
      step: '6. Restore the DNS records',
      action: 'route53:ChangeResourceRecordSets',
      params: { record: recordLabel, to: describeSets(fo.dns.previousRecordSets) },
    },
    {
      step: '7. Put the secondary service back',
      action: 'ecs:UpdateService',
      params: {
        ...secondaryService,
        desiredCount: fo.secondary.ecs.previousCount,
        taskDefinition: shortName(fo.secondary.ecs.previousTaskDefinition),
      },
    },
  ];
  if (ctx.planned(plan) === 'dry-run') return DRY_RUN;

  await ctx.lockResources([
    lockable.dbCluster({ region: original.region, dbCluster: original.cluster }),
    lockable.dbCluster({ region: current.region, dbCluster: current.cluster }),
    lockable.ecsService(secondaryService),
    ...(primaryService ? [lockable.ecsService(primaryService)] : []),
    lockable.record({ hostedZoneId: fo.dns.hostedZoneId, name: fo.dns.name, type: fo.dns.type }),
    ...(fo.appConfig.mode === 'secret'
      ? [lockable.secret({ region: original.region, secretId: fo.appConfig.secretId })]
      : []),
  ]);

  await ctx.approval(
    `fail back to ${original.region}: switch the Aurora global database ${db.globalCluster} over to ${original.cluster} ` +
      `(global lag ${now.lag.ms ?? 'unknown'} ms; a switchover loses no data), restore ` +
      `${primaryService ? `${primaryService.service} to ${primaryCount} tasks, ` : ''}DNS ${recordLabel} to ${describeSets(fo.dns.previousRecordSets)}` +
      (p.reason ? ` — reason: ${p.reason}` : ''),
  );

  const checklist = new Checklist([
    { id: 'switchover', label: 'switch the global database back' },
    { id: 'repoint', label: 'repoint the app' },
    { id: 'restore-service', label: 'restore the original service' },
    { id: 'verify-app', label: 'verify the original app' },
    { id: 'restore-dns', label: 'restore DNS' },
    { id: 'verify-public', label: 'verify the public endpoint' },
    { id: 'secondary-back', label: 'put the secondary service back' },
  ] as const);
  const stableTimeoutMs = parseDuration(p.stableTimeout);
  const secondaryCount = now.secondarySvc.desiredCount;
  const paused = `paused writes: ${secondaryService.service} in ${secondaryService.region} scaled from ${secondaryCount} to 0`;
  const outage =
    ` — OUTAGE: DNS ${recordLabel} still sends traffic to ${secondaryService.region}, where ` +
    `${secondaryService.service} runs no task, until DNS is restored`;
  let dnsRestored = false;
  const progress = () => checklist.progress((d) => (d === paused && !dnsRestored ? `${d}${outage}` : d));

  // Pause writes in the secondary (compensated until the point of no return).
  await pauseWrites(ctx, { which: 'secondary', service: secondaryService, count: secondaryCount, stableTimeoutMs });
  checklist.note(paused);

  // The switchover back: the point of no return.
  await ctx.change('Switch the global database back (SwitchoverGlobalCluster)', () =>
    aws.moveGlobalWriter({
      region: original.region,
      globalCluster: db.globalCluster,
      targetArn: original.arn,
      mode: 'switchover',
    }),
  );
  ctx.pointOfNoReturn(
    `switchover of ${db.globalCluster} back to ${original.cluster} requested; from here nothing is undone silently`,
  );
  checklist.did('switchover', 'requested');
  const moved = await ctx.critical(
    `Wait until ${original.cluster} is the global writer and available`,
    () =>
      waits.waitForGlobalWriter({
        region: original.region,
        globalCluster: db.globalCluster,
        targetArn: original.arn,
        timeoutMs: parseDuration(p.promoteTimeout),
      }),
    progress,
    { details: (d) => ({ writer: d.writer, endpoint: d.endpoint, waitedMs: d.waitedMs, phases: d.phases }) },
  );
  const endpoint = moved.endpoint;
  checklist.did('switchover', `${original.cluster} is the writer at ${endpoint}`);

  const run = { ctx, checklist, progress };
  const repointed = await repointApp(run, 'repoint', {
    appConfig: fo.appConfig,
    region: original.region,
    baseTaskDefinition: primaryBase,
    endpoint,
    names: {
      taskDefinition: 'Repoint the app: register the recorded revision with the original writer endpoint',
      secret: 'Repoint the app: write the original writer endpoint into the DB secret',
    },
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
    impact: [
      ['RTO', formatDuration(rtoSeconds * 1000)],
      ['Writer', `${current.cluster} (${current.region}) → ${original.cluster} (${original.region})`],
      ['Data loss', 'none (a switchover synchronises the secondary before the writer moves)'],
    ],
    resolution:
      `Switched ${db.globalCluster} back: ${original.cluster} in ${original.region} is the writer (endpoint ${endpoint}); ` +
      `${primaryEcs ? `${primaryEcs.service} back to ${primaryEcs.desiredCount} tasks; ` : ''}` +
      `${recordLabel} restored to ${describeSets(fo.dns.previousRecordSets)}; ` +
      `${secondaryService.service} in ${secondaryService.region} back to ${back.desiredCount} tasks. ` +
      `${current.cluster} stays in the global database as a secondary.`,
  });

  return {
    failoverWorkflowId: p.failoverWorkflowId,
    newPrimary: { region: original.region, dbInstance: original.cluster, endpoint },
    ...(now.lag.ms !== undefined ? { replicaLagSeconds: Math.round(now.lag.ms) / 1000 } : {}),
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
