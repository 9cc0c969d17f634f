// dnsFailover end to end: real dev server, real worker, the zone's records read back through the SDK.
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveSignal, rejectSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import type { DnsFailoverInput, DnsFailoverResult } from '../../api/runbooks/dns-failover';
import type { RunbookReport } from '../../api/status';
import { startDemoApp, type DemoApp } from '../../scripts/lib/demo-apps';
import { makeZone, zoneRecords } from '../helpers/env/aws-fixtures';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';
import type { AwsClients } from '../../activities/aws-clients';

let app: DemoApp;
beforeAll(async () => {
  app = await startDemoApp('dns-app');
});
afterAll(async () => {
  await app.close();
  await closeConnections();
});

/** The ALBs' canonical hosted zone in us-east-1 (any id will do for the emulator; a real one reads better). */
const ALB_ZONE = 'Z35SXDOTRQ7X7K';
const verify = (a: DemoApp = app) => ({ url: a.healthUrl, consecutive: 2, interval: '100ms', timeout: '10s' });
const stripDot = (name: string | undefined) => (name ?? '').replace(/\.$/, '');

/** api.<zone> A as a failover pair of aliases, plus a simple www.<zone> A record that no run may touch. */
function failoverZone(aws: AwsClients) {
  return makeZone(aws, (zone) => [
    {
      Name: `api.${zone}`,
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      AliasTarget: { DNSName: 'primary-alb.example.test', HostedZoneId: ALB_ZONE, EvaluateTargetHealth: true },
    },
    {
      Name: `api.${zone}`,
      Type: 'A',
      SetIdentifier: 'secondary',
      Failover: 'SECONDARY',
      AliasTarget: { DNSName: 'secondary-alb.example.test', HostedZoneId: ALB_ZONE, EvaluateTargetHealth: true },
    },
    { Name: `www.${zone}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.10' }] },
  ]);
}

const isApi = (zoneName: string) => (r: ResourceRecordSet) => stripDot(r.Name) === `api.${zoneName}` && r.Type === 'A';
const bySetId = (records: ResourceRecordSet[], id: string) => records.find((r) => r.SetIdentifier === id);
const sortBySetId = <T extends { SetIdentifier?: string | undefined }>(records: T[]) =>
  [...records].sort((a, b) => (a.SetIdentifier ?? '').localeCompare(b.SetIdentifier ?? ''));

const newTarget = { alias: { dnsName: 'dr-alb.example.test', hostedZoneId: ALB_ZONE } };

describe('dnsFailover', () => {
  it('points the PRIMARY record at the new target after approval; the SECONDARY and other records are untouched', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const zone = await failoverZone(aws);
      const before = await zoneRecords(aws, zone.zoneId);
      expect(before).toHaveLength(3);
      const input: DnsFailoverInput = {
        hostedZone: zone.zoneName,
        record: { name: zone.recordName, type: 'A', setIdentifier: 'primary' },
        target: newTarget,
        verify: verify(),
        reason: 'primary region down',
        initiatedBy: 'alice',
        approval: { timeout: '1m' }, // required by default for this runbook
      };
      const workflowId = uid('dns');
      const handle = await client.workflow.start('dnsFailover', { taskQueue, workflowId, args: [input] });
      const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      expect(waiting.pendingApproval?.summary).toContain(
        'from alias primary-alb.example.test to alias dr-alb.example.test',
      );
      expect(await zoneRecords(aws, zone.zoneId)).toEqual(before); // nothing changed before approval

      await handle.signal(approveSignal, { by: 'bob' });
      const report = (await handle.result()) as RunbookReport<DnsFailoverResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.result?.alreadyPointed).toBe(false);
      expect(report.result?.health.healthy).toBe(true);
      expect(report.result?.hostedZoneId).toBe(zone.zoneId);
      // The saved records are exactly what the zone held for api.<zone> A before the run.
      expect(sortBySetId(report.result?.previousRecordSets ?? [])).toEqual(
        sortBySetId(before.filter(isApi(zone.zoneName))),
      );
      expect(report.timeline.map((s) => [s.name, s.outcome])).toEqual([
        ['Acquire resource', 'succeeded'],
        ['Preflight: read and save the current records', 'succeeded'],
        ['Lock resources', 'succeeded'],
        ['Approval', 'succeeded'],
        ['Switch DNS', 'succeeded'],
        ['Wait for the change to be INSYNC', 'succeeded'],
        ['Verify the target is healthy', 'succeeded'],
      ]);

      const after = await zoneRecords(aws, zone.zoneId);
      const primary = bySetId(after, 'primary');
      expect(stripDot(primary?.AliasTarget?.DNSName)).toBe('dr-alb.example.test');
      expect(primary).toMatchObject({ Failover: 'PRIMARY', AliasTarget: { HostedZoneId: ALB_ZONE } });
      expect(bySetId(after, 'secondary')).toEqual(bySetId(before, 'secondary'));
      const others = (rs: ResourceRecordSet[]) => rs.filter((r) => !isApi(zone.zoneName)(r));
      expect(others(after)).toEqual(others(before));
      expect(after).toHaveLength(3);
    });
  });

  it('sets new values and TTL on a simple record, the zone given by id', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const zone = await makeZone(aws, (z) => [
        { Name: `api.${z}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.1' }] },
        { Name: `www.${z}`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: '192.0.2.10' }] },
      ]);
      const before = await zoneRecords(aws, zone.zoneId);
      const handle = await client.workflow.start('dnsFailover', {
        taskQueue,
        workflowId: uid('dns'),
        args: [
          {
            hostedZone: zone.zoneId,
            record: { name: zone.recordName, type: 'A' },
            target: { values: ['198.51.100.7', '198.51.100.8'], ttl: 30 },
            verify: verify(),
            approval: { required: false },
          } satisfies DnsFailoverInput,
        ],
      });
      const report = (await handle.result()) as RunbookReport<DnsFailoverResult>;
      expect(report.outcome).toBe('succeeded');
      expect(report.result?.previousRecordSets).toEqual(before.filter(isApi(zone.zoneName)));

      const after = await zoneRecords(aws, zone.zoneId);
      const api = after.find(isApi(zone.zoneName));
      expect(api?.TTL).toBe(30);
      expect(api?.ResourceRecords?.map((r) => r.Value).sort()).toEqual(['198.51.100.7', '198.51.100.8']);
      expect(api?.SetIdentifier).toBeUndefined();
      expect(after.filter((r) => !isApi(zone.zoneName)(r))).toEqual(before.filter((r) => !isApi(zone.zoneName)(r)));
    });
  });

  it('a failed verification restores the records exactly and fails the run, reporting the compensation', async () => {
    const sick = await startDemoApp('dns-sick');
    sick.setHealthy(false);
    try {
      await withWorker(async ({ client, taskQueue, aws }) => {
        const zone = await failoverZone(aws);
        const before = await zoneRecords(aws, zone.zoneId);
        const workflowId = uid('dns');
        const handle = await client.workflow.start('dnsFailover', {
          taskQueue,
          workflowId,
          args: [
            {
              hostedZone: zone.zoneName,
              record: { name: zone.recordName, type: 'A', setIdentifier: 'primary' },
              target: newTarget,
              verify: { ...verify(sick), timeout: '3s' },
              approval: { required: false },
            } satisfies DnsFailoverInput,
          ],
        });
        // While the health check runs, the record really points at the new target…
        await waitForStatus(client, workflowId, (s) => s.currentStep === 'Verify the target is healthy');
        const during = bySetId(await zoneRecords(aws, zone.zoneId), 'primary');
        expect(stripDot(during?.AliasTarget?.DNSName)).toBe('dr-alb.example.test');

        // …and once it fails, the compensation puts the saved records back.
        const failure = await expectFailure(client, workflowId);
        expect(failure.type).toBe(FailureType.HealthCheckFailed);
        expect(failure.message).toContain('failed its health check');
        expect(failure.message).toContain('Compensated: restore the saved');
        expect(sick.probes).toBeGreaterThan(0);

        const report = failure.report;
        expect(report?.outcome).toBe('failed');
        expect(report?.timeline.find((s) => s.name === 'Switch DNS')?.outcome).toBe('succeeded'); // it did change
        expect(report?.compensations).toHaveLength(1);
        expect(report?.compensations[0]).toMatchObject({ outcome: 'succeeded' });
        expect(report?.compensations[0]?.name).toContain(`restore the saved api.${zone.zoneName} A record sets`);
        // The step that found the target unhealthy is a failed step — in status (what `status` and `watch` show),
        // in the report's timeline and in the incident report — not a succeeded one.
        const status = await handle.query(statusQuery);
        const verifyStep = status.steps.find((s) => s.name === 'Verify the target is healthy');
        expect(verifyStep).toMatchObject({ outcome: 'failed', details: { healthy: false } });
        expect(verifyStep?.error).toContain(`${sick.healthUrl} not healthy after`);
        expect(report?.timeline.find((s) => s.name === 'Verify the target is healthy')?.outcome).toBe('failed');
        expect(report?.incidentReport).toContain('| Verify the target is healthy: failed (');
        expect(report?.incidentReport).not.toContain('Verify the target is healthy: succeeded');
        expect(report?.incidentReport).toContain('- **Status:** Failed: the new target failed its health check');

        // Exactly as before, read back through the SDK.
        expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
      });
    } finally {
      await sick.close();
    }
  });

  it('a rejection changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const zone = await failoverZone(aws);
      const before = await zoneRecords(aws, zone.zoneId);
      const workflowId = uid('dns');
      const handle = await client.workflow.start('dnsFailover', {
        taskQueue,
        workflowId,
        args: [
          {
            hostedZone: zone.zoneName,
            record: { name: zone.recordName, type: 'A', setIdentifier: 'primary' },
            target: newTarget,
            verify: verify(),
            initiatedBy: 'alice',
            approval: { timeout: '1m' },
          } satisfies DnsFailoverInput,
        ],
      });
      await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      await handle.signal(rejectSignal, { by: 'bob', reason: 'primary is recovering' });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ApprovalRejected);
      expect(failure.message).toContain('rejected by bob: primary is recovering');
      expect(failure.message).toContain('Nothing was changed');
      expect(failure.report?.compensations).toEqual([]);
      expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
    });
  });

  it('no approval within the timeout changes nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const zone = await failoverZone(aws);
      const before = await zoneRecords(aws, zone.zoneId);
      const workflowId = uid('dns');
      await client.workflow.start('dnsFailover', {
        taskQueue,
        workflowId,
        args: [
          {
            hostedZone: zone.zoneName,
            record: { name: zone.recordName, type: 'A', setIdentifier: 'primary' },
            target: newTarget,
            verify: verify(),
            initiatedBy: 'alice',
            approval: { timeout: '2s' },
          } satisfies DnsFailoverInput,
        ],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ApprovalTimedOut);
      expect(failure.message).toContain('no approval within 2s');
      expect(failure.message).toContain('Nothing was changed');
      expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
    });
  });

  it('a failover pair without record.setIdentifier fails naming the set identifiers, changing nothing', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const zone = await failoverZone(aws);
      const before = await zoneRecords(aws, zone.zoneId);
      const workflowId = uid('dns');
      await client.workflow.start('dnsFailover', {
        taskQueue,
        workflowId,
        args: [
          {
            hostedZone: zone.zoneName,
            record: { name: zone.recordName, type: 'A' },
            target: newTarget,
            verify: verify(),
            initiatedBy: 'alice',
          } satisfies DnsFailoverInput,
        ],
      });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe(FailureType.ResourceNotFound);
      expect(failure.message).toContain('set identifiers: primary, secondary');
      expect(failure.message).toContain('record.setIdentifier');
      expect(failure.message).toContain('Nothing was changed');
      expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
    });
  });
});
