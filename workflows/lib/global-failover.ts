// regionalFailover's Aurora Global Database path (input `database: {kind: "aurora-global"}`), the same runbook as the
// instance path with a global cluster in place of a replica: preflight (global cluster, target cluster, RPO lag,
// primary cluster, secondary service, DNS, read only), safety checks (membership, no move under way, RPO gate for a
// failover, a healthy primary for a switchover, a healthy primary refused for a failover unless planned), approval,
// pause writes, SwitchoverGlobalCluster / FailoverGlobalCluster (the point of no return), wait until the target is
// the available writer, repoint the app at its writer endpoint, scale, verify, switch DNS, verify, report.
import { formatDuration, parseDuration } from '../../api/duration';
import { normalizeDnsName } from '../../api/runbooks/dns-failover';
import { deploymentControllerRefusal, shortName } from '../../api/runbooks/ecs';
import type { RegionalFailoverParams, RegionalFailoverResult } from '../../api/runbooks/regional-failover';
import {
  globalRefusal,
  lagSeconds,
  memberNamed,
  parseClusterRef,
  primaryClusterHealth,
  writerOf,
  type AuroraGlobalDatabase,
  type MemberClusterView,
} from '../../api/runbooks/regional-failover-global';
import type { PlannedAction } from '../../api/status';
import { enforceRpo, hostValue, pauseWrites, refuseStaleReplica } from './db-steps';
import { describeRecordTarget, readRecord } from './dns';
import { errorMessage, fail, isClientError } from './errors';
import { lockable } from './lock';
import { must } from './must';
import { Checklist } from './operator';
import { aws, probes, waits } from './proxies';
import { deployService, repointApp, verifyHealthy, waitDnsInsync } from './region-steps';
import { DRY_RUN, type RunbookContext } from './runbook';
import { watchAfterSwitch } from './watch';

type PrimaryReading = MemberClusterView | { status: 'not-found' | 'unreachable'; error?: string };

export async function failOverGlobalDatabase(
  ctx: RunbookContext<RegionalFailoverParams, undefined, RegionalFailoverResult>,
  db: AuroraGlobalDatabase,
): Promise<RegionalFailoverResult | typeof DRY_RUN> {
  const p = ctx.params;
  const startedAt = Date.parse(ctx.tracker.status.startedAt);
  const region = p.secondary.region; // global-cluster calls: the primary's region may be down
  const targetRef = { region, cluster: db.targetCluster };
  const targetId = parseClusterRef(db.targetCluster).id;
  const switchover = db.mode === 'switchover';
  const secondaryService = { region, cluster: p.secondary.ecs.cluster, service: p.secondary.ecs.service };
  const primaryService = p.primary.ecs
    ? { region: p.primary.region, cluster: p.primary.ecs.cluster, service: p.primary.ecs.service }
    : undefined;
  const recordLabel = `${normalizeDnsName(p.dns.record.name)} ${p.dns.record.type}${p.dns.record.setIdentifier ? ` [${p.dns.record.setIdentifier}]` : ''}`;
  const moveName = switchover
    ? 'Switch over the global database (SwitchoverGlobalCluster)'
    : 'Fail over the global database (FailoverGlobalCluster, AllowDataLoss)';
  const rpo = (lag: number | undefined, noDatapoint: string) => ({
    lagSeconds: lag,
    limitSeconds: p.maxReplicaLagSeconds,
    subject: 'the global RPO lag',
    noDatapoint,
  });
  const noLagPoint = (minutes: number) =>
    `for ${targetId} (AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag) in the last ${minutes} minutes`;

  // 1. Preflight, read only. The primary cluster's region may be down: that is reported, not fatal.
  const pre = await ctx.step(
    'Preflight: global database, target cluster, RPO lag, primary cluster, secondary service, DNS',
    async () => {
      const global = await aws.describeGlobalCluster({ region, globalCluster: db.globalCluster });
      const target = await aws.describeGlobalMemberCluster(targetRef);
      const writer = writerOf(global);
      let primary: PrimaryReading | undefined;
      if (writer && !memberNamed(global, db.targetCluster)?.isWriter) {
        try {
          primary =
            (await probes.findGlobalMemberCluster({ region: writer.region, cluster: writer.arn })) ??
            ({ status: 'not-found' } as const);
        } catch (err) {
          if (isClientError(err)) throw err;
          primary = { status: 'unreachable', error: errorMessage(err) };
        }
      }
      let primaryEcs: { desiredCount: number; taskDefinition: string } | { unreachable: string } | undefined;
      if (primaryService) {
        try {
          const s = await probes.describeService(primaryService);
          primaryEcs = { desiredCount: s.desiredCount, taskDefinition: s.taskDefinition };
        } catch (err) {
          if (isClientError(err)) throw err;
          primaryEcs = { unreachable: errorMessage(err) };
        }
      }
      const lag = await aws.getGlobalDbLag(targetRef);
      const service = await aws.describeService(secondaryService);
      const dns = await readRecord(p.dns.hostedZone, p.dns.record, p.dns.target);
      const secret =
        p.appConfig.mode === 'secret'
          ? await aws.getSecretField({ region, secretId: p.appConfig.secretId, key: p.appConfig.key })
          : undefined;
      return { global, target, writer, primary, primaryEcs, lag, service, dns, secret };
    },
    {
      details: (r) => ({
        globalStatus: r.global.status,
        writer: r.writer ? `${r.writer.id} (${r.writer.region})` : '(none)',
        ...(r.global.failoverState ? { failoverState: r.global.failoverState.status } : {}),
        target: `${r.target.id} (${r.target.region}) ${r.target.status}`,
        primaryStatus: primaryClusterHealth(r.primary).status,
        globalLagMs: r.lag.ms ?? '(no datapoint)',
        ...(r.lag.metric ? { lagMetric: r.lag.metric, lagAt: r.lag.at } : {}),
        secondaryService: `${r.service.desiredCount} tasks on ${shortName(r.service.taskDefinition)}`,
        dnsNow: describeRecordTarget(r.dns.current),
      }),
    },
  );
  const health = primaryClusterHealth(pre.primary);
  const preLag = lagSeconds(pre.lag);

  // Safety checks: the global database can be moved to the target; RPO for a failover; the primary's health.
  await ctx.step('Safety checks: global database, RPO, primary health', async () => {
    const controlled = deploymentControllerRefusal({
      label: 'secondary service',
      ref: secondaryService,
      deploymentController: pre.service.deploymentController,
      action:
        (p.appConfig.mode === 'task-definition-env'
          ? 'deploy a task definition with the new writer endpoint to it'
          : 'force a new deployment of it so that its tasks read the new writer endpoint from the secret') +
        `, after the ${db.mode} (the point of no return)`,
    });
    if (controlled) throw fail('PreconditionFailed', controlled);
    const refusal = globalRefusal(pre.global, db.targetCluster, pre.target);
    if (refusal) throw fail('PreconditionFailed', refusal);
    const writer = must(pre.writer, 'the global writer');
    if (writer.region !== p.primary.region) {
      throw fail(
        'PreconditionFailed',
        `the global database ${pre.global.id}'s writer ${writer.id} is in ${writer.region}, not in primary.region ` +
          `(${p.primary.region}): check the input`,
      );
    }
    if (switchover) {
      if (!health.healthy) {
        throw fail(
          'PreconditionFailed',
          `refusing to switch over: the primary cluster ${writer.id} (${writer.region}) is not healthy: ${health.why}. ` +
            `A switchover needs a healthy primary; if its region is down, start again with "mode": "failover"`,
        );
      }
      return { mode: db.mode, primary: health.why, lagSeconds: preLag };
    }
    enforceRpo(ctx, {
      ...rpo(preLag, noLagPoint(pre.lag.lookbackMinutes)),
      acceptDataLoss: p.acceptDataLoss,
      refusing: 'refusing to fail over',
      then: 'To proceed anyway, add "acceptDataLoss": {"reason": "…"}',
    });
    if (health.healthy) {
      if (!p.plannedSwitchover) {
        throw fail(
          'PrimaryHealthy',
          `refusing to fail over: the primary cluster ${writer.id} is healthy (${health.why}). For a planned move use ` +
            `"mode": "switchover" (no data loss); to drill the failover anyway, add "plannedSwitchover": {"reason": "…"}`,
        );
      }
      ctx.warn(`failover of a healthy primary cluster (${p.plannedSwitchover.reason})`);
    }
    return { mode: db.mode, primary: health.why, lagSeconds: preLag };
  });

  const writer = must(pre.writer, 'the global writer');
  const targetArn = pre.target.arn;
  const canPause = p.pausePrimaryWrites && primaryService && pre.primaryEcs && 'desiredCount' in pre.primaryEcs;
  const previousPrimaryCount =
    pre.primaryEcs && 'desiredCount' in pre.primaryEcs ? pre.primaryEcs.desiredCount : undefined;
  const pauseSkipReason = () =>
    !p.pausePrimaryWrites
      ? 'pausePrimaryWrites is false'
      : !primaryService
        ? 'no primary service in the input'
        : `the primary region's service does not answer (${pre.primaryEcs && 'unreachable' in pre.primaryEcs ? pre.primaryEcs.unreachable : 'unknown'})`;
  const endpointNow = must(pre.target.endpoint, "the target cluster's writer endpoint");
  const plan: PlannedAction[] = [
    {
      step: '1. Preflight',
      action: 'read only',
      params: { writer: writer.id, primaryStatus: health.status, globalLagMs: pre.lag.ms ?? null },
    },
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
    {
      step: `4. ${switchover ? 'Switch over' : 'Fail over'} the global database (point of no return)`,
      action: switchover ? 'rds:SwitchoverGlobalCluster' : 'rds:FailoverGlobalCluster',
      params: {
        globalCluster: pre.global.id,
        from: `${writer.id} (${writer.region})`,
        to: `${pre.target.id} (${region})`,
        ...(switchover ? {} : { allowDataLoss: true }),
      },
    },
    p.appConfig.mode === 'task-definition-env'
      ? {
          step: '5. Repoint the app',
          action: 'ecs:RegisterTaskDefinition',
          params: {
            region,
            from: shortName(pre.service.taskDefinition),
            set: {
              [p.appConfig.variable]: p.appConfig.template ? hostValue(p.appConfig.template, endpointNow) : endpointNow,
            },
          },
        }
      : {
          step: '5. Repoint the app',
          action: 'secretsmanager:PutSecretValue',
          params: { region, secretId: p.appConfig.secretId, set: { [p.appConfig.key]: endpointNow } },
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

  // Take what the run changes: both clusters (the writer moves), the secondary service, the primary's when paused,
  // the DNS record, the secret (secret mode). The workflow ID already holds the global database itself.
  await ctx.lockResources([
    lockable.dbCluster({ region, dbCluster: pre.target.id }),
    lockable.dbCluster({ region: writer.region, dbCluster: writer.id }),
    lockable.ecsService(secondaryService),
    ...(canPause && primaryService ? [lockable.ecsService(primaryService)] : []),
    lockable.record({ hostedZoneId: pre.dns.zone.id, name: p.dns.record.name, type: p.dns.record.type }),
    ...(p.appConfig.mode === 'secret' ? [lockable.secret({ region, secretId: p.appConfig.secretId })] : []),
  ]);

  // 2. Approval, showing the plan and the measured lag.
  await ctx.approval(
    `${db.mode} the Aurora global database ${pre.global.id}: writer ${writer.id} (${writer.region}, ${health.status}) → ` +
      `${pre.target.id} (${region}); global lag ${pre.lag.ms ?? 'unknown'} ms` +
      (switchover ? ' (a switchover loses no data)' : ` (limit ${p.maxReplicaLagSeconds}s)`) +
      `; app ${p.secondary.ecs.service} → ${p.secondary.ecs.desiredCount} tasks; DNS ${recordLabel} → ${describeRecordTarget(pre.dns.desired)}` +
      (p.reason ? ` — reason: ${p.reason}` : ''),
  );

  const checklist = new Checklist([
    { id: 'move', label: `${db.mode} the global database` },
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

  // 4. The move. The lag read just before is a failover's data-loss estimate; a switchover loses nothing.
  const lagBefore = await ctx.step(
    `Measure the global lag before the ${db.mode}`,
    () => aws.getGlobalDbLag(targetRef),
    {
      details: (l) => ({ globalLagMs: l.ms ?? '(no datapoint)', ...(l.metric ? { metric: l.metric, at: l.at } : {}) }),
    },
  );
  const lagBeforeSeconds = lagSeconds(lagBefore) ?? preLag;
  const dataLossEstimateSeconds = switchover ? 0 : lagBeforeSeconds;
  if (!switchover) {
    await refuseStaleReplica(ctx, {
      ...rpo(lagSeconds(lagBefore), noLagPoint(lagBefore.lookbackMinutes)),
      acceptDataLoss: p.acceptDataLoss,
      then: 'To proceed anyway, start again with "acceptDataLoss": {"reason": "…"}',
    });
  }
  await ctx.change(
    moveName,
    () => aws.moveGlobalWriter({ region, globalCluster: pre.global.id, targetArn, mode: db.mode }),
    {
      params: {
        from: writer.id,
        to: pre.target.id,
        ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
      },
    },
  );
  ctx.pointOfNoReturn(
    `${db.mode} of ${pre.global.id} to ${pre.target.id} requested; from here nothing is undone silently`,
  );
  checklist.did('move', `${db.mode} to ${pre.target.id} requested`);
  const moved = await ctx.critical(
    `Wait until ${pre.target.id} is the global writer and available`,
    () =>
      waits.waitForGlobalWriter({
        region,
        globalCluster: pre.global.id,
        targetArn,
        timeoutMs: parseDuration(p.promoteTimeout),
      }),
    progress,
    {
      details: (d) => ({
        writer: d.writer,
        status: d.status,
        endpoint: d.endpoint,
        waitedMs: d.waitedMs,
        phases: d.phases,
      }),
    },
  );
  const newEndpoint = moved.endpoint;
  checklist.did('move', `${pre.target.id} is the writer of ${pre.global.id}, endpoint ${newEndpoint}`);

  // 5. Repoint the app at the new writer endpoint.
  const run = { ctx, checklist };
  const repointed = await repointApp(run, 'repoint', {
    appConfig: p.appConfig,
    region,
    baseTaskDefinition: pre.service.taskDefinition,
    endpoint: newEndpoint,
    names: {
      taskDefinition: 'Repoint the app: register a task definition with the new writer endpoint',
      secret: 'Repoint the app: write the new writer endpoint into the DB secret',
    },
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

  // 10. Report: writer before and after, RTO, data-loss estimate.
  const detected = p.detectedAt && Date.parse(p.detectedAt) <= startedAt ? Date.parse(p.detectedAt) : undefined;
  if (p.detectedAt && detected === undefined) {
    ctx.warn(`detectedAt (${p.detectedAt}) is after the run started; RTO is measured from the start`);
  }
  const rtoFrom = detected !== undefined ? 'detectedAt' : 'start';
  const rtoSeconds = Math.round((Date.now() - (detected ?? startedAt)) / 1000);
  const primaryEndpoint = pre.primary && 'instances' in pre.primary ? pre.primary.endpoint : undefined;
  ctx.incident({
    title: `regional ${db.mode} of the Aurora global database ${pre.global.id}`,
    resolvedAs: 'serving from the secondary region',
    ...(p.detectedAt && detected !== undefined ? { detectedAt: p.detectedAt } : {}),
    rtoSeconds,
    ...(p.rtoTarget ? { rtoTargetSeconds: Math.round(parseDuration(p.rtoTarget) / 1000) } : {}),
    ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
    impact: [
      ['Writer', `${writer.id} (${writer.region}) → ${pre.target.id} (${region})`],
      [
        'RTO',
        `${formatDuration(rtoSeconds * 1000)} (from ${rtoFrom === 'detectedAt' ? 'detection' : 'the start of the run'})`,
      ],
      [
        'Data-loss estimate',
        switchover
          ? 'none (a switchover synchronises the secondary before the writer moves)'
          : dataLossEstimateSeconds === undefined
            ? 'unknown (no global lag datapoint)'
            : `up to ${dataLossEstimateSeconds}s of writes (${lagBefore.metric ?? pre.lag.metric ?? 'global lag'} just before the failover)`,
      ],
      ...(p.acceptDataLoss ? ([['Data loss accepted', p.acceptDataLoss.reason]] as [string, string][]) : []),
    ],
    resolution:
      `${switchover ? 'Switched' : 'Failed'} over ${pre.global.id}: ${pre.target.id} in ${region} is the writer ` +
      `(endpoint ${newEndpoint}); ` +
      `${p.appConfig.mode === 'secret' ? `secret ${p.appConfig.secretId} updated` : `task definition ${shortName(taskDefinition)} registered`}; ` +
      `${p.secondary.ecs.service} scaled to ${p.secondary.ecs.desiredCount}; ${recordLabel} now points to ${describeRecordTarget(saved.desired)}. ` +
      `Fail back with regionalFailback {"failoverWorkflowId": "${ctx.workflowId}"}.`,
  });

  const watched = p.watch ? await watchAfterSwitch(ctx, p.watch, region, `the ${db.mode}`) : undefined;

  return {
    primary: {
      region: p.primary.region,
      dbInstance: writer.id,
      dbStatus: health.status,
      ...(primaryEndpoint ? { endpoint: primaryEndpoint } : {}),
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
      region,
      dbInstance: pre.target.id,
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
    ...(preLag !== undefined ? { replicaLagSeconds: preLag } : {}),
    ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
    ...(p.acceptDataLoss ? { acceptedDataLoss: p.acceptDataLoss.reason } : {}),
    ...(p.plannedSwitchover ? { plannedSwitchover: p.plannedSwitchover.reason } : {}),
    rtoSeconds,
    rtoFrom,
    health: { secondaryApp: secondaryHealth, publicEndpoint: publicHealth },
    ...(watched ? { watch: watched } : {}),
    database: {
      kind: 'aurora-global',
      globalCluster: pre.global.id,
      mode: db.mode,
      before: {
        region: writer.region,
        cluster: writer.id,
        arn: writer.arn,
        ...(primaryEndpoint ? { endpoint: primaryEndpoint } : {}),
        status: health.status,
      },
      after: { region, cluster: pre.target.id, arn: targetArn, endpoint: newEndpoint },
      ...((lagBefore.metric ?? pre.lag.metric) ? { lagMetric: lagBefore.metric ?? pre.lag.metric } : {}),
    },
  };
}
