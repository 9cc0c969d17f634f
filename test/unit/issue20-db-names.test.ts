// Names the database runbooks give the instances they create: valid RDS identifiers (at most 63 characters, no
// trailing or doubled hyphen) that two databases or two runs never share.
import { describe, expect, it } from 'vitest';
import { tempInstanceName } from '../../workflows/backupVerification';
import { failbackReplicaId } from '../../workflows/regionalFailback';

const RDS_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/i;
const at = new Date('2026-11-25T17:20:05.123Z');

describe('backupVerification temporary instances', () => {
  const a = 'orders-analytics-reporting-primary-postgres-eu-cluster-01';
  const b = 'orders-analytics-reporting-primary-postgres-eu-cluster-02';

  it('differ for ids that share everything but their end, and for two runs of one database', () => {
    expect(a.slice(0, 43)).toBe(b.slice(0, 43));
    expect(tempInstanceName(a, 'bv/run-1', at)).not.toBe(tempInstanceName(b, 'bv/run-1', at));
    expect(tempInstanceName(a, 'bv/run-1', at)).not.toBe(tempInstanceName(a, 'bv/run-2', at));
    // …and stay the same for one run (a retry after a crash must find its own instance).
    expect(tempInstanceName(a, 'bv/run-1', at)).toBe(tempInstanceName(a, 'bv/run-1', at));
  });

  it('are valid RDS ids of at most 63 characters, however long the database id', () => {
    for (const id of [a, 'demo-db', 'x'.repeat(63), `${'a'.repeat(33)}-${'b'.repeat(29)}`]) {
      const name = tempInstanceName(id, 'bv/run-1', at);
      expect(name.length, name).toBeLessThanOrEqual(63);
      expect(name, name).toMatch(RDS_ID);
      expect(name).toMatch(/^verify-.*-202611251720-[0-9a-f]{8}$/);
    }
    expect(tempInstanceName('demo-db', 'bv/run-1', at)).toMatch(/^verify-demo-db-202611251720-[0-9a-f]{8}$/);
  });
});

describe('regionalFailback replica ids', () => {
  it('carry the second, so a failback started again within the minute gets another name', () => {
    expect(failbackReplicaId('demo-db', at)).toBe('demo-db-fb-20261125172005');
    expect(failbackReplicaId('demo-db', new Date('2026-11-25T17:20:41Z'))).toBe('demo-db-fb-20261125172041');
  });

  it('are valid RDS ids of at most 63 characters', () => {
    for (const id of ['x'.repeat(63), `${'a'.repeat(44)}-${'b'.repeat(18)}`]) {
      const name = failbackReplicaId(id, at);
      expect(name.length, name).toBeLessThanOrEqual(63);
      expect(name, name).toMatch(RDS_ID);
    }
  });
});
