// dnsFailover — seeds 000 "DNS Emergency Failover" and 001 Runbook 1 step 7: approval (required by default),
// save the exact current record sets, UPSERT the record to the new target, wait INSYNC, verify the target's health;
// if verification fails, restore the saved record sets exactly and fail with the reason.
import { parseDuration } from '../api/duration';
import { normalizeDnsName, type DnsFailoverInput, type DnsFailoverResult } from '../api/runbooks/dns-failover';
import type { RunbookReport } from '../api/status';
import { aws, waits } from './lib/proxies';
import { describeRecordTarget, readRecord, sameTarget } from './lib/dns';
import { fail } from './lib/errors';
import { lockable } from './lib/lock';
import { describeHealth, healthStep, verifyHealth } from './lib/health';
import { DRY_RUN, runRunbook } from './lib/runbook';
import { dnsFailoverEntry } from '../api/runbooks/dns-failover';

export async function dnsFailover(input: DnsFailoverInput): Promise<RunbookReport<DnsFailoverResult>> {
  return runRunbook(dnsFailoverEntry, input, {
    target: (p) =>
      `${normalizeDnsName(p.record.name)} ${p.record.type}${p.record.setIdentifier ? ` [${p.record.setIdentifier}]` : ''}`,
    async execute(ctx) {
      const p = ctx.params;
      const recordLabel = `${normalizeDnsName(p.record.name)} ${p.record.type}`;

      // 1. Preflight (read only): the zone, the exact current record sets (saved for the restore), the record to change.
      const pre = await ctx.step(
        'Preflight: read and save the current records',
        () => readRecord(p.hostedZone, p.record, p.target),
        {
          details: (r) => ({
            hostedZoneId: r.zone.id,
            savedRecordSets: r.saved,
            currentTarget: describeRecordTarget(r.current),
            newTarget: describeRecordTarget(r.desired),
          }),
        },
      );
      const alreadyPointed = sameTarget(pre.current, pre.desired);

      if (
        ctx.planned(
          alreadyPointed
            ? []
            : [
                {
                  step: 'Switch DNS',
                  action: 'route53:ChangeResourceRecordSets',
                  params: {
                    hostedZoneId: pre.zone.id,
                    action: 'UPSERT',
                    record: recordLabel,
                    ...(p.record.setIdentifier ? { setIdentifier: p.record.setIdentifier } : {}),
                    from: describeRecordTarget(pre.current),
                    to: describeRecordTarget(pre.desired),
                  },
                },
              ],
        ) === 'dry-run'
      )
        return DRY_RUN;

      // 2. Take the record's name and type in its zone (every set of it: a restore puts them all back), unless the
      // run changes nothing; then approval.
      await ctx.lockResources(
        alreadyPointed
          ? []
          : [lockable.record({ hostedZoneId: pre.zone.id, name: p.record.name, type: p.record.type })],
      );
      await ctx.approval(
        alreadyPointed
          ? `${recordLabel} already points to ${describeRecordTarget(pre.desired)}; only the health check will run`
          : `point ${recordLabel}${p.record.setIdentifier ? ` [${p.record.setIdentifier}]` : ''} from ` +
              `${describeRecordTarget(pre.current)} to ${describeRecordTarget(pre.desired)}` +
              (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 3. UPSERT the record; the compensation restores the saved record sets exactly.
      let changeId: string | undefined;
      if (alreadyPointed) {
        ctx.tracker.skipped('Switch DNS', `${recordLabel} already points to the target`);
      } else {
        const change = await ctx.change(
          'Switch DNS',
          () =>
            aws.changeRecordSets({
              hostedZoneId: pre.zone.id,
              comment: `dnsFailover ${ctx.workflowId}: ${p.reason ?? 'failover'}`,
              changes: [{ action: 'UPSERT', recordSet: pre.desired }],
            }),
          {
            params: { to: describeRecordTarget(pre.desired) },
            details: (c) => ({ changeId: c.changeId }),
            undo: () => ({
              name: `restore the saved ${recordLabel} record sets`,
              run: async () => {
                const restore = await aws.restoreRecordSets({
                  hostedZoneId: pre.zone.id,
                  name: p.record.name,
                  type: p.record.type,
                  saved: pre.saved,
                  comment: `dnsFailover ${ctx.workflowId}: restore`,
                });
                if (restore.changeId) {
                  await waits.waitForChangeInsync({
                    changeId: restore.changeId,
                    timeoutMs: parseDuration(p.insyncTimeout),
                  });
                }
              },
            }),
          },
        );
        changeId = change.changeId;

        // 4. Wait for Route 53 to report the change INSYNC.
        const id = change.changeId;
        await ctx.step('Wait for the change to be INSYNC', () =>
          waits.waitForChangeInsync({ changeId: id, timeoutMs: parseDuration(p.insyncTimeout) }),
        );
      }

      // 5. Verify the target's health. Failing it restores the saved records (compensation) and fails the run.
      const health = await ctx.step('Verify the target is healthy', () => verifyHealth(p.verify), healthStep);
      if (!health.healthy) {
        throw fail('HealthCheckFailed', `the new target failed its health check: ${describeHealth(health)}`);
      }

      return {
        hostedZoneId: pre.zone.id,
        record: {
          name: p.record.name,
          type: p.record.type,
          ...(p.record.setIdentifier ? { setIdentifier: p.record.setIdentifier } : {}),
        },
        previousRecordSets: pre.saved,
        newRecordSet: pre.desired,
        ...(changeId ? { changeId } : {}),
        alreadyPointed,
        health,
      };
    },
  });
}
