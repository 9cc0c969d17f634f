// auroraFailover's pure decisions: which reader becomes the writer (tier, then lag, then name; the input's target and
// maxReplicaLag), which clusters are refused before anything is changed, and how the cluster and sessions read.
import { describe, expect, it } from 'vitest';
import {
  auroraFailoverInput,
  chooseTarget,
  clusterCautions,
  clusterRefusal,
  describeCluster,
  describeMember,
  describeSessions,
  formatLag,
  type AuroraClusterView,
  type AuroraMember,
} from '../../api/runbooks/aurora';
import { describeZodError } from '../../api/common';

const member = (id: string, o: Partial<AuroraMember> = {}): AuroraMember => ({
  id,
  writer: false,
  status: 'available',
  tier: 1,
  ...o,
});

const cluster = (members: AuroraMember[], o: Partial<AuroraClusterView> = {}): AuroraClusterView => ({
  id: 'db',
  region: 'us-east-1',
  status: 'available',
  engine: 'aurora-postgresql',
  writer: members.find((m) => m.writer)?.id,
  members,
  pendingModified: [],
  pendingMaintenance: [],
  ...o,
});

const chosen = (c: AuroraClusterView, o: Parameters<typeof chooseTarget>[1] = {}) => {
  const r = chooseTarget(c, o);
  if ('refusal' in r) throw new Error(r.refusal);
  return r;
};
const refusal = (c: AuroraClusterView, o: Parameters<typeof chooseTarget>[1] = {}) => {
  const r = chooseTarget(c, o);
  if (!('refusal' in r)) throw new Error(`expected a refusal, got ${r.member.id}`);
  return r.refusal;
};

const W = member('db-1', { writer: true, tier: 0, az: 'us-east-1a' });

describe('chooseTarget', () => {
  it('picks the lowest promotion tier first, even with more lag', () => {
    const c = cluster([W, member('db-2', { tier: 2, lagMs: 5 }), member('db-3', { tier: 1, lagMs: 80 })]);
    const r = chosen(c);
    expect(r.member.id).toBe('db-3');
    expect(r.why).toBe('the best available reader: promotion tier 1 (next: db-2, tier 2)');
  });

  it('within a tier, the lowest replica lag; unknown lag after any known one; then the name', () => {
    const c = cluster([
      W,
      member('db-4', { tier: 1 }),
      member('db-2', { tier: 1, lagMs: 40 }),
      member('db-3', { tier: 1, lagMs: 12 }),
    ]);
    const r = chosen(c);
    expect(r.member.id).toBe('db-3');
    expect(r.why).toBe(
      'the best available reader: promotion tier 1, lowest replica lag among tier 1 (12ms vs db-2 40ms)',
    );
    const tie = chosen(cluster([W, member('db-b', { lagMs: 10 }), member('db-a', { lagMs: 10 })]));
    expect(tie.member.id).toBe('db-a');
    expect(tie.why).toContain('same lag as db-b: first by name');
    expect(chosen(cluster([W, member('db-x'), member('db-y', { lagMs: 900 })])).member.id).toBe('db-y');
  });

  it('passes over readers that are not available or lag more than maxReplicaLag, and says so', () => {
    const c = cluster([
      W,
      member('db-2', { tier: 0, status: 'rebooting', lagMs: 1 }),
      member('db-3', { tier: 0, lagMs: 2_500 }),
      member('db-4', { tier: 3, lagMs: 300 }),
    ]);
    const r = chosen(c, { maxReplicaLag: '1s' });
    expect(r.member.id).toBe('db-4');
    expect(r.why).toContain('not eligible: db-2 (rebooting), db-3 (its replica lag 2.5s is above maxReplicaLag 1s)');
  });

  it('refuses when no reader qualifies, naming each and the field', () => {
    const c = cluster([W, member('db-2', { lagMs: 5_000 }), member('db-3', { status: 'modifying' })]);
    expect(refusal(c, { maxReplicaLag: '2s' })).toBe(
      'no reader of db can be promoted: db-2: its replica lag 5s is above maxReplicaLag 2s; db-3: modifying, not available ' +
        '(input.maxReplicaLag)',
    );
    // ReplicaLagRefused when lag kept an available reader out; a refusal for state alone is not about lag.
    expect(chooseTarget(c, { maxReplicaLag: '2s' })).toMatchObject({ lag: true });
    expect(chooseTarget(cluster([W, member('db-3', { status: 'modifying' })]), {})).toMatchObject({ lag: false });
    expect(chooseTarget(c, { targetReader: 'db-2', maxReplicaLag: '2s' })).toMatchObject({ lag: true });
    expect(chooseTarget(c, { targetReader: 'db-3' })).toMatchObject({ lag: false });
  });

  it("the input's targetReader: taken as named (case-insensitively), else refused with the field and why", () => {
    const c = cluster([
      W,
      member('db-2', { tier: 0, lagMs: 3 }),
      member('db-3', { tier: 5, lagMs: 900 }),
      member('db-4', { status: 'rebooting' }),
    ]);
    expect(chosen(c, { targetReader: 'DB-3' })).toEqual({
      member: c.members[2],
      why: 'named in the input (targetReader)',
    });
    expect(refusal(c, { targetReader: 'other' })).toBe(
      'input.targetReader: other is not a member of Aurora cluster db (its members: db-1, db-2, db-3, db-4)',
    );
    expect(refusal(c, { targetReader: 'db-1' })).toBe(
      'input.targetReader: db-1 is already the writer of db: name one of its readers',
    );
    expect(refusal(c, { targetReader: 'db-4' })).toBe(
      'input.targetReader: db-4 is rebooting, not available: AWS promotes only an available reader',
    );
    expect(refusal(c, { targetReader: 'db-3', maxReplicaLag: '500ms' })).toBe(
      'input.maxReplicaLag: db-3 refused: its replica lag 900ms is above maxReplicaLag 500ms',
    );
  });

  it('with maxReplicaLag, a reader without any lag datapoint is not taken (its lag cannot be shown)', () => {
    const c = cluster([W, member('db-2')]);
    expect(refusal(c, { targetReader: 'db-2', maxReplicaLag: '1s' })).toMatch(
      /^input\.maxReplicaLag: db-2 refused: no AuroraReplicaLag datapoint/,
    );
    expect(chosen(c).member.id).toBe('db-2'); // without a limit, unknown lag is no obstacle
  });
});

describe('clusterRefusal', () => {
  it('refuses a cluster that is not available, has no writer or no reader, or is not Aurora', () => {
    expect(clusterRefusal(cluster([W, member('db-2')]))).toBeUndefined();
    expect(clusterRefusal(cluster([W, member('db-2')], { status: 'failing-over' }))).toMatch(
      /^Aurora cluster db \(us-east-1\) is failing-over, not available: AWS fails over only an available cluster/,
    );
    expect(clusterRefusal(cluster([W]))).toMatch(
      /^Aurora cluster db \(us-east-1\) has no reader: its only instance is the writer db-1/,
    );
    expect(clusterRefusal(cluster([member('db-2')]))).toMatch(/shows no writer instance/);
    expect(clusterRefusal(cluster([W, member('db-2')], { engine: 'postgres' }))).toMatch(/runs postgres, not Aurora/);
  });
});

describe('words', () => {
  it('describes members, the cluster, lag and cautions', () => {
    const c = cluster([W, member('db-2', { az: 'us-east-1b', lagMs: 12 }), member('db-3', { tier: 2 })], {
      pendingModified: ['EngineVersion=16.4'],
      pendingMaintenance: [
        { resource: 'db-2', action: 'system-update', description: 'OS patch', forcedApplyDate: '2026-12-24T00:00:00Z' },
      ],
    });
    expect(describeMember(W)).toBe('db-1 (writer, tier 0, us-east-1a, available)');
    expect(describeMember(c.members[1]!)).toBe('db-2 (tier 1, us-east-1b, lag 12ms, available)');
    expect(describeCluster(c)).toBe(
      'db available, aurora-postgresql; writer db-1; readers db-2 (tier 1, us-east-1b, lag 12ms, available), ' +
        'db-3 (tier 2, lag unknown, available)',
    );
    expect(clusterCautions(c)).toEqual([
      'db has pending modifications (EngineVersion=16.4): they may apply during the failover',
      'pending maintenance on db-2: system-update (OS patch), forced after 2026-12-24T00:00:00Z',
    ]);
    expect([formatLag(12.4), formatLag(1_540), formatLag(125_000)]).toEqual(['12ms', '1.5s', '2m5s']);
  });

  it('lists sessions with pid, user, application and idle time, never more than the limit', () => {
    const s = (pid: number) => ({ pid, user: 'app', application: 'api', idleSeconds: 725, backendStart: 'x' });
    expect(describeSessions([])).toBe('none');
    expect(describeSessions([{ ...s(7), client: '10.0.0.5' }])).toBe('pid 7 app/api idle 12m5s (10.0.0.5)');
    expect(describeSessions([s(1), s(2), s(3)], 2)).toBe(
      'pid 1 app/api idle 12m5s, pid 2 app/api idle 12m5s, and 1 more',
    );
  });
});

describe('auroraFailoverInput', () => {
  const base = { region: 'us-east-1', cluster: 'demo-aurora', initiatedBy: 'alice' };
  it('requires approval by default and names a bad field', () => {
    const ok = auroraFailoverInput.parse(base);
    expect(ok.approval.required).toBe(true);
    expect(ok.failoverTimeout).toBe('15m');
    const bad = auroraFailoverInput.safeParse({ ...base, targetReader: '2nd', maxReplicaLag: 'soon' });
    expect(bad.success).toBe(false);
    expect(describeZodError(bad.error!)).toBe(
      'input.targetReader: expected an RDS DB instance identifier; input.maxReplicaLag: expected a duration such as ' +
        '"30s", "5m", "1h30m" or "2d"',
    );
    const idle = auroraFailoverInput.parse({ ...base, terminateIdleConnections: { secretId: 's' } });
    expect(idle.terminateIdleConnections).toMatchObject({ olderThan: '10m', max: 500 });
  });
});
