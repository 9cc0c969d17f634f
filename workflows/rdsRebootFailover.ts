// rdsRebootFailover — seed 000 § "Database Connection Issues", emergency actions: "Restart RDS (last resort): aws
// rds reboot-db-instance --force-failover". Read the instance (Multi-AZ, available, not a replica; the zone it serves
// from and its standby's), approve (by policy) with the move in words, reboot it with ForceFailover, wait until it is
// available in the standby's zone, check it (SQL probe through its endpoint, the app's health), report which zone
// served before and after and the RTO. A reboot cannot be undone: a failure after it says what state the database is
// in and what to do, and nothing is "compensated".
import { parseDuration } from '../api/duration';
import {
  describeAzMove,
  rebootFailoverRefusal,
  type MultiAzView,
  type RdsRebootFailoverInput,
  type RdsRebootFailoverResult,
} from '../api/runbooks/rds-reboot';
import type { DataCheckSummary, RunbookReport } from '../api/status';
import { rdsRebootFailoverEntry } from '../api/runbooks/rds-reboot';
import { describeChecks, failedChecks, runDataChecks } from './lib/datachecks';
import { fail } from './lib/errors';
import { requireHealthy } from './lib/health';
import { lockable } from './lib/lock';
import { aws, waits } from './lib/proxies';
import { describeRto } from './lib/rto';
import { DRY_RUN, runRunbook } from './lib/runbook';

/** The parts of an instance the approval and the report name (pure: unit-tested). */
export function describePending(db: Pick<MultiAzView, 'pendingModified' | 'parameterGroupsPendingReboot'>): string[] {
  return [
    ...db.parameterGroupsPendingReboot.map(
      (g) => `the reboot also applies the pending changes of parameter group ${g}`,
    ),
    ...(db.pendingModified.length
      ? [`pending modifications (not applied by a reboot): ${db.pendingModified.join(', ')}`]
      : []),
  ];
}

export async function rdsRebootFailover(
  input: RdsRebootFailoverInput,
): Promise<RunbookReport<RdsRebootFailoverResult>> {
  return runRunbook(rdsRebootFailoverEntry, input, {
    target: (p) => `${p.region}/${p.dbInstance}`,
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, dbInstance: p.dbInstance };
      const events = `aws rds describe-events --region ${p.region} --source-type db-instance --source-identifier ${p.dbInstance}`;
      const whereIsIt = `aws rds describe-db-instances --region ${p.region} --db-instance-identifier ${p.dbInstance} --query 'DBInstances[0].[DBInstanceStatus,AvailabilityZone,SecondaryAvailabilityZone]'`;

      // 1. Preflight (read only): Multi-AZ, available, not a replica; where it serves and where its standby is.
      const before = await ctx.step(
        'Preflight: the instance, its zone and its standby',
        async () => {
          const db = await aws.describeMultiAz(ref);
          const refusal = rebootFailoverRefusal(db);
          if (refusal?.field === 'dbInstance') {
            throw fail('InvalidInput', `invalid input: input.dbInstance: ${refusal.message}`);
          }
          if (refusal) throw fail('PreconditionFailed', refusal.message);
          return db;
        },
        {
          details: (db) => ({
            status: db.status,
            engine: db.engine,
            multiAz: db.multiAz,
            availabilityZone: db.availabilityZone,
            secondaryAvailabilityZone: db.secondaryAvailabilityZone,
            pendingModified: db.pendingModified,
            parameterGroupsPendingReboot: db.parameterGroupsPendingReboot,
          }),
        },
      );
      const fromZone = before.availabilityZone;
      const pending = describePending(before);

      if (
        ctx.planned([
          {
            step: 'Reboot with failover',
            action: 'rds:RebootDBInstance',
            params: {
              ...ref,
              forceFailover: true,
              servesFrom: fromZone ?? '(not reported)',
              willServeFrom: before.secondaryAvailabilityZone ?? "(the standby's zone, not reported)",
            },
          },
        ]) === 'dry-run'
      )
        return DRY_RUN;

      // 2. Take the instance (no other run, of any runbook, changes it meanwhile), then approval by policy.
      await ctx.lockResources([lockable.dbInstance(ref)]);
      await ctx.approval(
        `reboot ${p.dbInstance} (${p.region}, ${before.engine}) with a failover to its standby: serves from ` +
          `${describeAzMove(before)}. The database does not answer while RDS fails over (usually one to two ` +
          `minutes), and a reboot cannot be undone` +
          (pending.length ? ` — ${pending.join('; ')}` : '') +
          (p.rtoTarget ? ` — RTO target ${p.rtoTarget}` : '') +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 3. The reboot with failover (sent once: a retry finds the instance rebooting or already moved). From here a
      //    failure undoes nothing: it says what state the database is in.
      const rebootedAt = Date.now();
      const reboot = await ctx.change(
        'Reboot with failover',
        () => aws.rebootWithFailover({ ...ref, ...(fromZone ? { fromZone } : {}) }),
        { params: { forceFailover: true, from: fromZone }, details: (r) => ({ sent: r.sent, status: r.status }) },
      );
      ctx.noteOnFailure(
        `The reboot with failover of ${p.dbInstance} was requested at ${new Date(rebootedAt).toISOString()} ` +
          `(it served from ${fromZone ?? 'an unreported zone'}); a reboot cannot be undone, so nothing was undone. ` +
          `See where it is: ${whereIsIt}; and RDS's events: ${events}. The endpoint's name follows the new primary ` +
          `(apps holding connections to the old one must reconnect); to serve from ${fromZone ?? 'the former zone'} ` +
          `again, run this runbook once more (it fails over to the standby, now there).`,
      );
      if (!reboot.sent) {
        ctx.warn(
          `no reboot was sent: ${p.dbInstance} was already ` +
            (reboot.status === 'rebooting'
              ? 'rebooting'
              : `${reboot.status} outside ${fromZone ?? 'its former zone'}`) +
            ` when the call was about to go (a reboot by someone else, or a retry of this one)`,
        );
      }

      // 4. Wait until it is available again, serving from another zone than before (heartbeats; a terminal state
      //    or its disappearance ends the wait at once).
      const after = await ctx.step(
        'Wait until available in the standby’s zone',
        () =>
          waits.waitForDbFailover({
            ...ref,
            ...(fromZone ? { fromZone } : {}),
            timeoutMs: parseDuration(p.failoverTimeout),
          }),
        {
          details: (d) => ({
            status: d.status,
            availabilityZone: d.availabilityZone,
            secondaryAvailabilityZone: d.secondaryAvailabilityZone,
            waitedMs: d.waitedMs,
            phases: d.phases,
          }),
        },
      );
      const availableAt = Date.now();
      if (before.secondaryAvailabilityZone && after.availabilityZone !== before.secondaryAvailabilityZone) {
        ctx.warn(
          `${p.dbInstance} serves from ${after.availabilityZone ?? 'an unreported zone'}, not from its former ` +
            `standby's zone ${before.secondaryAvailabilityZone}: RDS placed it elsewhere`,
        );
      }

      // 5. Verify: SQL through the instance's endpoint (credentials stay in the activity), then the app's health.
      let sqlProbe: DataCheckSummary | undefined;
      if (p.sqlProbe) {
        const probe = p.sqlProbe;
        sqlProbe = await ctx.step(
          'SQL probe through the endpoint',
          async () => {
            const c = await runDataChecks(
              p.region,
              { address: after.endpoint ?? before.endpoint ?? '', port: after.port ?? before.port ?? 5432 },
              probe,
            );
            if (!c.passed) {
              throw fail(
                'DataCheckFailed',
                `SQL probe failed on ${p.dbInstance} after the failover: ${failedChecks(c)}`,
              );
            }
            return c;
          },
          { details: (c) => ({ summary: describeChecks(c), results: c.results }) },
        );
      } else {
        ctx.tracker.skipped('SQL probe through the endpoint', 'no sqlProbe in the input');
      }
      const health = await requireHealthy(ctx, p.health, `after the failover of ${p.dbInstance}`);

      // 6. Report: the zones before and after, and the RTO (the reboot request until the checks passed).
      const rtoMs = Date.now() - rebootedAt;
      const targetMs = p.rtoTarget ? parseDuration(p.rtoTarget) : undefined;
      const rto = describeRto(rtoMs, targetMs);
      ctx.incident({
        title: `Reboot ${p.dbInstance} with a failover to its standby`,
        resolvedAs: `${p.dbInstance} serving from ${after.availabilityZone ?? 'its standby’s zone'}`,
        rtoSeconds: rtoMs / 1000,
        ...(targetMs !== undefined ? { rtoTargetSeconds: targetMs / 1000 } : {}),
        impact: [
          ['Served from before', `${fromZone ?? '?'} (standby in ${before.secondaryAvailabilityZone ?? '?'})`],
          [
            'Serves from after',
            `${after.availabilityZone ?? '?'} (standby in ${after.secondaryAvailabilityZone ?? '?'})`,
          ],
          ['RTO', rto.text],
          ['Failover', after.phases],
        ],
        resolution:
          `${p.dbInstance} (${p.region}) rebooted with a failover: it served from ${fromZone ?? '?'} and serves from ` +
          `${after.availabilityZone ?? '?'} now; available again ${Math.round((availableAt - rebootedAt) / 1000)}s ` +
          `after the reboot request` +
          (sqlProbe ? `; SQL probe: ${describeChecks(sqlProbe)}` : '') +
          (health ? '; the app is healthy' : '') +
          `. RTO ${rto.text}.`,
      });

      return {
        region: p.region,
        dbInstance: p.dbInstance,
        engine: before.engine,
        before: zonesOf(before),
        after: zonesOf(after),
        rebootedAt: new Date(rebootedAt).toISOString(),
        availableAt: new Date(availableAt).toISOString(),
        phases: after.phases,
        rtoMs,
        rto: rto.text,
        ...(p.rtoTarget ? { rtoTarget: p.rtoTarget } : {}),
        ...(rto.verdict ? { rtoVerdict: rto.verdict } : {}),
        pendingModified: before.pendingModified,
        parameterGroupsApplied: before.parameterGroupsPendingReboot,
        ...(sqlProbe ? { sqlProbe } : {}),
        ...(health ? { health } : {}),
      };

      function zonesOf(db: MultiAzView): RdsRebootFailoverResult['before'] {
        return {
          ...(db.availabilityZone ? { availabilityZone: db.availabilityZone } : {}),
          ...(db.secondaryAvailabilityZone ? { secondaryAvailabilityZone: db.secondaryAvailabilityZone } : {}),
        };
      }
    },
  });
}
