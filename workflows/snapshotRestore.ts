// snapshotRestore — seed 001 "Runbook 5: Restore from Backup": list snapshots (or pick a point in time), take a
// safety snapshot of the current source first, restore to a new instance, verify the data with real SQL, then switch
// the app — by task definition, by the DB secret, or by renaming (stop the app, source → <id>-old, restored → <id>,
// start the app). Anything failing before the switch deletes the restored instance; a failure during the switch
// reverts it. The safety snapshot is always kept.
import { patched, uuid4, workflowInfo } from '@temporalio/workflow';
import { compactUtc, formatDuration, parseDuration } from '../api/duration';
import { renameSwapOldId, type SnapshotRestoreInput, type SnapshotRestoreResult } from '../api/runbooks/restore';
import { deploymentControllerRefusal, shortName } from '../api/runbooks/ecs';
import type { PlannedAction, RunbookReport } from '../api/status';
import { describeChecks, failedChecks, runDataChecks } from './lib/datachecks';
import { fail } from './lib/errors';
import { agedSnapshot, hostValue, type AgedSnapshot } from './lib/db-steps';
import { describeHealth, verifyHealth } from './lib/health';
import { aws, waits } from './lib/proxies';
import { lockable } from './lib/lock';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { snapshotRestoreEntry } from '../api/runbooks/restore';
import { must } from './lib/must';
import { watchAfterSwitch } from './lib/watch';

export async function snapshotRestore(input: SnapshotRestoreInput): Promise<RunbookReport<SnapshotRestoreResult>> {
  return runRunbook(snapshotRestoreEntry, input, {
    target: (p) => `${p.region}/${p.dbInstance}`,
    async execute(ctx) {
      const p = ctx.params;
      const source = { region: p.region, dbInstance: p.dbInstance };
      const stamp = compactUtc(new Date(), 'second');
      const fit = (suffix: string) => `${p.dbInstance.slice(0, 63 - suffix.length)}${suffix}`;
      const restoredId = p.newInstanceId ?? fit(`-restored-${stamp}`);
      const safetyId = fit(`-before-restore-${stamp}`);
      const oldId = renameSwapOldId(p.dbInstance);
      const stableTimeoutMs = parseDuration(p.stableTimeout);
      // Added after runs were recorded: the name checks are activities the preflight of older runs did not make.
      const checkNames = patched('snapshot-restore-preflight-names');

      // 1. Preflight (read only): the source, what to restore (and its age), the app that will switch.
      const pre = await ctx.step(
        'Preflight: source, snapshot or restore window, app',
        async () => {
          const db = await aws.describeDbInstance(source);
          let snapshot: AgedSnapshot | undefined;
          let window: { earliest?: string; latest?: string } | undefined;
          if ('snapshot' in p.restore) {
            const s =
              p.restore.snapshot === 'latest'
                ? // The newest snapshot that is not a safety snapshot an earlier restore took (that one may already
                  // hold the damage this restore is meant to undo).
                  (await aws.listSnapshots(source)).find((x) => !/-before-restore-\d{12,14}$/.test(x.id))
                : await aws.describeSnapshot({ region: p.region, snapshotId: p.restore.snapshot });
            if (!s) throw fail('ResourceNotFound', `${p.dbInstance} has no available snapshot (automated or manual)`);
            if (s.dbInstance !== p.dbInstance) {
              throw fail('PreconditionFailed', `snapshot ${s.id} is of ${s.dbInstance}, not of ${p.dbInstance}`);
            }
            if (s.status !== 'available')
              throw fail('PreconditionFailed', `snapshot ${s.id} is ${s.status}, not available`);
            snapshot = agedSnapshot(s);
          } else {
            window = await aws.getRestoreWindow(source);
            const t = Date.parse(p.restore.restoreTime);
            if (
              !window.earliest ||
              !window.latest ||
              t < Date.parse(window.earliest) ||
              t > Date.parse(window.latest)
            ) {
              throw fail(
                'PreconditionFailed',
                `restoreTime ${p.restore.restoreTime} is outside the restorable window of ${p.dbInstance} ` +
                  `(${window.earliest ?? 'unknown'} … ${window.latest ?? 'unknown'})`,
              );
            }
          }
          const app =
            p.switch.mode === 'none' ? undefined : await aws.describeService({ region: p.region, ...p.switch.ecs });
          // Both of these switches deploy the app (a new revision, or a forced deployment to re-read the secret):
          // AWS refuses that through UpdateService for a CODE_DEPLOY or EXTERNAL service. (rename-swap only changes
          // the count.) Refused before the safety snapshot and the restore.
          if (app && (p.switch.mode === 'task-definition-env' || p.switch.mode === 'secret')) {
            const refusal = deploymentControllerRefusal({
              label: 'app service',
              ref: { region: p.region, ...p.switch.ecs },
              deploymentController: app.deploymentController,
              action:
                p.switch.mode === 'task-definition-env'
                  ? 'deploy a revision with the restored endpoint to it (switch.mode task-definition-env)'
                  : 'force a new deployment of it so that it reads the restored endpoint from the secret (switch.mode secret)',
            });
            if (refusal) throw fail('PreconditionFailed', refusal);
          }
          if (checkNames) {
            // Every name the run will give an instance must be free now. Found taken later, it would cost a restore
            // (and for rename-swap an outage: the app is stopped before the renames) for nothing.
            const inTheWay = await aws.findDbInstance({ region: p.region, dbInstance: restoredId });
            if (inTheWay) {
              throw fail(
                'PreconditionFailed',
                `the restore would create ${restoredId}, but an instance named ${restoredId} already exists in ` +
                  `${p.region} (${inTheWay.status}); set another newInstanceId, or delete it if it is a leftover`,
              );
            }
            if (p.switch.mode === 'rename-swap') {
              const old = await aws.findDbInstance({ region: p.region, dbInstance: oldId });
              if (old) {
                throw fail(
                  'PreconditionFailed',
                  `rename-swap would rename ${p.dbInstance} to ${oldId}, but an instance named ${oldId} already ` +
                    `exists in ${p.region} (${old.status}); rename or delete it, or choose another switch mode`,
                );
              }
            }
          }
          return { db, snapshot, window, app };
        },
        {
          details: (r) => ({
            source: `${r.db.id} ${r.db.status} at ${r.db.endpoint}`,
            ...(r.snapshot
              ? {
                  snapshot: r.snapshot.id,
                  snapshotType: r.snapshot.type,
                  snapshotAge:
                    r.snapshot.ageSeconds !== undefined ? formatDuration(r.snapshot.ageSeconds * 1000) : 'unknown',
                }
              : { restoreTime: 'restoreTime' in p.restore ? p.restore.restoreTime : undefined, window: r.window }),
            ...(r.app
              ? { app: `${r.app.serviceName}: ${r.app.desiredCount} tasks on ${shortName(r.app.taskDefinition)}` }
              : {}),
          }),
        },
      );
      const subnetGroup = p.subnetGroup ?? pre.db.subnetGroup;
      const restoreOpts = {
        region: p.region,
        dbInstance: restoredId,
        // Tagged with this run (not only the workflow ID, which every restore of this source shares).
        runId: `${ctx.workflowId}/${workflowInfo().runId}`,
        ...((p.instanceClass ?? pre.db.instanceClass)
          ? { instanceClass: p.instanceClass ?? pre.db.instanceClass }
          : {}),
        ...(subnetGroup ? { subnetGroup } : {}),
        securityGroupIds: p.securityGroupIds ?? pre.db.securityGroupIds,
      };

      const sw = p.switch;
      const plan: PlannedAction[] = [
        { step: 'Safety snapshot', action: 'rds:CreateDBSnapshot', params: { ...source, snapshot: safetyId } },
        pre.snapshot
          ? {
              step: 'Restore',
              action: 'rds:RestoreDBInstanceFromDBSnapshot',
              params: { snapshot: pre.snapshot.id, newInstance: restoredId },
            }
          : {
              step: 'Restore',
              action: 'rds:RestoreDBInstanceToPointInTime',
              params: {
                source: p.dbInstance,
                restoreTime: 'restoreTime' in p.restore ? p.restore.restoreTime : '',
                newInstance: restoredId,
              },
            },
        {
          step: 'Data checks',
          action: 'SQL (read only)',
          params: { checks: ['connectivity', ...p.dataChecks.checks.map((c) => c.name)] },
        },
        { step: 'Approval', action: p.approval.required ? 'wait for approval' : 'not required', params: {} },
        ...(sw.mode === 'task-definition-env'
          ? [
              {
                step: 'Switch: new revision',
                action: 'ecs:RegisterTaskDefinition',
                params: { from: shortName(must(pre.app, 'the app').taskDefinition), set: sw.variable },
              },
              { step: 'Switch: deploy', action: 'ecs:UpdateService', params: { ...sw.ecs } },
            ]
          : sw.mode === 'secret'
            ? [
                {
                  step: 'Switch: secret',
                  action: 'secretsmanager:PutSecretValue',
                  params: { secretId: sw.secretId, set: sw.key },
                },
                {
                  step: 'Switch: redeploy',
                  action: 'ecs:UpdateService',
                  params: { ...sw.ecs, forceNewDeployment: true },
                },
              ]
            : sw.mode === 'rename-swap'
              ? [
                  { step: 'Switch: stop the app', action: 'ecs:UpdateService', params: { ...sw.ecs, desiredCount: 0 } },
                  {
                    step: 'Switch: rename source',
                    action: 'rds:ModifyDBInstance',
                    params: { from: p.dbInstance, to: `${p.dbInstance}-old` },
                  },
                  {
                    step: 'Switch: rename restored',
                    action: 'rds:ModifyDBInstance',
                    params: { from: restoredId, to: p.dbInstance },
                  },
                  {
                    step: 'Switch: start the app',
                    action: 'ecs:UpdateService',
                    params: { ...sw.ecs, desiredCount: must(pre.app, 'the app').desiredCount },
                  },
                ]
              : [
                  {
                    step: 'Switch',
                    action: 'none',
                    params: { why: 'switch.mode is none: the restored instance is left for you' },
                  },
                ]),
      ];
      if (ctx.planned(plan) === 'dry-run') return DRY_RUN;

      // Take what the run will change, whichever runbook would change it too, before the safety snapshot: the source,
      // the names it will create (the restored instance) or rename to (rename-swap: <id>-old), the app's service and
      // the secret it writes (secret mode).
      await ctx.lockResources([
        lockable.dbInstance(source),
        lockable.dbInstance({ region: p.region, dbInstance: restoredId }),
        ...(sw.mode === 'rename-swap' ? [lockable.dbInstance({ region: p.region, dbInstance: oldId })] : []),
        ...(sw.mode !== 'none' ? [lockable.ecsService({ region: p.region, ...sw.ecs })] : []),
        ...(sw.mode === 'secret' ? [lockable.secret({ region: p.region, secretId: sw.secretId })] : []),
      ]);

      // 2. Safety snapshot of the current source, kept whatever happens.
      await ctx.change(
        'Safety snapshot of the current source',
        () => aws.createDbSnapshot({ ...source, snapshotId: safetyId }),
        { details: (s) => ({ snapshot: s.id }) },
      );
      ctx.noteOnFailure(`The safety snapshot ${safetyId} is kept.`);
      await ctx.step('Wait until the safety snapshot is available', () =>
        waits.waitForSnapshotAvailable({
          region: p.region,
          snapshotId: safetyId,
          timeoutMs: parseDuration(p.snapshotTimeout),
        }),
      );

      // 3. Restore to a new instance. Compensation (until the run ends well): delete it, no final snapshot.
      const restoreTime = 'restoreTime' in p.restore ? p.restore.restoreTime : undefined;
      await ctx.change(
        pre.snapshot
          ? `Restore ${pre.snapshot.id} to ${restoredId}`
          : `Restore ${p.dbInstance} as of ${restoreTime} to ${restoredId}`,
        () =>
          pre.snapshot
            ? aws.restoreFromSnapshot({ ...restoreOpts, snapshotId: pre.snapshot.id })
            : aws.restoreToPointInTime({
                ...restoreOpts,
                source: p.dbInstance,
                restoreTime: must(restoreTime, 'restoreTime'),
              }),
        {
          details: (r) => ({ created: r.created }),
          undo: () => ({
            name: `delete the restored instance ${restoredId} (no final snapshot)`,
            // Only if it is still the instance this run restored (tagged with the run).
            run: () => aws.deleteDbInstance({ region: p.region, dbInstance: restoredId, createdBy: restoreOpts.runId }),
          }),
        },
      );
      const restored = await ctx.step(
        'Wait until the restored instance is available',
        () =>
          waits.waitForDbAvailable({
            region: p.region,
            dbInstance: restoredId,
            timeoutMs: parseDuration(p.restoreTimeout),
            label: 'restored instance',
          }),
        { details: (d) => ({ endpoint: d.endpoint }) },
      );
      const endpoint = restored.endpoint ?? '';

      // 4. Data checks: real SQL against the restored database.
      const checks = await ctx.step(
        'Data checks on the restored database',
        async () => {
          const c = await runDataChecks(p.region, { address: endpoint, port: restored.port ?? 5432 }, p.dataChecks);
          if (!c.passed) throw fail('DataCheckFailed', `data checks failed on ${restoredId}: ${failedChecks(c)}`);
          return c;
        },
        { details: (c) => ({ summary: describeChecks(c), results: c.results }) },
      );

      // 5. Approval, showing the check results.
      await ctx.approval(
        `switch ${sw.mode === 'none' ? '(nothing: switch.mode is none)' : `${sw.ecs.service} (${sw.mode})`} to ${restoredId}, restored from ` +
          `${pre.snapshot ? `${pre.snapshot.id} (${pre.snapshot.ageSeconds !== undefined ? `${formatDuration(pre.snapshot.ageSeconds * 1000)} old` : 'age unknown'})` : `point in time ${restoreTime}`}; ` +
          `checks: ${describeChecks(checks)}; safety snapshot ${safetyId}` +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 6. Switch the app. Each part pushes its inverse, so a failure during the switch reverts it.
      let detail = 'nothing switched';
      let finalIds: SnapshotRestoreResult['finalInstanceIds'];
      if (sw.mode !== 'none') {
        const svc = { region: p.region, ...sw.ecs };
        const app = must(pre.app, 'the app');
        if (sw.mode === 'task-definition-env') {
          const value = hostValue(sw.template, endpoint);
          const rev = await ctx.change(
            'Switch: register a revision with the restored endpoint',
            () =>
              aws.registerRevisionWithEnv({
                region: p.region,
                taskDefinition: app.taskDefinition,
                variable: sw.variable,
                value,
              }),
            { details: (r) => ({ taskDefinition: shortName(r.arn), [sw.variable]: value }) },
          );
          await ctx.change(
            'Switch: deploy the app on it',
            () => aws.updateService({ ...svc, taskDefinition: rev.arn }),
            {
              undo: () => ({
                name: `put ${sw.ecs.service} back on ${shortName(app.taskDefinition)}`,
                run: () => aws.updateService({ ...svc, taskDefinition: app.taskDefinition }),
              }),
            },
          );
          await ctx.step('Wait until the app is stable', () =>
            waits.waitForServiceStable({ ...svc, timeoutMs: stableTimeoutMs, expect: { taskDefinition: rev.arn } }),
          );
          detail = `${sw.ecs.service} on ${shortName(rev.arn)} (${sw.variable}=${value})`;
        } else if (sw.mode === 'secret') {
          const before = await ctx.step('Switch: read the current secret', () =>
            aws.getSecretField({ region: p.region, secretId: sw.secretId, key: sw.key }),
          );
          const token = uuid4();
          const restoreToken = uuid4();
          const put = await ctx.change(
            'Switch: write the restored endpoint into the secret',
            () =>
              aws.setSecretField({
                region: p.region,
                secretId: sw.secretId,
                key: sw.key,
                value: endpoint,
                requestToken: token,
              }),
            {
              details: (r) => ({ versionId: r.versionId, [sw.key]: endpoint }),
              // One undo for both halves, in the order that works: the old host back first, then a redeploy so the
              // tasks read it (a redeploy before the secret is back would start tasks on the instance being deleted).
              undo: () =>
                before.value === undefined
                  ? undefined
                  : {
                      name: `put ${sw.key}=${before.value} back into ${sw.secretId} and redeploy ${sw.ecs.service}`,
                      run: async () => {
                        await aws.setSecretField({
                          region: p.region,
                          secretId: sw.secretId,
                          key: sw.key,
                          value: must(before.value, 'the secret value before'),
                          requestToken: restoreToken,
                        });
                        await aws.updateService({ ...svc, forceNewDeployment: true });
                      },
                    },
            },
          );
          await ctx.change('Switch: redeploy the app', () => aws.updateService({ ...svc, forceNewDeployment: true }));
          await ctx.step('Wait until the app is stable', () =>
            waits.waitForServiceStable({ ...svc, timeoutMs: stableTimeoutMs }),
          );
          detail = `secret ${sw.secretId} version ${put.versionId} has ${sw.key}=${endpoint}; ${sw.ecs.service} redeployed`;
        } else {
          // rename-swap (seed 001 option 2): stop the app, source → <id>-old, restored → <id>, start the app.
          const count = app.desiredCount;
          await ctx.change('Switch: stop the app', () => aws.updateService({ ...svc, desiredCount: 0 }), {
            undo: () => ({
              name: `start ${sw.ecs.service} again (${count} tasks)`,
              run: () => aws.updateService({ ...svc, desiredCount: count }),
            }),
          });
          await ctx.step('Wait until the app has stopped', () =>
            waits.waitForServiceStable({ ...svc, timeoutMs: stableTimeoutMs, expect: { desiredCount: 0 } }),
          );
          await ctx.change(
            `Switch: rename ${p.dbInstance} to ${oldId}`,
            () => aws.renameDbInstance({ region: p.region, from: p.dbInstance, to: oldId }),
            {
              undo: () => ({
                name: `rename ${oldId} back to ${p.dbInstance}`,
                run: () => aws.renameDbInstance({ region: p.region, from: oldId, to: p.dbInstance }),
              }),
            },
          );
          // AWS renames take a while (the instance shows "renaming"); the old id is free only once it is done.
          await ctx.step(`Wait until ${oldId} is available`, () =>
            waits.waitForDbAvailable({
              region: p.region,
              dbInstance: oldId,
              timeoutMs: parseDuration(p.restoreTimeout),
              label: 'renamed source instance',
            }),
          );
          await ctx.change(
            `Switch: rename ${restoredId} to ${p.dbInstance}`,
            () => aws.renameDbInstance({ region: p.region, from: restoredId, to: p.dbInstance }),
            {
              undo: () => ({
                name: `rename ${p.dbInstance} back to ${restoredId}`,
                run: () => aws.renameDbInstance({ region: p.region, from: p.dbInstance, to: restoredId }),
              }),
            },
          );
          await ctx.step(`Wait until ${p.dbInstance} (the restored DB) is available`, () =>
            waits.waitForDbAvailable({
              ...source,
              timeoutMs: parseDuration(p.restoreTimeout),
              label: 'renamed restored instance',
            }),
          );
          await ctx.change('Switch: start the app', () => aws.updateService({ ...svc, desiredCount: count }));
          await ctx.step('Wait until the app is stable', () =>
            waits.waitForServiceStable({ ...svc, timeoutMs: stableTimeoutMs, expect: { desiredCount: count } }),
          );
          detail = `${restoredId} now serves as ${p.dbInstance}; the previous source is kept as ${oldId}`;
          finalIds = { serving: p.dbInstance, previous: oldId };
        }

        if (p.health) {
          const check = p.health;
          await ctx.step(
            'Verify the app',
            async () => {
              const h = await verifyHealth(check);
              if (!h.healthy)
                throw fail('HealthCheckFailed', `the app is not healthy after the switch: ${describeHealth(h)}`);
              return h;
            },
            { details: (h) => ({ summary: describeHealth(h) }) },
          );
        }
      }
      // Done: the restored instance stays (it is serving, or left for you when switch.mode is none).
      ctx.compensations.clear();

      // The app serves from the restored DB (and was verified when a health check was given): that is the recovery.
      let rtoSeconds: number | undefined;
      if (sw.mode !== 'none') {
        rtoSeconds = Math.round((Date.now() - Date.parse(ctx.tracker.status.startedAt)) / 1000);
        ctx.incident({
          title: `restore of ${p.dbInstance}`,
          resolvedAs: `the app serves from the restored database`,
          rtoSeconds,
          ...(p.rtoTarget ? { rtoTargetSeconds: Math.round(parseDuration(p.rtoTarget) / 1000) } : {}),
          resolution: `${detail}. Safety snapshot ${safetyId} was taken before anything changed.`,
        });
      }
      const watched = p.watch ? await watchAfterSwitch(ctx, p.watch, p.region, 'the switch') : undefined;

      return {
        source,
        restoredFrom: pre.snapshot
          ? {
              snapshot: pre.snapshot.id,
              ...(pre.snapshot.createdAt ? { snapshotCreatedAt: pre.snapshot.createdAt } : {}),
              ...(pre.snapshot.ageSeconds !== undefined ? { snapshotAgeSeconds: pre.snapshot.ageSeconds } : {}),
            }
          : { restoreTime: must(restoreTime, 'restoreTime') },
        safetySnapshot: safetyId,
        restored: {
          dbInstance: finalIds ? finalIds.serving : restoredId,
          endpoint: finalIds ? ((await aws.describeDbInstance(source)).endpoint ?? endpoint) : endpoint,
        },
        dataChecks: checks,
        switch: { mode: sw.mode, detail },
        ...(finalIds ? { finalInstanceIds: finalIds } : {}),
        ...(rtoSeconds !== undefined ? { rtoSeconds } : {}),
        ...(watched ? { watch: watched } : {}),
      };
    },
  });
}
