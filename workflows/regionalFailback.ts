// regionalFailback — the reverse of a completed regionalFailover, seeded from what it recorded (seed 001 Runbook 1
// "Rollback Procedure", done properly): create a cross-region read replica of the promoted DB in the original region
// (wait, report lag), approval, pause writes in the secondary, promote the new replica (point of no return), repoint
// the original region's app, restore the original service count and revision, restore the recorded DNS record sets
// exactly, verify, put the secondary service back as it was, report. An Aurora global database failover goes back
// by a switchover to the original cluster (workflows/lib/global-failback.ts).
import { patched } from '@temporalio/workflow';
import { compactUtc, formatDuration, parseDuration } from '../api/duration';
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
import { errorMessage, fail, isClientError } from './lib/errors';
import { enforceRpo, pauseWrites, refuseStaleReplica } from './lib/db-steps';
import { failBackGlobalDatabase } from './lib/global-failback';
import { aws, probes, waits } from './lib/proxies';
import { deployService, repointApp, verifyHealthy, waitDnsInsync } from './lib/region-steps';
import { lockable } from './lib/lock';
import { Checklist } from './lib/operator';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { RUNBOOK } from '../api/runbooks';

const describeSets = (sets: RecordSet[]) =>
  sets.map((r) => `${r.SetIdentifier ? `[${r.SetIdentifier}] ` : ''}${describeRecordTarget(r)}`).join('; ');

/**
 * The new replica's default id: `<original primary>-fb-<yyyymmddhhmmss>`, the primary's id cut (and any hyphen the
 * cut leaves trimmed) so it fits RDS's 63 characters. To the second, so a failback started again right after a
 * rejection (which deleted the first replica) does not reuse its name — nor its ReplicaLag datapoints.
 */
export function failbackReplicaId(primary: string, at: Date): string {
  const suffix = `-fb-${compactUtc(at, 'second')}`;
  return `${primary.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

export async function regionalFailback(input: RegionalFailbackInput): Promise<RunbookReport<RegionalFailbackResult>> {
  return runRunbook(RUNBOOK.regionalFailback, input, {
    target: (p) => p.failoverWorkflowId,
    async execute(ctx) {
      const p = ctx.params;
      const startedAt = Date.parse(ctx.tracker.status.startedAt);

      // 1. Preflight (read only): what the failover did, and the state of both regions now.
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
      // An Aurora global database failover goes back by a switchover (workflows/lib/global-failback.ts).
      if (fo.database) return failBackGlobalDatabase(ctx, fo, fo.database);
      const original = { region: fo.primary.region };
      const promotedDb = { region: fo.secondary.region, dbInstance: fo.secondary.dbInstance };
      const secondaryService = {
        region: fo.secondary.region,
        cluster: fo.secondary.ecs.cluster,
        service: fo.secondary.ecs.service,
      };
      const primaryService = fo.primary.ecs
        ? { region: fo.primary.region, cluster: fo.primary.ecs.cluster, service: fo.primary.ecs.service }
        : undefined;
      // Runs started before the id had seconds keep the id (to the minute) they created their replica under.
      const minute = compactUtc(new Date(), 'minute');
      const defaultId = patched('failback-replica-id-seconds')
        ? failbackReplicaId(fo.primary.dbInstance, new Date())
        : `${fo.primary.dbInstance.slice(0, 63 - `-fb-${minute}`.length)}-fb-${minute}`;
      const newReplica = { region: original.region, dbInstance: p.newReplicaId ?? defaultId };
      const recordLabel = `${normalizeDnsName(fo.dns.name)} ${fo.dns.type}`;

      const now = await ctx.step(
        'Preflight: promoted DB, original region, services, DNS',
        async () => {
          const promoted = await aws.describeDbInstance(promotedDb);
          if (promoted.status !== 'available' || promoted.replicaSource) {
            throw fail(
              'PreconditionFailed',
              `${promoted.id} is ${promoted.status}${promoted.replicaSource ? ` and still a replica of ${promoted.replicaSource}` : ''}; it must be an available standalone DB`,
            );
          }
          let originalDb: string;
          try {
            const db = await probes.findDbInstance({ region: original.region, dbInstance: fo.primary.dbInstance });
            originalDb = db ? db.status : 'not-found';
          } catch (err) {
            if (isClientError(err)) throw err;
            throw fail(
              'PreconditionFailed',
              `the original region ${original.region} does not answer (${errorMessage(err)}); fail back once it does`,
            );
          }
          const primarySvc = primaryService ? await aws.describeService(primaryService) : undefined;
          const secondarySvc = await aws.describeService(secondaryService);
          // After the promotion (the point of no return) both services are put back on a task definition (the
          // original one with a forced deployment in secret mode): AWS refuses that through UpdateService for a
          // CODE_DEPLOY or EXTERNAL service. Refused here, before anything is created.
          const pnr = ', after the promotion (the point of no return)';
          for (const [state, ref, label, action] of [
            [
              primarySvc,
              primaryService,
              'original service',
              `deploy the recorded revision with the new endpoint to it${fo.appConfig.mode === 'secret' ? ' (a forced deployment)' : ''}${pnr}`,
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
          // DNS must still be as the failover left it: otherwise someone changed it since (or this failover was
          // already failed back), and restoring the old records would undo their change.
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
          return { promoted, originalDb, primarySvc, secondarySvc, records };
        },
        {
          details: (r) => ({
            promoted: `${r.promoted.id} ${r.promoted.status} at ${r.promoted.endpoint}`,
            originalPrimary: `${fo.primary.dbInstance}: ${r.originalDb}`,
            secondaryService: `${r.secondarySvc.desiredCount} tasks`,
            dnsNow: describeSets(r.records),
          }),
        },
      );

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
      const plan: PlannedAction[] = [
        {
          step: '1. Create a read replica in the original region',
          action: 'rds:CreateDBInstanceReadReplica',
          params: { ...newReplica, source: now.promoted.arn },
        },
        { step: '2. Approval', action: p.approval.required ? 'wait for approval' : 'not required', params: {} },
        {
          step: '3. Pause writes in the secondary',
          action: 'ecs:UpdateService',
          params: { ...secondaryService, desiredCount: 0, from: now.secondarySvc.desiredCount },
        },
        {
          step: '4. Promote the new replica (point of no return)',
          action: 'rds:PromoteReadReplica',
          params: newReplica,
        },
        fo.appConfig.mode === 'task-definition-env'
          ? {
              step: '5. Repoint the original region app',
              action: 'ecs:RegisterTaskDefinition',
              params: {
                region: original.region,
                from: primaryBase ? shortName(primaryBase) : '(none)',
                set: { [fo.appConfig.variable]: '(new replica endpoint)' },
              },
            }
          : {
              step: '5. Repoint the original region app',
              action: 'secretsmanager:PutSecretValue',
              params: {
                region: original.region,
                secretId: fo.appConfig.secretId,
                set: { [fo.appConfig.key]: '(new replica endpoint)' },
              },
            },
        {
          step: '6. Restore the original service',
          action: primaryService ? 'ecs:UpdateService' : 'skipped',
          params: primaryService
            ? { ...primaryService, desiredCount: primaryCount }
            : { why: 'no primary service recorded' },
        },
        {
          step: '7. Restore the DNS records',
          action: 'route53:ChangeResourceRecordSets',
          params: { record: recordLabel, to: describeSets(fo.dns.previousRecordSets) },
        },
        {
          step: '8. Put the secondary service back',
          action: 'ecs:UpdateService',
          params: {
            ...secondaryService,
            desiredCount: fo.secondary.ecs.previousCount,
            taskDefinition: shortName(fo.secondary.ecs.previousTaskDefinition),
          },
        },
      ];
      if (ctx.planned(plan) === 'dry-run') return DRY_RUN;

      // Take what the run will change, whichever runbook would change it too, before the replica is created: the
      // promoted DB (its replica's source), the new replica (by the name it will have), both services, the DNS record,
      // the secret in the original region (secret mode). The old primary is only read.
      await ctx.lockResources([
        lockable.dbInstance(promotedDb),
        lockable.dbInstance(newReplica),
        lockable.ecsService(secondaryService),
        ...(primaryService ? [lockable.ecsService(primaryService)] : []),
        lockable.record({ hostedZoneId: fo.dns.hostedZoneId, name: fo.dns.name, type: fo.dns.type }),
        ...(fo.appConfig.mode === 'secret'
          ? [lockable.secret({ region: original.region, secretId: fo.appConfig.secretId })]
          : []),
      ]);

      const stableTimeoutMs = parseDuration(p.stableTimeout);

      // Create the replica in the original region and wait for it; compensated (deleted) until the point of no return.
      const requestedAt = Date.now();
      const createdReplica = await ctx.change(
        'Create a read replica of the promoted DB in the original region',
        () =>
          aws.createReadReplica({
            ...newReplica,
            sourceArn: now.promoted.arn,
            ...(p.replicaInstanceClass ? { instanceClass: p.replicaInstanceClass } : {}),
            ...(p.replicaKmsKeyId ? { kmsKeyId: p.replicaKmsKeyId } : {}),
            ...(p.replicaSubnetGroup ? { subnetGroup: p.replicaSubnetGroup } : {}),
            ...(p.replicaSecurityGroupIds ? { securityGroupIds: p.replicaSecurityGroupIds } : {}),
          }),
        {
          params: { ...newReplica, source: now.promoted.id },
          details: (r) => ({ created: r.created }),
          // Only what this run created is deleted: an existing replica named in the input is left alone.
          undo: (r) =>
            r.created
              ? { name: `delete the new replica ${newReplica.dbInstance}`, run: () => aws.deleteDbInstance(newReplica) }
              : undefined,
        },
      );
      const replica = await ctx.step('Wait until the new replica is available', () =>
        waits.waitForDbAvailable({ ...newReplica, timeoutMs: parseDuration(p.replicaTimeout), label: 'new replica' }),
      );
      // ReplicaLag is keyed by the instance's name: datapoints from before this replica existed (a deleted one of the
      // same name, e.g. a rejected failback's) are not its lag. Lower bounds on when it came to exist: RDS's creation
      // time, and — when this run created it (or RDS does not say) — the moment the run asked for it.
      const bounds = [
        ...(replica.createdAt ? [Date.parse(replica.createdAt)] : []),
        ...(createdReplica.created || !replica.createdAt ? [requestedAt] : []),
      ];
      const replicaSince = new Date(Math.max(...bounds)).toISOString();
      const lag = await ctx.step(
        'Measure the new replica lag',
        () =>
          waits.waitForReplicaLag({ ...newReplica, timeoutMs: parseDuration(p.replicaTimeout), since: replicaSince }),
        { details: (l) => ({ replicaLagSeconds: l.seconds, at: l.at }) },
      );
      const rpo = (lagSeconds: number | undefined) => ({
        lagSeconds,
        limitSeconds: p.maxReplicaLagSeconds,
        subject: "the new replica's lag",
        noDatapoint: `for ${newReplica.dbInstance} since it was created (${replicaSince})`,
        acceptDataLoss: p.acceptDataLoss,
      });
      await ctx.step('Safety check: RPO', async () =>
        enforceRpo(ctx, {
          ...rpo(lag.seconds),
          refusing: 'refusing to fail back',
          then: 'Start the failback again once replication can keep up, or add "acceptDataLoss": {"reason": "…"}',
        }),
      );

      // Approval.
      await ctx.approval(
        `fail back to ${original.region}: promote ${newReplica.dbInstance} (lag ${lag.seconds}s), restore ` +
          `${primaryService ? `${primaryService.service} to ${primaryCount} tasks, ` : ''}DNS ${recordLabel} to ${describeSets(fo.dns.previousRecordSets)}` +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      const checklist = new Checklist([
        { id: 'promote', label: 'promote the new replica' },
        { id: 'repoint', label: 'repoint the app' },
        { id: 'restore-service', label: 'restore the original service' },
        { id: 'verify-app', label: 'verify the original app' },
        { id: 'restore-dns', label: 'restore DNS' },
        { id: 'verify-public', label: 'verify the public endpoint' },
        { id: 'secondary-back', label: 'put the secondary service back' },
      ] as const);
      checklist.note(`created replica ${newReplica.dbInstance} in ${original.region}`);
      // From the pause until DNS is restored, public traffic goes to the secondary region with no task running
      // there: an outage, which an operator deciding between retryStep and abandon must see in the "done" list.
      const secondaryCount = now.secondarySvc.desiredCount;
      const paused = `paused writes: ${secondaryService.service} in ${secondaryService.region} scaled from ${secondaryCount} to 0`;
      // (Not "scale it back up": past the promotion its DB is no longer the one the original region writes to.)
      const outage =
        ` — OUTAGE: DNS ${recordLabel} still sends traffic to ${secondaryService.region}, where ` +
        `${secondaryService.service} runs no task, until DNS is restored`;
      let dnsRestored = false;
      const progress = () => checklist.progress((d) => (d === paused && !dnsRestored ? `${d}${outage}` : d));

      // Pause writes in the secondary (compensated until the point of no return).
      await pauseWrites(ctx, {
        which: 'secondary',
        service: secondaryService,
        count: secondaryCount,
        stableTimeoutMs,
      });
      checklist.note(paused);

      // Promote the new replica: the point of no return.
      const lagBefore = await ctx.step(
        'Measure replica lag before promotion',
        () => aws.getReplicaLag({ ...newReplica, since: replicaSince }),
        {
          details: (l) => ({ replicaLagSeconds: l.seconds ?? '(no datapoint)', at: l.at }),
        },
      );
      await refuseStaleReplica(ctx, {
        ...rpo(lagBefore.seconds),
        then: 'Start again once it has caught up, or with "acceptDataLoss": {"reason": "…"}',
      });
      await ctx.change('Promote the new replica', () =>
        aws.promoteReadReplica({ ...newReplica, backupRetentionDays: p.backupRetentionDays }),
      );
      ctx.pointOfNoReturn(`promotion of ${newReplica.dbInstance} requested; from here nothing is undone silently`);
      checklist.did('promote', 'requested');
      const promoted = await ctx.critical(
        'Wait until the new primary is available as a standalone instance',
        () =>
          waits.waitForDbStandalone({
            ...newReplica,
            timeoutMs: parseDuration(p.promoteTimeout),
            label: 'promoted new replica',
          }),
        progress,
        { details: (d) => ({ endpoint: d.endpoint }) },
      );
      const endpoint = promoted.endpoint ?? replica.endpoint ?? '';
      checklist.did('promote', `${newReplica.dbInstance} is standalone at ${endpoint}`);

      // Repoint the original region's app and restore its service to the recorded count (and revision).
      const run = { ctx, checklist, progress };
      const repointed = await repointApp(run, 'repoint', {
        appConfig: fo.appConfig,
        region: original.region,
        baseTaskDefinition: primaryBase,
        endpoint,
        names: {
          taskDefinition: 'Repoint the app: register the recorded revision with the new endpoint',
          secret: 'Repoint the app: write the new endpoint into the DB secret',
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
        names: {
          update: 'Put the secondary service back as it was',
          wait: 'Wait until the secondary service is stable',
        },
        service: secondaryService,
        want: back,
        timeoutMs: stableTimeoutMs,
      });
      ctx.warn(
        `${fo.secondary.dbInstance} in ${fo.secondary.region} is a standalone DB that no longer receives writes; delete it or ` +
          `replace it with a new cross-region replica of ${newReplica.dbInstance} to restore the DR posture.`,
      );
      ctx.warn(
        `the old primary ${fo.primary.dbInstance} in ${original.region} (${now.originalDb}) is stale since the failover; ` +
          `nothing points to it any more after this run — retire it once you no longer need it.`,
      );
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
          ['Replica lag before promotion', lagBefore.seconds === undefined ? 'unknown' : `${lagBefore.seconds}s`],
        ],
        resolution:
          `Promoted ${newReplica.dbInstance} in ${original.region} (endpoint ${endpoint}); ` +
          `${primaryEcs ? `${primaryEcs.service} back to ${primaryEcs.desiredCount} tasks; ` : ''}` +
          `${recordLabel} restored to ${describeSets(fo.dns.previousRecordSets)}; ` +
          `${secondaryService.service} in ${secondaryService.region} back to ${back.desiredCount} tasks.`,
      });

      return {
        failoverWorkflowId: p.failoverWorkflowId,
        newPrimary: { ...newReplica, endpoint },
        ...(lag.seconds !== undefined ? { replicaLagSeconds: lag.seconds } : {}),
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
    },
  });
}
