// rdsRebootFailover end to end: real dev server, real worker, the emulator (moto with our patch: a reboot with
// failover swaps a Multi-AZ instance's zones), the test PostgreSQL behind every RDS endpoint for the SQL probe; the
// instance read back through the SDK. Under the realistic layer: `rebooting` for an AWS minute in the old zone, the
// reboot sent once through throttling, the RTO against its target, and a region that stops answering after the
// reboot (nothing undone, the failure says where the database is and what to do). The completion notification gives
// the RTO against its target.
import { CreateDBInstanceReadReplicaCommand } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';
import { approveSignal } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { RdsRebootFailoverInput, RdsRebootFailoverResult } from '../../api/runbooks/rds-reboot';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { dbZones, makeDbInstance } from '../helpers/env/multiaz-env';
import { makeDbSecret } from '../helpers/env/restore-env';
import { activityTypes } from '../helpers/history';
import { notifyingTo, startReceiver, type Receiver } from '../helpers/notify-receiver';
import { effectiveMutations, withRealisticWorker } from '../helpers/realistic';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

const REGION = 'us-east-1';
let app: DemoApp;
let receiver: Receiver;
beforeAll(async () => {
  app = await startDemoApp('reboot-app');
  receiver = await startReceiver();
});
afterAll(async () => {
  await app.close();
  await receiver.close();
  await closeConnections();
});

const health = () => ({ url: app.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });
const USERS = [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 1000 } }];

const makeDb = (aws: AwsClients, multiAz: boolean) => makeDbInstance(aws, REGION, { multiAz });
const zones = (aws: AwsClients, id: string) => dbZones(aws, REGION, id);

describe('rdsRebootFailover', () => {
  it('after approval: the instance serves from its former standby’s zone, checked; the report names both zones and the RTO', async () => {
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const id = await makeDb(aws, true);
        expect(await zones(aws, id)).toEqual({ status: 'available', az: 'us-east-1a', standby: 'us-east-1b' });
        const secretId = await makeDbSecret(aws, REGION);
        const input: RdsRebootFailoverInput = {
          region: REGION,
          dbInstance: id,
          sqlProbe: { secretId, checks: USERS },
          health: health(),
          rtoTarget: '15m',
          reason: 'connections hang',
          initiatedBy: 'alice',
          approval: { required: true, timeout: '1m' },
        };
        const workflowId = uid('reboot');
        const handle = await client.workflow.start('rdsRebootFailover', { taskQueue, workflowId, args: [input] });
        const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        expect(waiting.pendingApproval?.summary).toBe(
          `reboot ${id} (us-east-1, postgres) with a failover to its standby: serves from us-east-1a → us-east-1b ` +
            `(the standby's zone). The database does not answer while RDS fails over (usually one to two minutes), and ` +
            `a reboot cannot be undone — RTO target 15m — reason: connections hang`,
        );
        expect(waiting.pendingApproval?.plan).toEqual([
          {
            step: 'Reboot with failover',
            action: 'rds:RebootDBInstance',
            params: {
              region: REGION,
              dbInstance: id,
              forceFailover: true,
              servesFrom: 'us-east-1a',
              willServeFrom: 'us-east-1b',
            },
          },
        ]);
        expect((await zones(aws, id)).az).toBe('us-east-1a'); // nothing changed before approval

        const probesBefore = app.probes;
        await handle.signal(approveSignal, { by: 'bob' });
        const report = (await handle.result()) as RunbookReport<RdsRebootFailoverResult>;
        expect(report.outcome).toBe('succeeded');
        expect(report.warnings).toEqual([]);
        expect(report.compensations).toEqual([]);
        expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual([
          ['Acquire resource', 'succeeded'],
          ['Preflight: the instance, its zone and its standby', 'succeeded'],
          ['Lock resources', 'succeeded'],
          ['Approval', 'succeeded'],
          ['Reboot with failover', 'succeeded'],
          ['Wait until available in the standby’s zone', 'succeeded'],
          ['SQL probe through the endpoint', 'succeeded'],
          ['Verify health', 'succeeded'],
        ]);
        expect(app.probes - probesBefore).toBeGreaterThanOrEqual(2);

        // AWS, read through the SDK: the zones swapped.
        expect(await zones(aws, id)).toEqual({ status: 'available', az: 'us-east-1b', standby: 'us-east-1a' });
        const r = report.result!;
        expect(r).toMatchObject({
          dbInstance: id,
          engine: 'postgres',
          before: { availabilityZone: 'us-east-1a', secondaryAvailabilityZone: 'us-east-1b' },
          after: { availabilityZone: 'us-east-1b', secondaryAvailabilityZone: 'us-east-1a' },
          rtoTarget: '15m',
          rtoVerdict: 'met',
          sqlProbe: { connected: true, passed: true, results: [{ name: 'users', value: 1200, pass: true }] },
          health: { healthy: true },
        });
        expect(r.rto).toMatch(/ \(target 15m: met\)$/);
        expect(r.rtoMs).toBeGreaterThan(0);
        expect(r.rtoMs).toBeLessThan(60_000);
        expect(report.incidentReport).toContain('us-east-1a (standby in us-east-1b)');
        expect(report.incidentReport).toContain('us-east-1b (standby in us-east-1a)');
        expect(report.incidentReport).toContain(`it served from us-east-1a and serves from us-east-1b now`);
        expect(report.incidentReport).toContain('target 15m: met');
        expect((await activityTypes(handle)).filter((a) => a === 'rebootWithFailover')).toHaveLength(1);
        // The completion notification gives the RTO against its target.
        const resolved = receiver.messages.find((m) => m.startsWith('✅ RESOLVED') && m.includes(id));
        expect(resolved).toMatch(/ \(RTO \S+ \(target 15m: met\)\)/);
      },
      { activities: notifyingTo(receiver.url) },
    );
  });

  it('refuses a Single-AZ instance, and a read replica, naming input.dbInstance; nothing is rebooted', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const single = await makeDb(aws, false);
      const replica = uid('replica');
      await aws.rds(REGION).send(
        new CreateDBInstanceReadReplicaCommand({
          DBInstanceIdentifier: replica,
          SourceDBInstanceIdentifier: single,
          DBInstanceClass: 'db.t3.micro',
        }),
      );
      for (const [id, why] of [
        [
          single,
          `${single} (us-east-1) is Single-AZ (MultiAZ false): a reboot with failover needs a standby; use a plain reboot`,
        ],
        [replica, `${replica} (us-east-1) is a read replica of ${single}`],
      ] as const) {
        const zoneBefore = (await zones(aws, id)).az;
        const workflowId = uid('reboot');
        const handle = await client.workflow.start('rdsRebootFailover', {
          taskQueue,
          workflowId,
          args: [{ region: REGION, dbInstance: id, approval: { required: false } }],
        });
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.InvalidInput);
        expect(failure.message).toContain(`invalid input: input.dbInstance: ${why}`);
        expect(failure.message).toMatch(/Nothing was changed\.$/);
        expect(await activityTypes(handle)).not.toContain('rebootWithFailover');
        expect(failure.report?.timeline.map((s) => s.name)).not.toContain('Reboot with failover');
        expect((await zones(aws, id)).az).toBe(zoneBefore);
      }
    });
  });

  it('a failed SQL probe after the failover fails the run: nothing undone, the message says where the database is', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const id = await makeDb(aws, true);
      const secretId = await makeDbSecret(aws, REGION);
      const workflowId = uid('reboot');
      await client.workflow.start('rdsRebootFailover', {
        taskQueue,
        workflowId,
        args: [
          {
            region: REGION,
            dbInstance: id,
            sqlProbe: { secretId, checks: [{ ...USERS[0]!, expect: { min: 1_000_000 } }] },
            approval: { required: false },
          },
        ],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.DataCheckFailed);
      expect(failure.message).toMatch(
        new RegExp(`^SQL probe failed on ${id} after the failover: users = 1200, expected ≥ 1000000\\. The reboot`),
      );
      expect(failure.message).toContain('a reboot cannot be undone, so nothing was undone');
      expect(failure.message).toContain('to serve from us-east-1a again, run this runbook once more');
      expect(failure.report?.compensations).toEqual([]);
      // The failover itself happened, and was left as it is.
      expect(await zones(aws, id)).toEqual({ status: 'available', az: 'us-east-1b', standby: 'us-east-1a' });
    });
  });

  it('a dry run returns the plan and changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const id = await makeDb(aws, true);
      const report = (await client.workflow.execute('rdsRebootFailover', {
        taskQueue,
        workflowId: uid('reboot'),
        args: [{ region: REGION, dbInstance: id, dryRun: true, initiatedBy: 'alice' }],
      })) as RunbookReport;
      expect(report.outcome).toBe('dry-run');
      expect(report.plan?.[0]).toMatchObject({ action: 'rds:RebootDBInstance', params: { servesFrom: 'us-east-1a' } });
      expect(await zones(aws, id)).toEqual({ status: 'available', az: 'us-east-1a', standby: 'us-east-1b' });
    });
  });
});

describe('rdsRebootFailover under realistic AWS', () => {
  it('rebooting in the old zone for an AWS minute, then available in the standby’s; the reboot sent once through throttling', async () => {
    await withRealisticWorker(
      { minuteMs: 3_000, faults: [{ name: 'throttle-storm', rate: 0.3 }] },
      async ({ client, taskQueue, aws, layer }) => {
        const id = await makeDb(aws, true);
        const secretId = await makeDbSecret(aws, REGION);
        const report = (await client.workflow.execute('rdsRebootFailover', {
          taskQueue,
          workflowId: uid('reboot'),
          args: [
            { region: REGION, dbInstance: id, sqlProbe: { secretId, checks: USERS }, approval: { required: false } },
          ],
        })) as RunbookReport<RdsRebootFailoverResult>;
        expect(report.outcome).toBe('succeeded');
        // What the wait saw: rebooting, still in us-east-1a, then available in us-east-1b.
        expect(report.result!.phases).toMatch(/^rebooting in us-east-1a @.* → available in us-east-1b @/);
        expect(report.result!.after).toEqual({
          availabilityZone: 'us-east-1b',
          secondaryAvailabilityZone: 'us-east-1a',
        });
        expect(effectiveMutations(layer)).toEqual([`RebootDBInstance ${id}`]);
        expect(layer.calls().some((c) => c.fault === 'throttle-storm')).toBe(true);
        expect(await zones(aws, id)).toEqual({ status: 'available', az: 'us-east-1b', standby: 'us-east-1a' });
      },
    );
  });

  it('an RTO over its target is reported: a warning, the report and the result say by how much', async () => {
    // One AWS minute takes 3 s here: the RTO (reboot until checked) passes a 1-second target.
    await withRealisticWorker({ minuteMs: 3_000 }, async ({ client, taskQueue, aws, layer }) => {
      const id = await makeDb(aws, true);
      const through = createAwsClients({ endpoint: layer.endpoint });
      try {
        const workflowId = uid('reboot');
        const handle = await client.workflow.start('rdsRebootFailover', {
          taskQueue,
          workflowId,
          args: [{ region: REGION, dbInstance: id, rtoTarget: '1s', health: health(), approval: { required: false } }],
        });
        // As AWS shows it meanwhile: rebooting, still serving from us-east-1a.
        await waitForStatus(client, workflowId, (s) => s.currentStep === 'Wait until available in the standby’s zone');
        expect(await zones(through, id)).toEqual({ status: 'rebooting', az: 'us-east-1a', standby: 'us-east-1b' });
        const report = (await handle.result()) as RunbookReport<RdsRebootFailoverResult>;
        expect(report.outcome).toBe('succeeded-with-warnings');
        expect(report.result).toMatchObject({ rtoTarget: '1s', rtoVerdict: 'missed' });
        expect(report.result!.rtoMs).toBeGreaterThan(3_000);
        expect(report.warnings).toEqual([expect.stringMatching(/^RTO .* \(target 1s: MISSED by \d+s\)$/)]);
        expect(report.incidentReport).toMatch(/target 1s: MISSED by/);
        expect(await zones(through, id)).toEqual({ status: 'available', az: 'us-east-1b', standby: 'us-east-1a' });
      } finally {
        through.destroy();
      }
    });
  });

  it('the region stops answering after the reboot: nothing undone, the failure says where to look and what to do', async () => {
    await withRealisticWorker({ minuteMs: 5_000 }, async ({ client, taskQueue, aws, layer }) => {
      const id = await makeDb(aws, true);
      const workflowId = uid('reboot');
      await client.workflow.start('rdsRebootFailover', {
        taskQueue,
        workflowId,
        args: [{ region: REGION, dbInstance: id, approval: { required: false } }],
      });
      // The outage begins once AWS has accepted the reboot.
      const deadline = Date.now() + 20_000;
      while (!effectiveMutations(layer).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      layer.setFaults([{ name: 'region-outage', region: REGION }]);
      const failure = await expectFailure(client, workflowId);
      layer.setFaults([]);
      expect(failure.type).toBe(FailureType.RegionUnavailable);
      expect(failure.message).toContain('us-east-1 is not answering');
      expect(failure.message).toContain(`The reboot with failover of ${id} was requested at `);
      expect(failure.message).toContain(
        '(it served from us-east-1a); a reboot cannot be undone, so nothing was undone. See where it is: ' +
          `aws rds describe-db-instances --region us-east-1 --db-instance-identifier ${id}`,
      );
      expect(failure.message).not.toContain('Nothing was changed');
      expect(failure.report?.compensations).toEqual([]);
      expect(effectiveMutations(layer)).toEqual([`RebootDBInstance ${id}`]);
    });
  }, 60_000);
});
