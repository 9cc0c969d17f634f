// rdsRebootFailover's pure rules (which instances it refuses and why, the move in words, when the failover is over,
// the pending changes in words), the mapping of AWS's DescribeDBInstances answer, the input's refusals, and the
// realistic layer's model of the zones during a forced-failover reboot.
import { describe, expect, it } from 'vitest';
import { toMultiAzView } from '../../activities/rds-reboot';
import { describeZodError } from '../../api/common';
import {
  describeAzMove,
  failoverVerdict,
  rdsRebootFailoverInput,
  rdsRebootFailoverWorkflowId,
  rebootFailoverRefusal,
  type MultiAzView,
} from '../../api/runbooks/rds-reboot';
import { createRdsRebootModel } from '../../scripts/realistic/rds-reboot';
import { describePending } from '../../workflows/rdsRebootFailover';

const multiAz = (over: Partial<MultiAzView> = {}): MultiAzView => ({
  id: 'db1',
  region: 'us-east-1',
  status: 'available',
  engine: 'postgres',
  multiAz: true,
  availabilityZone: 'us-east-1a',
  secondaryAvailabilityZone: 'us-east-1b',
  pendingModified: [],
  parameterGroupsPendingReboot: [],
  ...over,
});

describe('rebootFailoverRefusal', () => {
  it('accepts an available Multi-AZ primary', () => {
    expect(rebootFailoverRefusal(multiAz())).toBeUndefined();
  });

  it('refuses a Single-AZ instance: the input names the wrong instance; says why and what to do instead', () => {
    const r = rebootFailoverRefusal(multiAz({ multiAz: false, secondaryAvailabilityZone: undefined }));
    expect(r?.field).toBe('dbInstance');
    expect(r?.message).toBe(
      'db1 (us-east-1) is Single-AZ (MultiAZ false): a reboot with failover needs a standby; use a plain reboot ' +
        '(aws rds reboot-db-instance --region us-east-1 --db-instance-identifier db1), or make it Multi-AZ first ' +
        '(aws rds modify-db-instance --region us-east-1 --db-instance-identifier db1 --multi-az --apply-immediately) ' +
        'and run this again once it is available',
    );
  });

  it('refuses a read replica (even a Multi-AZ one) and an Aurora member before looking at Multi-AZ', () => {
    const replica = rebootFailoverRefusal(
      multiAz({ replicaSource: 'arn:aws:rds:us-east-1:123456789012:db:main', multiAz: false }),
    );
    expect(replica?.field).toBe('dbInstance');
    expect(replica?.message).toMatch(/^db1 \(us-east-1\) is a read replica of arn:.*:db:main: .*primary \(main\)/);
    expect(rebootFailoverRefusal(multiAz({ replicaSource: 'main' }))?.field).toBe('dbInstance');
    const aurora = rebootFailoverRefusal(multiAz({ cluster: 'orders' }));
    expect(aurora?.message).toContain('is an instance of the Aurora cluster orders');
    expect(aurora?.message).toContain('auroraFailover');
  });

  it('refuses an instance that is not available now as a state, not an input mistake', () => {
    const r = rebootFailoverRefusal(multiAz({ status: 'modifying' }));
    expect(r?.field).toBe('state');
    expect(r?.message).toContain('db1 (us-east-1) is modifying, not available');
    expect(r?.message).toContain('aws rds wait db-instance-available --region us-east-1 --db-instance-identifier db1');
  });
});

describe('describeAzMove / failoverVerdict / describePending', () => {
  it('names the zone now and the standby’s', () => {
    expect(describeAzMove(multiAz())).toBe("us-east-1a → us-east-1b (the standby's zone)");
    expect(describeAzMove({ availabilityZone: 'us-east-1a' })).toBe(
      "us-east-1a → the standby's zone (RDS does not report it)",
    );
  });

  it('is done only when available again in another zone', () => {
    const before = { availabilityZone: 'us-east-1a' };
    expect(failoverVerdict({ status: 'available', availabilityZone: 'us-east-1a' }, before)).toBe('waiting');
    expect(failoverVerdict({ status: 'rebooting', availabilityZone: 'us-east-1b' }, before)).toBe('waiting');
    expect(failoverVerdict({ status: 'available', availabilityZone: undefined }, before)).toBe('waiting');
    expect(failoverVerdict({ status: 'available', availabilityZone: 'us-east-1b' }, before)).toBe('done');
  });

  it('says what the reboot applies and what it does not', () => {
    expect(describePending(multiAz())).toEqual([]);
    expect(
      describePending(
        multiAz({ parameterGroupsPendingReboot: ['pg16-tuned'], pendingModified: ['DBInstanceClass: db.r6g.large'] }),
      ),
    ).toEqual([
      'the reboot also applies the pending changes of parameter group pg16-tuned',
      'pending modifications (not applied by a reboot): DBInstanceClass: db.r6g.large',
    ]);
  });
});

describe('toMultiAzView', () => {
  it('reads zones, standby, replica source, cluster, pending values and parameter groups waiting for a reboot', () => {
    const v = toMultiAzView('us-east-1', {
      DBInstanceIdentifier: 'db1',
      DBInstanceStatus: 'available',
      Engine: 'postgres',
      MultiAZ: true,
      AvailabilityZone: 'us-east-1a',
      SecondaryAvailabilityZone: 'us-east-1c',
      Endpoint: { Address: 'db1.x.us-east-1.rds.amazonaws.com', Port: 5432 },
      PendingModifiedValues: { DBInstanceClass: 'db.r6g.large', AllocatedStorage: 100 },
      DBParameterGroups: [
        { DBParameterGroupName: 'a', ParameterApplyStatus: 'in-sync' },
        { DBParameterGroupName: 'b', ParameterApplyStatus: 'pending-reboot' },
      ],
    });
    expect(v).toEqual({
      id: 'db1',
      region: 'us-east-1',
      status: 'available',
      engine: 'postgres',
      multiAz: true,
      availabilityZone: 'us-east-1a',
      secondaryAvailabilityZone: 'us-east-1c',
      endpoint: 'db1.x.us-east-1.rds.amazonaws.com',
      port: 5432,
      pendingModified: ['AllocatedStorage: 100', 'DBInstanceClass: db.r6g.large'],
      parameterGroupsPendingReboot: ['b'],
    });
    expect(toMultiAzView('eu-west-1', { DBInstanceIdentifier: 'x' })).toMatchObject({
      multiAz: false,
      status: 'unknown',
    });
  });
});

describe('rdsRebootFailoverInput', () => {
  const ok = { region: 'us-east-1', dbInstance: 'db1', initiatedBy: 'alice' };
  it('defaults: approval required, a 30m failover timeout; the workflow ID is the instance', () => {
    const p = rdsRebootFailoverInput.parse(ok);
    expect(p.approval.required).toBe(true);
    expect(p.failoverTimeout).toBe('30m');
    expect(rdsRebootFailoverWorkflowId(p)).toBe('rds-reboot-failover:us-east-1/db1');
  });

  it('names the field of a bad value', () => {
    const bad = rdsRebootFailoverInput.safeParse({ ...ok, dbInstance: '1-bad', rtoTarget: '500ms', extra: 1 });
    expect(bad.success).toBe(false);
    const text = describeZodError(bad.error!);
    expect(text).toContain('input.dbInstance: expected an RDS DB instance identifier');
    expect(text).toContain('input.rtoTarget: expected at least 1s');
    expect(text).toContain('extra');
  });
});

describe('the realistic layer’s forced-failover reboot', () => {
  const answer = (az: string, standby?: string) =>
    `<DBInstance><DBInstanceIdentifier>db1</DBInstanceIdentifier><AvailabilityZone>${az}</AvailabilityZone>` +
    (standby ? `<SecondaryAvailabilityZone>${standby}</SecondaryAvailabilityZone>` : '') +
    `</DBInstance>`;

  it('shows the zones from before the call until the reboot ends, then moto’s swapped ones', () => {
    const m = createRdsRebootModel();
    // moto answers the reboot with the zones already swapped.
    m.started('us-east-1/db1', { ForceFailover: 'true' }, answer('us-east-1b', 'us-east-1a'), 1_000);
    expect(m.rewrite('us-east-1/db1', answer('us-east-1b', 'us-east-1a'), 500)).toBe(
      answer('us-east-1a', 'us-east-1b'),
    );
    expect(m.rewrite('us-east-1/db1', answer('us-east-1b', 'us-east-1a'), 1_000)).toBe(
      answer('us-east-1b', 'us-east-1a'),
    );
    expect(m.rewrite('us-east-1/other', answer('us-east-1b', 'us-east-1a'), 500)).toBe(
      answer('us-east-1b', 'us-east-1a'),
    );
  });

  it('leaves a plain reboot, and a Single-AZ instance, as they are', () => {
    const m = createRdsRebootModel();
    m.started('us-east-1/db1', {}, answer('us-east-1b', 'us-east-1a'), 1_000);
    m.started('us-east-1/db2', { ForceFailover: 'true' }, answer('us-east-1a'), 1_000);
    expect(m.rewrite('us-east-1/db1', answer('us-east-1b', 'us-east-1a'), 500)).toBe(
      answer('us-east-1b', 'us-east-1a'),
    );
    expect(m.rewrite('us-east-1/db2', answer('us-east-1a'), 500)).toBe(answer('us-east-1a'));
  });
});
