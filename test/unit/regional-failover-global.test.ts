// regionalFailover's Aurora Global Database path, the pure parts: the `database` input and its rules with the instance
// fields, the workflow ID, and the decisions on what the preflight and the wait read (refusals, primary health, when
// the move is over), and DescribeGlobalClusters read into the run's view.
import { describe, expect, it } from 'vitest';
import { describeZodError } from '../../api/common';
import { regionalFailoverInput, regionalFailoverWorkflowId } from '../../api/runbooks/regional-failover';
import {
  globalMoveState,
  globalRefusal,
  lagSeconds,
  parseClusterRef,
  primaryClusterHealth,
  sameCluster,
  type GlobalClusterView,
  type MemberClusterView,
} from '../../api/runbooks/regional-failover-global';
import { globalView } from '../../activities/aurora-global';

const EAST = 'arn:aws:rds:us-east-1:123456789012:cluster:app-east';
const WEST = 'arn:aws:rds:us-west-2:123456789012:cluster:app-west';

const view = (o: Partial<GlobalClusterView> = {}): GlobalClusterView => ({
  id: 'app-global',
  status: 'available',
  members: [
    { arn: EAST, id: 'app-east', region: 'us-east-1', isWriter: true },
    { arn: WEST, id: 'app-west', region: 'us-west-2', isWriter: false },
  ],
  ...o,
});
const cluster = (o: Partial<MemberClusterView> = {}): MemberClusterView => ({
  id: 'app-west',
  arn: WEST,
  region: 'us-west-2',
  status: 'available',
  endpoint: 'app-west.cluster-x.us-west-2.rds.amazonaws.com',
  instances: [{ id: 'app-west-1', status: 'available', writer: true }],
  ...o,
});

const base = {
  primary: { region: 'us-east-1', ecs: { cluster: 'east', service: 'api' } },
  secondary: { region: 'us-west-2', ecs: { cluster: 'west', service: 'api', desiredCount: 2 } },
  database: { kind: 'aurora-global', globalCluster: 'app-global', targetCluster: WEST, mode: 'switchover' },
  appConfig: { mode: 'task-definition-env', variable: 'DATABASE_HOST' },
  dns: {
    hostedZone: 'example.com',
    record: { name: 'api.example.com', type: 'A' },
    target: { values: ['192.0.2.1'], ttl: 60 },
  },
  health: { secondaryApp: { url: 'http://west/health' }, publicEndpoint: { url: 'http://api/health' } },
  approval: { required: false },
};
const errorOf = (input: unknown) => {
  const r = regionalFailoverInput.safeParse(input);
  return r.success ? undefined : describeZodError(r.error);
};

describe('the database input', () => {
  it('accepts a global database without instance ids, and derives one workflow ID per global database', () => {
    const p = regionalFailoverInput.parse(base);
    expect(p.database).toEqual(base.database);
    expect(regionalFailoverWorkflowId(p)).toBe('failover:global/app-global');
    expect(regionalFailoverWorkflowId({ ...p, database: { ...p.database!, globalCluster: 'App-Global' } })).toBe(
      'failover:global/app-global',
    );
  });

  it('keeps instance inputs as they were', () => {
    const instance = {
      ...base,
      database: undefined,
      primary: { ...base.primary, dbInstance: 'db' },
      secondary: { ...base.secondary, dbInstance: 'db-Replica' },
    };
    const p = regionalFailoverInput.parse(instance);
    expect(regionalFailoverWorkflowId(p)).toBe('failover:us-west-2/db-replica');
    expect(errorOf({ ...instance, primary: base.primary })).toBe(
      'input.primary.dbInstance: required (the primary DB instance), unless "database" names an Aurora global database',
    );
  });

  it('names the field of each mistake', () => {
    expect(errorOf({ ...base, database: { ...base.database, mode: 'sideways' } })).toContain('input.database.mode');
    expect(errorOf({ ...base, database: { ...base.database, kind: 'oracle-rac' } })).toContain('input.database');
    expect(
      errorOf({ ...base, database: { ...base.database, targetCluster: 'arn:aws:rds:eu-west-1:1:cluster:x' } }),
    ).toBe(
      'input.database.targetCluster: expected a DB cluster identifier or ARN (arn:aws:rds:<region>:<account>:cluster:<id>)',
    );
    expect(
      errorOf({
        ...base,
        database: { ...base.database, targetCluster: 'arn:aws:rds:eu-west-1:123456789012:cluster:x' },
      }),
    ).toBe(
      'input.database.targetCluster: is in eu-west-1, but secondary.region is us-west-2: the target cluster must be in the secondary region',
    );
    expect(errorOf({ ...base, secondary: { ...base.secondary, dbInstance: 'replica' } })).toBe(
      'input.secondary.dbInstance: not with "database": the Aurora global database names the clusters; remove dbInstance',
    );
  });
});

describe('cluster references', () => {
  it('reads ids and ARNs, compares case-insensitively', () => {
    expect(parseClusterRef(WEST)).toEqual({ region: 'us-west-2', id: 'app-west' });
    expect(parseClusterRef('App-West')).toEqual({ id: 'app-west' });
    expect(sameCluster('APP-WEST', WEST)).toBe(true);
    expect(sameCluster('arn:aws:rds:eu-west-1:123456789012:cluster:app-west', WEST)).toBe(false);
    expect(sameCluster('app-east', WEST)).toBe(false);
  });

  it('turns the lag into the run’s seconds', () => {
    expect(lagSeconds({ ms: 250, lookbackMinutes: 10 })).toBe(0.25);
    expect(lagSeconds({ ms: 3000.4, lookbackMinutes: 10 })).toBe(3);
    expect(lagSeconds({ lookbackMinutes: 10 })).toBeUndefined();
  });
});

describe('what the run decides', () => {
  it('refuses a move it cannot make, with the reason', () => {
    expect(globalRefusal(view(), WEST, cluster())).toBeUndefined();
    expect(globalRefusal(view(), 'app-west', cluster())).toBeUndefined();
    expect(globalRefusal(view(), EAST, cluster({ id: 'app-east', region: 'us-east-1' }))).toBe(
      'app-east is already the writer of the global database app-global; nothing to fail over to',
    );
    expect(globalRefusal(view(), 'other', cluster({ id: 'other' }))).toBe(
      'other (us-west-2) is not a member of the global database app-global (members: app-east in us-east-1, app-west in us-west-2)',
    );
    expect(globalRefusal(view({ failoverState: { status: 'failing-over', to: WEST } }), WEST, cluster())).toBe(
      'a failing-over of the global database app-global is already under way (to app-west); wait for it to finish',
    );
    expect(globalRefusal(view({ status: 'modifying' }), WEST, cluster())).toBe(
      'the global database app-global is modifying, not available',
    );
    expect(globalRefusal(view(), WEST, cluster({ status: 'backing-up' }))).toBe(
      'the target cluster app-west is backing-up, not available',
    );
  });

  it('judges the primary cluster’s health', () => {
    expect(primaryClusterHealth(cluster()).healthy).toBe(true);
    expect(primaryClusterHealth(cluster({ status: 'stopped' }))).toEqual({
      healthy: false,
      status: 'stopped',
      why: 'the cluster is stopped',
    });
    expect(primaryClusterHealth(cluster({ instances: [{ id: 'w', status: 'failed', writer: true }] })).why).toBe(
      'its writer instance w is failed',
    );
    expect(primaryClusterHealth(cluster({ instances: [] })).why).toBe('the cluster has no writer instance');
    expect(primaryClusterHealth({ status: 'unreachable', error: '503' })).toEqual({
      healthy: false,
      status: 'unreachable',
      why: 'its region does not answer (503)',
    });
    expect(primaryClusterHealth({ status: 'not-found' }).why).toBe('not found in its region');
  });

  it('waits until the target is the writer, no FailoverState is under way and the target is available', () => {
    const moved = view({
      members: [
        { arn: EAST, id: 'app-east', region: 'us-east-1', isWriter: false },
        { arn: WEST, id: 'app-west', region: 'us-west-2', isWriter: true },
      ],
    });
    expect(globalMoveState(view({ failoverState: { status: 'pending' } }), WEST, cluster())).toEqual({
      done: false,
      phase: 'pending (global available)',
    });
    expect(globalMoveState(view(), WEST, cluster()).done).toBe(false);
    expect(globalMoveState({ ...moved, failoverState: { status: 'failing-over' } }, WEST, cluster()).done).toBe(false);
    expect(globalMoveState(moved, WEST, cluster({ status: 'failing-over' }))).toEqual({
      done: false,
      phase: 'writer app-west, cluster failing-over',
    });
    expect(globalMoveState(moved, WEST, cluster())).toEqual({
      done: true,
      phase: 'writer app-west, cluster available',
    });
  });
});

describe('DescribeGlobalClusters, read', () => {
  it('members with their regions, the writer, FailoverState', () => {
    expect(
      globalView(
        {
          GlobalClusterIdentifier: 'app-global',
          Status: 'failing-over',
          GlobalClusterMembers: [
            { DBClusterArn: EAST, IsWriter: true },
            { DBClusterArn: WEST, IsWriter: false },
          ],
          FailoverState: {
            Status: 'failing-over',
            FromDbClusterArn: EAST,
            ToDbClusterArn: WEST,
            IsDataLossAllowed: true,
          },
        },
        'x',
      ),
    ).toEqual(
      view({
        status: 'failing-over',
        failoverState: { status: 'failing-over', from: EAST, to: WEST, dataLossAllowed: true },
      }),
    );
  });
});
