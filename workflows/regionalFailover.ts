// regionalFailover — seed 001 "Runbook 1: Database Failover" (all nine steps), seed 000 "Database Emergency
// Recovery" (promote, update the DB secret, force a new deployment) and "DNS Emergency Failover": preflight (read
// only, with RPO and healthy-primary refusals), approval, pause writes, promote the cross-region replica (the point of
// no return), repoint the app, scale up the secondary, verify it, switch DNS, verify the public endpoint, report. An
// Aurora global database (input `database`) runs the same steps around a global switchover or failover
// (workflows/lib/global-failover.ts).
import { formatDuration, parseDuration } from '../api/duration';
import { normalizeDnsName } from '../api/runbooks/dns-failover';
import { deploymentControllerRefusal, shortName } from '../api/runbooks/ecs';
import {
  instanceFailover,
  regionalFailoverTarget,
  type RegionalFailoverInput,
  type RegionalFailoverResult,
} from '../api/runbooks/regional-failover';
import type { PlannedAction, RunbookReport } from '../api/status';
import { describeRecordTarget, readRecord } from './lib/dns';
import { errorMessage, fail, isClientError } from './lib/errors';
import { enforceRpo, hostValue, pauseWrites, refuseStaleReplica } from './lib/db-steps';
import { failOverGlobalDatabase } from './lib/global-failover';
import { aws, probes, waits } from './lib/proxies';
import { deployService, repointApp, verifyHealthy, waitDnsInsync } from './lib/region-steps';
import { lockable } from './lib/lock';
import { Checklist } from './lib/operator';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { RUNBOOK } from '../api/runbooks';
import { must } from './lib/must';
import { watchAfterSwitch } from './lib/watch';

export async function regionalFailover(input: RegionalFailoverInput): Promise<RunbookReport<RegionalFailoverResult>> {
  return runRunbook(RUNBOOK.regionalFailover, input, {
    target: regionalFailoverTarget,
    async execute(ctx) {
      // An Aurora global database (input `database`) takes its own path; the instance path below is unchanged.
      if (ctx.params.database) return failOverGlobalDatabase(ctx, ctx.params.database);
      const p = instanceFailover(ctx.params);
      const startedAt = Date.parse(ctx.tracker.status.startedAt);
      const primaryDb = { region: p.primary.region, dbInstance: p.primary.dbInstance };
      const replicaDb = { region: p.secondary.region, dbInstance: p.secondary.dbInstance };
      const secondaryService = {
        region: p.secondary.region,
        cluster: p.secondary.ecs.cluster,
        service: p.secondary.ecs.service,
      };
      const primaryService = p.primary.ecs
        ? { region: p.primary.region, cluster: p.primary.ecs.cluster, service: p.primary.ecs.service }
        : undefined;
      const recordLabel = `${normalizeDnsName(p.dns.record.name)} ${p.dns.record.type}${p.dns.record.setIdentifier ? ` [${p.dns.record.setIdentifier}]` : ''}`;
      const secretRegion = p.secondary.region;
      const rpo = (lagSeconds: number | undefined, noDatapoint: string) => ({
        lagSeconds,
        limitSeconds: p.maxReplicaLagSeconds,
        subject: 'replica lag',
        noDatapoint,
      });

      // 1. Preflight, read only. The primary's region may be down: that is reported, not fatal.
      const pre = await ctx.step(
        'Preflight: primary, replica, replica lag, secondary service, DNS',
        async () => {
          let primary: { status: string; endpoint?: string; arn?: string; error?: string };
          try {
            const db = await probes.findDbInstance(primaryDb);
            primary = db
              ? { status: db.status, arn: db.arn, ...(db.endpoint ? { endpoint: db.endpoint } : {}) }
              : { status: 'not-found' };
          } catch (err) {
            // A region that does not answer is what a failover is for; a refused call (permissions, bad input) is not.
            if (isClientError(err)) throw err;
            primary = { status: 'unreachable', error: errorMessage(err) };
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
          const replica = await aws.describeDbInstance(replicaDb);
          const lag = await aws.getReplicaLag(replicaDb);
          const service = await aws.describeService(secondaryService);
          const dns = await readRecord(p.dns.hostedZone, p.dns.record, p.dns.target);
          const secret =
            p.appConfig.mode === 'secret'
              ? await aws.getSecretField({ region: secretRegion, secretId: p.appConfig.secretId, key: p.appConfig.key })
              : undefined;
          return { primary, primaryEcs, replica, lag, service, dns, secret };
        },
        {
          details: (r) => ({
            primaryStatus: r.primary.status,
            ...(r.primary.error ? { primaryError: r.primary.error } : {}),
            replicaStatus: r.replica.status,
            replicaSource: r.replica.replicaSource ?? '(none: not a replica)',
            replicaLagSeconds: r.lag.seconds ?? '(no datapoint)',
            replicaLagAt: r.lag.at,
            secondaryService: `${r.service.desiredCount} tasks on ${shortName(r.service.taskDefinition)}`,
            dnsNow: describeRecordTarget(r.dns.current),
          }),
        },
      );

      // Safety checks: RPO and "nobody fails over a healthy primary by accident".
      await ctx.step('Safety checks: replica, RPO, primary health', async () => {
        // The app is repointed after the promotion, the point of no return, by a new task definition or a forced
        // deployment: AWS refuses both through UpdateService for a CODE_DEPLOY or EXTERNAL service. Found now, it
        // costs nothing; found then, it would leave a promoted database with no app on it.
        const controlled = deploymentControllerRefusal({
          label: 'secondary service',
          ref: secondaryService,
          deploymentController: pre.service.deploymentController,
          action:
            (p.appConfig.mode === 'task-definition-env'
              ? 'deploy a task definition with the promoted endpoint to it'
              : 'force a new deployment of it so that its tasks read the promoted endpoint from the secret') +
            ', after the promotion (the point of no return)',
        });
        if (controlled) throw fail('PreconditionFailed', controlled);
        const r = pre.replica;
        if (!r.replicaSource) {
          throw fail(
            'PreconditionFailed',
            `${r.id} is not a read replica (already promoted?); nothing to fail over to`,
          );
        }
        const source = r.replicaSource;
        if (
          source !== p.primary.dbInstance &&
          source.split(':').pop() !== p.primary.dbInstance &&
          source !== pre.primary.arn
        ) {
          throw fail('PreconditionFailed', `${r.id} is a replica of ${source}, not of ${p.primary.dbInstance}`);
        }
        if (r.status !== 'available') throw fail('PreconditionFailed', `replica ${r.id} is ${r.status}, not available`);
        if (!r.endpoint) throw fail('PreconditionFailed', `replica ${r.id} has no endpoint yet`);
        enforceRpo(ctx, {
          ...rpo(pre.lag.seconds, `for ${r.id} in the last ${pre.lag.lookbackMinutes} minutes`),
          acceptDataLoss: p.acceptDataLoss,
          refusing: 'refusing to fail over',
          then: 'To proceed anyway, add "acceptDataLoss": {"reason": "…"}',
        });
        if (pre.primary.status === 'available') {
          if (!p.plannedSwitchover) {
            throw fail(
              'PrimaryHealthy',
              `refusing to fail over: the primary ${p.primary.dbInstance} is available. For a drill or planned move, add ` +
                `"plannedSwitchover": {"reason": "…"}`,
            );
          }
          ctx.warn(`planned switchover of a healthy primary (${p.plannedSwitchover.reason})`);
        }
        return { lagSeconds: pre.lag.seconds, primaryStatus: pre.primary.status };
      });

      const endpoint = must(pre.replica.endpoint, "the replica's endpoint");
      const canPause = p.pausePrimaryWrites && primaryService && pre.primaryEcs && 'desiredCount' in pre.primaryEcs;
      const previousPrimaryCount =
        pre.primaryEcs && 'desiredCount' in pre.primaryEcs ? pre.primaryEcs.desiredCount : undefined;
      const pauseSkipReason = () =>
        !p.pausePrimaryWrites
          ? 'pausePrimaryWrites is false'
          : !primaryService
            ? 'no primary service in the input'
            : `the primary region's service does not answer (${pre.primaryEcs && 'unreachable' in pre.primaryEcs ? pre.primaryEcs.unreachable : 'unknown'})`;
      const plan: PlannedAction[] = [
        {
          step: '1. Preflight',
          action: 'read only',
          params: { primaryStatus: pre.primary.status, replicaLagSeconds: pre.lag.seconds },
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
          : {
              step: '3. Pause writes',
              action: 'skipped',
              params: { why: pauseSkipReason() },
            },
        {
          step: '4. Promote the replica (point of no return)',
          action: 'rds:PromoteReadReplica',
          params: { ...replicaDb, backupRetentionDays: p.backupRetentionDays },
        },
        p.appConfig.mode === 'task-definition-env'
          ? {
              step: '5. Repoint the app',
              action: 'ecs:RegisterTaskDefinition',
              params: {
                region: p.secondary.region,
                from: shortName(pre.service.taskDefinition),
                set: {
                  [p.appConfig.variable]: p.appConfig.template ? hostValue(p.appConfig.template, endpoint) : endpoint,
                },
              },
            }
          : {
              step: '5. Repoint the app',
              action: 'secretsmanager:PutSecretValue',
              params: { region: secretRegion, secretId: p.appConfig.secretId, set: { [p.appConfig.key]: endpoint } },
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

      // Take what the run will change, whichever runbook would change it too: the replica it promotes, the secondary
      // service, the primary's service when it pauses it, the DNS record, the secret it writes (secret mode). The
      // primary DB is only read.
      await ctx.lockResources([
        lockable.dbInstance(replicaDb),
        lockable.ecsService(secondaryService),
        ...(canPause && primaryService ? [lockable.ecsService(primaryService)] : []),
        lockable.record({ hostedZoneId: pre.dns.zone.id, name: p.dns.record.name, type: p.dns.record.type }),
        ...(p.appConfig.mode === 'secret'
          ? [lockable.secret({ region: secretRegion, secretId: p.appConfig.secretId })]
          : []),
      ]);

      // 2. Approval, showing the plan and the measured lag.
      await ctx.approval(
        `fail over ${p.primary.dbInstance} (${p.primary.region}, ${pre.primary.status}) to ${p.secondary.dbInstance} ` +
          `(${p.secondary.region}); replica lag ${pre.lag.seconds ?? 'unknown'}s (limit ${p.maxReplicaLagSeconds}s); ` +
          `app ${p.secondary.ecs.service} → ${p.secondary.ecs.desiredCount} tasks; DNS ${recordLabel} → ${describeRecordTarget(pre.dns.desired)}` +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      const checklist = new Checklist([
        { id: 'promote', label: 'promote the replica' },
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
        await pauseWrites(ctx, {
          which: 'primary',
          service: primaryService,
          count: previousPrimaryCount,
          stableTimeoutMs,
        });
        paused = true;
        checklist.note(
          `paused writes: ${primaryService.service} in ${p.primary.region} scaled from ${previousPrimaryCount} to 0`,
        );
      } else {
        const why = pauseSkipReason();
        ctx.tracker.skipped('Pause writes', why);
      }

      // 4. Promote the replica. The lag read just before is the run's data-loss estimate.
      const lagBefore = await ctx.step('Measure replica lag before promotion', () => aws.getReplicaLag(replicaDb), {
        details: (l) => ({ replicaLagSeconds: l.seconds ?? '(no datapoint)', at: l.at }),
      });
      const dataLossEstimateSeconds = lagBefore.seconds ?? pre.lag.seconds;
      // The approval may have taken a while: the RPO must still hold now (before the point of no return, a refusal
      // here undoes the paused writes).
      await refuseStaleReplica(ctx, {
        ...rpo(lagBefore.seconds, `for ${p.secondary.dbInstance} in the last ${lagBefore.lookbackMinutes} minutes`),
        acceptDataLoss: p.acceptDataLoss,
        then: 'To proceed anyway, start again with "acceptDataLoss": {"reason": "…"}',
      });
      await ctx.change(
        'Promote the replica',
        () => aws.promoteReadReplica({ ...replicaDb, backupRetentionDays: p.backupRetentionDays }),
        {
          params: { backupRetentionDays: p.backupRetentionDays, dataLossEstimateSeconds },
        },
      );
      ctx.pointOfNoReturn(`promotion of ${p.secondary.dbInstance} requested; from here nothing is undone silently`);
      checklist.did('promote', `${p.secondary.dbInstance} promotion requested`);
      const promoted = await ctx.critical(
        'Wait until the promoted DB is available as a standalone instance',
        () =>
          waits.waitForDbStandalone({
            ...replicaDb,
            timeoutMs: parseDuration(p.promoteTimeout),
            label: 'promoted replica',
          }),
        progress,
        { details: (d) => ({ status: d.status, endpoint: d.endpoint, waitedMs: d.waitedMs }) },
      );
      const newEndpoint = promoted.endpoint ?? endpoint;
      checklist.did('promote', `${p.secondary.dbInstance} is standalone at ${newEndpoint}`);

      // 5. Repoint the app at the promoted endpoint.
      const run = { ctx, checklist };
      const repointed = await repointApp(run, 'repoint', {
        appConfig: p.appConfig,
        region: p.secondary.region,
        baseTaskDefinition: pre.service.taskDefinition,
        endpoint: newEndpoint,
        names: {
          taskDefinition: 'Repoint the app: register a task definition with the promoted endpoint',
          secret: 'Repoint the app: write the promoted endpoint into the DB secret',
        },
      });
      const taskDefinition = repointed.taskDefinition ?? pre.service.taskDefinition;
      const secretVersionId = repointed.secretVersionId;

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
        {
          mutating: true,
          params: { from: describeRecordTarget(saved.current), to: describeRecordTarget(saved.desired) },
        },
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
        title: `regional failover of ${p.primary.dbInstance}`,
        resolvedAs: 'serving from the secondary region',
        ...(p.detectedAt && detected !== undefined ? { detectedAt: p.detectedAt } : {}),
        rtoSeconds,
        ...(p.rtoTarget ? { rtoTargetSeconds: Math.round(parseDuration(p.rtoTarget) / 1000) } : {}),
        ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
        impact: [
          [
            'RTO',
            `${formatDuration(rtoSeconds * 1000)} (from ${rtoFrom === 'detectedAt' ? 'detection' : 'the start of the run'})`,
          ],
          [
            'Data-loss estimate',
            dataLossEstimateSeconds === undefined
              ? 'unknown (no replica lag datapoint)'
              : `up to ${dataLossEstimateSeconds}s of writes (replica lag just before promotion)`,
          ],
          ...(p.acceptDataLoss ? ([['Data loss accepted', p.acceptDataLoss.reason]] as [string, string][]) : []),
        ],
        resolution:
          `Promoted ${p.secondary.dbInstance} in ${p.secondary.region} (endpoint ${newEndpoint}); ` +
          `${p.appConfig.mode === 'secret' ? `secret ${p.appConfig.secretId} updated` : `task definition ${shortName(taskDefinition)} registered`}; ` +
          `${p.secondary.ecs.service} scaled to ${p.secondary.ecs.desiredCount}; ${recordLabel} now points to ${describeRecordTarget(saved.desired)}. ` +
          `Fail back with regionalFailback {"failoverWorkflowId": "${ctx.workflowId}"}.`,
      });

      const watched = p.watch ? await watchAfterSwitch(ctx, p.watch, p.secondary.region, 'the failover') : undefined;

      return {
        primary: {
          ...primaryDb,
          dbStatus: pre.primary.status,
          ...(pre.primary.endpoint ? { endpoint: pre.primary.endpoint } : {}),
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
          ...replicaDb,
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
                secretRegion,
                ...(pre.secret ? { previousSecretVersionId: pre.secret.versionId } : {}),
                ...(secretVersionId ? { secretVersionId } : {}),
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
        ...(pre.lag.seconds !== undefined ? { replicaLagSeconds: pre.lag.seconds } : {}),
        ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
        ...(p.acceptDataLoss ? { acceptedDataLoss: p.acceptDataLoss.reason } : {}),
        ...(p.plannedSwitchover ? { plannedSwitchover: p.plannedSwitchover.reason } : {}),
        rtoSeconds,
        rtoFrom,
        health: { secondaryApp: secondaryHealth, publicEndpoint: publicHealth },
        ...(watched ? { watch: watched } : {}),
      };
    },
  });
}
