// Resource locks (workflows/lib/lock.ts): one lock ID per AWS resource however the input names it, and one order in
// which every run takes its locks.
import { describe, expect, it } from 'vitest';
import { describeResource, lockable, lockIdOf, lockPollMs, lockTargets } from '../../workflows/lib/lock';

describe('lock IDs', () => {
  it('name an ECS service by region, cluster and service, ARNs cut to their names (ECS names keep their case)', () => {
    const id = 'lock:ecs-service:us-east-1/demo-east/demo-api';
    expect(lockIdOf(lockable.ecsService({ region: 'us-east-1', cluster: 'demo-east', service: 'demo-api' }))).toBe(id);
    expect(
      lockIdOf(
        lockable.ecsService({
          region: 'us-east-1',
          cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/demo-east',
          service: 'arn:aws:ecs:us-east-1:123456789012:service/demo-east/demo-api',
        }),
      ),
    ).toBe(id);
    expect(lockIdOf(lockable.ecsService({ region: 'us-east-1', cluster: 'demo-east', service: 'Demo-API' }))).toBe(
      'lock:ecs-service:us-east-1/demo-east/Demo-API',
    );
  });

  it('name an RDS instance or cluster case-insensitively, also when given as an ARN', () => {
    const id = 'lock:rds-instance:us-west-2/demo-db-replica';
    expect(lockIdOf(lockable.dbInstance({ region: 'us-west-2', dbInstance: 'demo-db-replica' }))).toBe(id);
    expect(lockIdOf(lockable.dbInstance({ region: 'us-west-2', dbInstance: 'Demo-DB-Replica' }))).toBe(id);
    expect(
      lockIdOf(
        lockable.dbInstance({
          region: 'us-west-2',
          dbInstance: 'arn:aws:rds:us-west-2:123456789012:db:demo-db-replica',
        }),
      ),
    ).toBe(id);
    expect(lockIdOf(lockable.dbCluster({ region: 'us-east-1', dbCluster: 'Orders' }))).toBe(
      'lock:rds-cluster:us-east-1/orders',
    );
    // An instance and a cluster of one name are two resources.
    expect(lockIdOf(lockable.dbCluster({ region: 'us-east-1', dbCluster: 'orders' }))).not.toBe(
      lockIdOf(lockable.dbInstance({ region: 'us-east-1', dbInstance: 'orders' })),
    );
  });

  it('name a Route 53 record by zone id, name (as normalizeDnsName) and type: every set identifier of it at once', () => {
    const id = 'lock:route53-record:Z0123456789ABC/api.example.com/A';
    for (const r of [
      { hostedZoneId: 'Z0123456789ABC', name: 'api.example.com', type: 'A' },
      { hostedZoneId: '/hostedzone/Z0123456789ABC', name: 'API.Example.com.', type: 'a' },
      { hostedZoneId: 'z0123456789abc', name: 'api.example.com.', type: 'A' },
    ]) {
      expect(lockIdOf(lockable.record(r)), JSON.stringify(r)).toBe(id);
    }
    expect(
      lockIdOf(lockable.record({ hostedZoneId: 'Z0123456789ABC', name: 'api.example.com', type: 'AAAA' })),
    ).not.toBe(id);
    expect(describeResource(lockable.record({ hostedZoneId: 'Z1', name: 'API.example.com.', type: 'A' }))).toBe(
      'Route 53 record api.example.com A (zone Z1)',
    );
  });

  it('name a secret by region and name, an ARN by the name in it', () => {
    expect(lockIdOf(lockable.secret({ region: 'us-east-1', secretId: 'prod/db' }))).toBe(
      'lock:secret:us-east-1/prod/db',
    );
    expect(
      lockIdOf(
        lockable.secret({
          region: 'us-east-1',
          secretId: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbC123',
        }),
      ),
    ).toBe('lock:secret:us-east-1/prod/db');
  });

  it('name an ALB router by its listener or rule ARN', () => {
    const arn =
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2';
    expect(lockIdOf(lockable.router({ arn }))).toBe(`lock:router:${arn}`);
  });
});

describe('the locks a run takes', () => {
  it('are each resource once (however written), in one order whatever order the runbook lists them', () => {
    const service = lockable.ecsService({ region: 'us-east-1', cluster: 'c', service: 's' });
    const db = lockable.dbInstance({ region: 'us-east-1', dbInstance: 'Demo-DB' });
    const record = lockable.record({ hostedZoneId: 'Z1', name: 'api.example.com', type: 'A' });
    const a = lockTargets([record, service, db, lockable.dbInstance({ region: 'us-east-1', dbInstance: 'demo-db' })]);
    const b = lockTargets([db, record, service]);
    expect(a.map((t) => t.lockId)).toEqual([
      'lock:ecs-service:us-east-1/c/s',
      'lock:rds-instance:us-east-1/demo-db',
      'lock:route53-record:Z1/api.example.com/A',
    ]);
    expect(b.map((t) => t.lockId)).toEqual(a.map((t) => t.lockId));
    expect(a.map((t) => t.label)).toEqual([
      'ECS service us-east-1/c/s',
      'DB instance us-east-1/demo-db',
      'Route 53 record api.example.com A (zone Z1)',
    ]);
  });

  it('are sorted by plain code units, not by locale (an upper-case ECS name sorts before a lower-case one)', () => {
    const ids = lockTargets([
      lockable.ecsService({ region: 'us-east-1', cluster: 'c', service: 'b' }),
      lockable.ecsService({ region: 'us-east-1', cluster: 'c', service: 'B' }),
      lockable.ecsService({ region: 'us-east-1', cluster: 'c', service: 'a' }),
    ]).map((t) => t.lockId);
    expect(ids).toEqual([
      'lock:ecs-service:us-east-1/c/B',
      'lock:ecs-service:us-east-1/c/a',
      'lock:ecs-service:us-east-1/c/b',
    ]);
  });

  it('when busy and waiting, are polled every 5 s for a minute, then every 10 s, after 10 minutes every 30 s', () => {
    expect([0, 59_999, 60_000, 599_999, 600_000, 3_600_000].map(lockPollMs)).toEqual([
      5_000, 5_000, 10_000, 10_000, 30_000, 30_000,
    ]);
  });
});
