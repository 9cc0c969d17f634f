// Route 53 activities called directly (no worker) with real SDK clients against the emulator; every test builds its
// own uniquely named hosted zone and reads the zone back through the SDK.
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { createRoute53Activities } from '../../activities/route53';
import type { RecordSet } from '../../api/runbooks/dns-failover';
import { ensureHealthCheck } from '../../scripts/lib/fixtures';
import { makeZone, zoneRecords, type TestZone } from '../helpers/env/aws-fixtures';
import { uid } from '../helpers/temporal';
import { rejection } from '../helpers/assert';
import { inject } from 'vitest';
import { startAwsProxy, withChangePending } from '../helpers/proxies/aws-proxy';

let aws: ReturnType<typeof createAwsClients>;
let r53: ReturnType<typeof createRoute53Activities>;

beforeAll(() => {
  aws = createAwsClients();
  r53 = createRoute53Activities(aws);
});
afterAll(() => {
  aws.destroy();
});

const ALB_ZONE = 'Z35SXDOTRQ7X7K';

/**
 * A zone with a failover pair (aliases, the primary with a health check) and a weighted pair on other names, plus
 * neighbours that must never be mistaken for them: same name other type, a longer name, a sub-name.
 */
async function failoverZone(): Promise<TestZone & { healthCheckId: string }> {
  const healthCheckId = await ensureHealthCheck(aws, uid('hc'), 'primary.example.net');
  const zone = await makeZone(aws, (z): ResourceRecordSet[] => [
    {
      Name: `api.${z}`,
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      HealthCheckId: healthCheckId,
      AliasTarget: {
        HostedZoneId: ALB_ZONE,
        DNSName: 'primary-lb.us-east-1.elb.amazonaws.com',
        EvaluateTargetHealth: true,
      },
    },
    {
      Name: `api.${z}`,
      Type: 'A',
      SetIdentifier: 'secondary',
      Failover: 'SECONDARY',
      AliasTarget: {
        HostedZoneId: ALB_ZONE,
        DNSName: 'secondary-lb.us-west-2.elb.amazonaws.com',
        EvaluateTargetHealth: true,
      },
    },
    { Name: `api.${z}`, Type: 'AAAA', TTL: 60, ResourceRecords: [{ Value: '2001:db8::1' }] },
    { Name: `apiv2.${z}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.20' }] },
    { Name: `x.api.${z}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.30' }] },
    {
      Name: `www.${z}`,
      Type: 'A',
      SetIdentifier: 'blue',
      Weight: 90,
      TTL: 60,
      ResourceRecords: [{ Value: '192.0.2.1' }],
    },
    {
      Name: `www.${z}`,
      Type: 'A',
      SetIdentifier: 'green',
      Weight: 10,
      TTL: 60,
      ResourceRecords: [{ Value: '192.0.2.2' }, { Value: '192.0.2.3' }],
    },
  ]);
  return { ...zone, healthCheckId };
}

const strip = (name: string | undefined) => (name ?? '').replace(/\.$/, '');

describe('resolveHostedZone', () => {
  it('finds a zone by name (with or without the trailing dot) and by id', async () => {
    const zone = await makeZone(aws, () => []);
    const expected = { id: zone.zoneId, name: zone.zoneName, privateZone: false };

    expect(await r53.resolveHostedZone({ zone: zone.zoneName })).toEqual(expected);
    expect(await r53.resolveHostedZone({ zone: `${zone.zoneName}.` })).toEqual(expected);
    expect(await r53.resolveHostedZone({ zone: zone.zoneId })).toEqual(expected);
    expect(await r53.resolveHostedZone({ zone: `/hostedzone/${zone.zoneId}` })).toEqual(expected);
  });

  it('throws ResourceNotFound for an unknown name', async () => {
    const name = `${uid('nozone')}.example.test`;
    const err = await rejection(r53.resolveHostedZone({ zone: name }));
    expect(err.name).toBe('ResourceNotFound');
    expect(err.message).toBe(`no hosted zone named ${name}`);
  });

  it('throws ResourceNotFound for an unknown id', async () => {
    const err = await rejection(r53.resolveHostedZone({ zone: 'NOSUCHZONE0000000' }));
    expect(err.name).toBe('ResourceNotFound');
    expect(err.message).toBe('hosted zone NOSUCHZONE0000000 not found');
  });
});

describe('listRecordSets', () => {
  it('returns exactly the failover pair of one name and type, with alias targets and health check', async () => {
    const zone = await failoverZone();
    const sets = await r53.listRecordSets({ hostedZoneId: zone.zoneId, name: zone.recordName, type: 'A' });

    expect(sets).toHaveLength(2);
    const byId = Object.fromEntries(sets.map((s) => [s.SetIdentifier, s]));
    expect(byId.primary).toMatchObject({
      Type: 'A',
      Failover: 'PRIMARY',
      HealthCheckId: zone.healthCheckId,
      AliasTarget: { HostedZoneId: ALB_ZONE, EvaluateTargetHealth: true },
    });
    expect(strip(byId.primary?.AliasTarget?.DNSName)).toBe('primary-lb.us-east-1.elb.amazonaws.com');
    expect(byId.secondary).toMatchObject({ Failover: 'SECONDARY' });
    expect(strip(byId.secondary?.AliasTarget?.DNSName)).toBe('secondary-lb.us-west-2.elb.amazonaws.com');
    expect(sets.every((s) => strip(s.Name) === zone.recordName)).toBe(true);
  });

  it('returns both records of a weighted pair with their weights and values, and nothing of other names', async () => {
    const zone = await failoverZone();
    const sets = await r53.listRecordSets({ hostedZoneId: zone.zoneId, name: `www.${zone.zoneName}.`, type: 'A' });
    expect(
      sets
        .map((s) => ({ id: s.SetIdentifier, weight: s.Weight, values: s.ResourceRecords?.map((v) => v.Value) }))
        .sort((a, b) => String(a.id).localeCompare(String(b.id))),
    ).toEqual([
      { id: 'blue', weight: 90, values: ['192.0.2.1'] },
      { id: 'green', weight: 10, values: ['192.0.2.2', '192.0.2.3'] },
    ]);
  });

  it('returns the simple record of another type on its own, and nothing for a name that has no records', async () => {
    const zone = await failoverZone();
    const aaaa = await r53.listRecordSets({ hostedZoneId: zone.zoneId, name: zone.recordName, type: 'AAAA' });
    expect(aaaa.map((s) => s.ResourceRecords)).toEqual([[{ Value: '2001:db8::1' }]]);
    expect(
      await r53.listRecordSets({ hostedZoneId: zone.zoneId, name: `nothing.${zone.zoneName}`, type: 'A' }),
    ).toEqual([]);
  });
});

describe('changeRecordSets', () => {
  it('UPSERT twice leaves the same zone as UPSERT once, and the change is INSYNC', async () => {
    const zone = await failoverZone();
    const [primary] = (
      await r53.listRecordSets({ hostedZoneId: zone.zoneId, name: zone.recordName, type: 'A' })
    ).filter((s) => s.SetIdentifier === 'primary');
    const { AliasTarget: _alias, ...routing } = primary!;
    const desired: RecordSet = { ...routing, TTL: 30, ResourceRecords: [{ Value: '198.51.100.7' }] };

    const first = await r53.changeRecordSets({
      hostedZoneId: zone.zoneId,
      comment: 'test: point primary at 198.51.100.7',
      changes: [{ action: 'UPSERT', recordSet: desired }],
    });
    const afterFirst = await zoneRecords(aws, zone.zoneId);
    await r53.changeRecordSets({
      hostedZoneId: zone.zoneId,
      comment: 'test: the same again',
      changes: [{ action: 'UPSERT', recordSet: desired }],
    });
    const afterSecond = await zoneRecords(aws, zone.zoneId);

    expect(afterSecond).toEqual(afterFirst);
    const changed = afterFirst.filter((r) => strip(r.Name) === zone.recordName && r.Type === 'A');
    expect(changed).toHaveLength(2);
    const changedPrimary = changed.find((r) => r.SetIdentifier === 'primary');
    expect(changedPrimary).toMatchObject({
      Failover: 'PRIMARY',
      HealthCheckId: zone.healthCheckId,
      TTL: 30,
      ResourceRecords: [{ Value: '198.51.100.7' }],
    });
    expect(changedPrimary?.AliasTarget).toBeUndefined();

    expect(first.changeId).not.toBe('');
    expect(first.changeId).not.toContain('/change/');
    expect(await r53.waitForChangeInsync({ changeId: first.changeId, timeoutMs: 5_000 })).toMatchObject({
      status: 'INSYNC',
    });
  });
});

describe('restoreRecordSets', () => {
  it('puts the saved record sets back exactly, and a second restore changes nothing', async () => {
    const zone = await failoverZone();
    const before = await zoneRecords(aws, zone.zoneId);
    const saved = await r53.listRecordSets({ hostedZoneId: zone.zoneId, name: zone.recordName, type: 'A' });
    const primary = saved.find((s) => s.SetIdentifier === 'primary')!;
    const { AliasTarget: _alias, ...routing } = primary;

    await r53.changeRecordSets({
      hostedZoneId: zone.zoneId,
      comment: 'test: fail over',
      changes: [{ action: 'UPSERT', recordSet: { ...routing, TTL: 30, ResourceRecords: [{ Value: '198.51.100.7' }] } }],
    });
    expect(await zoneRecords(aws, zone.zoneId)).not.toEqual(before);

    const restore = { hostedZoneId: zone.zoneId, name: zone.recordName, type: 'A', saved, comment: 'test: restore' };
    const first = await r53.restoreRecordSets(restore);
    expect(first).toMatchObject({ upserted: 1, deleted: 0 });
    expect(first.changeId).toBeTruthy();
    expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);

    expect(await r53.restoreRecordSets(restore)).toEqual({ upserted: 0, deleted: 0 });
    expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
  });

  it('restores a weighted pair whose weights were both changed', async () => {
    const zone = await failoverZone();
    const before = await zoneRecords(aws, zone.zoneId);
    const name = `www.${zone.zoneName}`;
    const saved = await r53.listRecordSets({ hostedZoneId: zone.zoneId, name, type: 'A' });
    await r53.changeRecordSets({
      hostedZoneId: zone.zoneId,
      comment: 'test: shift traffic',
      changes: saved.map((s) => ({
        action: 'UPSERT' as const,
        recordSet: { ...s, Weight: s.Weight === 90 ? 0 : 100 },
      })),
    });

    expect(
      await r53.restoreRecordSets({ hostedZoneId: zone.zoneId, name, type: 'A', saved, comment: 'restore' }),
    ).toMatchObject({ upserted: 2, deleted: 0 });
    expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
  });

  it('deletes a record that did not exist when the records were saved', async () => {
    const zone = await failoverZone();
    const before = await zoneRecords(aws, zone.zoneId);
    const name = `new.${zone.zoneName}`;
    const saved = await r53.listRecordSets({ hostedZoneId: zone.zoneId, name, type: 'A' });
    expect(saved).toEqual([]);

    await r53.changeRecordSets({
      hostedZoneId: zone.zoneId,
      comment: 'test: create',
      changes: [
        { action: 'UPSERT', recordSet: { Name: name, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.99' }] } },
      ],
    });
    expect(await r53.listRecordSets({ hostedZoneId: zone.zoneId, name, type: 'A' })).toHaveLength(1);

    const restore = { hostedZoneId: zone.zoneId, name, type: 'A', saved, comment: 'test: restore' };
    expect(await r53.restoreRecordSets(restore)).toMatchObject({ upserted: 0, deleted: 1 });
    expect(await r53.listRecordSets({ hostedZoneId: zone.zoneId, name, type: 'A' })).toEqual([]);
    expect(await zoneRecords(aws, zone.zoneId)).toEqual(before);
    expect(await r53.restoreRecordSets(restore)).toEqual({ upserted: 0, deleted: 0 });
  });
});

describe('waitForChangeInsync', () => {
  it('a change Route 53 still shows PENDING at the timeout: ChangeStillPending naming the change and the wait', async () => {
    const zone = await makeZone(aws, (z) => [
      { Name: `api.${z}`, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] },
    ]);
    const { changeId } = await r53.changeRecordSets({
      hostedZoneId: zone.zoneId,
      comment: 'test',
      changes: [
        {
          action: 'UPSERT',
          recordSet: { Name: zone.recordName, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.2' }] },
        },
      ],
    });
    // The emulator's changes are INSYNC at once; AWS's take a while, sometimes long: its GetChange answers PENDING.
    let getChanges = 0;
    const proxy = await startAwsProxy(inject('awsEndpoint'), (call) => {
      if (call.method !== 'GET' || !call.path.endsWith(`/change/${changeId}`)) return undefined;
      getChanges++;
      return { rewrite: withChangePending };
    });
    const slow = createAwsClients({ endpoint: proxy.endpoint });
    try {
      const err = await rejection(createRoute53Activities(slow).waitForChangeInsync({ changeId, timeoutMs: 2_500 }));
      expect(err.name).toBe('ChangeStillPending');
      expect(err.message).toMatch(
        new RegExp(
          `^Route 53 change ${changeId} is still PENDING after [23]s: Route 53 accepted it but has not applied it`,
        ),
      );
      expect(err.message).toContain(`check the change with: aws route53 get-change --id ${changeId}`);
      expect(getChanges).toBeGreaterThanOrEqual(2);
      // Through the emulator itself, the same change is INSYNC.
      expect(await r53.waitForChangeInsync({ changeId, timeoutMs: 2_000 })).toMatchObject({ status: 'INSYNC' });
    } finally {
      slow.destroy();
      await proxy.close();
    }
  });
});
