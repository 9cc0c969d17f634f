// DNS building blocks shared by dnsFailover and the regional failover runbooks: read and save the exact record sets
// of a name/type, work out the record as it must be after a switch, and describe targets for people.
import { normalizeDnsName, type DnsTarget, type RecordSet } from '../../api/runbooks/dns-failover';
import { fail } from './errors';
import { aws } from './proxies';

/** The record as it must be after the failover: same identity and routing, new target. */
export function retarget(current: RecordSet, target: DnsTarget): RecordSet {
  const { AliasTarget: _alias, ResourceRecords: _values, TTL: _ttl, ...routing } = current;
  if ('alias' in target) {
    return {
      ...routing,
      AliasTarget: {
        DNSName: target.alias.dnsName,
        HostedZoneId: target.alias.hostedZoneId,
        EvaluateTargetHealth: target.alias.evaluateTargetHealth,
      },
    };
  }
  return { ...routing, TTL: target.ttl, ResourceRecords: target.values.map((Value) => ({ Value })) };
}

export function describeRecordTarget(r: RecordSet): string {
  if (r.AliasTarget) return `alias ${normalizeDnsName(r.AliasTarget.DNSName)}`;
  return (r.ResourceRecords ?? []).map((v) => v.Value).join(', ') || '(empty)';
}

/** The record already points where the failover would point it (alias zone and target-health flag included). */
export function sameTarget(a: RecordSet, b: RecordSet): boolean {
  if (a.AliasTarget || b.AliasTarget) {
    return (
      !!a.AliasTarget &&
      !!b.AliasTarget &&
      normalizeDnsName(a.AliasTarget.DNSName) === normalizeDnsName(b.AliasTarget.DNSName) &&
      a.AliasTarget.HostedZoneId === b.AliasTarget.HostedZoneId &&
      a.AliasTarget.EvaluateTargetHealth === b.AliasTarget.EvaluateTargetHealth
    );
  }
  const values = (r: RecordSet) =>
    (r.ResourceRecords ?? [])
      .map((v) => v.Value)
      .sort()
      .join(',');
  return values(a) === values(b) && a.TTL === b.TTL;
}

export interface RecordRef {
  name: string;
  type: string;
  setIdentifier?: string | undefined;
}

/**
 * Resolve the zone and read every record set of the name/type (saved for an exact restore); pick the record to change
 * and work out how it must look pointing at `target`.
 */
export async function readRecord(hostedZone: string, record: RecordRef, target: DnsTarget) {
  const recordLabel = `${normalizeDnsName(record.name)} ${record.type}`;
  const zone = await aws.resolveHostedZone({ zone: hostedZone });
  const saved = await aws.listRecordSets({ hostedZoneId: zone.id, name: record.name, type: record.type });
  const wanted = record.setIdentifier;
  const current = saved.find((r) => (r.SetIdentifier ?? undefined) === wanted);
  if (!current) {
    const ids = saved.map((r) => r.SetIdentifier).filter(Boolean);
    throw fail(
      'ResourceNotFound',
      saved.length === 0
        ? `no ${recordLabel} record in hosted zone ${zone.name} (${zone.id})`
        : wanted
          ? `no ${recordLabel} record with set identifier "${wanted}" (found: ${ids.join(', ') || 'a simple record'})`
          : `${recordLabel} has routing policies (set identifiers: ${ids.join(', ')}); say which one to change with record.setIdentifier`,
    );
  }
  return { zone, saved, current, desired: retarget(current, target) };
}
