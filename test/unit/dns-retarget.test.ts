// Pure helpers behind dnsFailover and the ECS/Route 53 activities: how a record is retargeted, how record sets are
// compared, when an ECS service counts as stable, how task-definition references are read.
import { describe, expect, it } from 'vitest';
import { isStable, parseTaskDefinition, type ServiceState } from '../../activities/ecs';
import { recordSetsEqual, sameRecord } from '../../activities/route53';
import type { RecordSet } from '../../api/runbooks/dns-failover';
import { describeRecordTarget, retarget } from '../../workflows/lib/dns';

const primaryAlias: RecordSet = {
  Name: 'api.example.com.',
  Type: 'A',
  SetIdentifier: 'primary',
  Failover: 'PRIMARY',
  HealthCheckId: 'hc-1234',
  AliasTarget: {
    HostedZoneId: 'Z35SXDOTRQ7X7K',
    DNSName: 'primary-lb.us-east-1.elb.amazonaws.com.',
    EvaluateTargetHealth: true,
  },
};

const weightedValues: RecordSet = {
  Name: 'api.example.com.',
  Type: 'A',
  SetIdentifier: 'blue',
  Weight: 90,
  TTL: 300,
  ResourceRecords: [{ Value: '192.0.2.1' }, { Value: '192.0.2.2' }],
};

describe('retarget', () => {
  it('alias → values keeps the routing fields and sets TTL and values', () => {
    const out = retarget(primaryAlias, { values: ['203.0.113.7'], ttl: 30 });
    expect(out).toEqual({
      Name: 'api.example.com.',
      Type: 'A',
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      HealthCheckId: 'hc-1234',
      TTL: 30,
      ResourceRecords: [{ Value: '203.0.113.7' }],
    });
    expect(out).not.toHaveProperty('AliasTarget');
  });

  it('values → alias keeps the weight and set identifier and drops TTL and ResourceRecords', () => {
    const out = retarget(weightedValues, {
      alias: { dnsName: 'green-lb.elb.amazonaws.com', hostedZoneId: 'Z35SXDOTRQ7X7K', evaluateTargetHealth: false },
    });
    expect(out).toEqual({
      Name: 'api.example.com.',
      Type: 'A',
      SetIdentifier: 'blue',
      Weight: 90,
      AliasTarget: {
        DNSName: 'green-lb.elb.amazonaws.com',
        HostedZoneId: 'Z35SXDOTRQ7X7K',
        EvaluateTargetHealth: false,
      },
    });
    expect(out).not.toHaveProperty('TTL');
    expect(out).not.toHaveProperty('ResourceRecords');
  });

  it('values → values replaces every value and the TTL', () => {
    const out = retarget(weightedValues, { values: ['198.51.100.1', '198.51.100.2', '198.51.100.3'], ttl: 60 });
    expect(out.TTL).toBe(60);
    expect(out.ResourceRecords).toEqual([
      { Value: '198.51.100.1' },
      { Value: '198.51.100.2' },
      { Value: '198.51.100.3' },
    ]);
    expect(out.Weight).toBe(90);
  });

  it('does not change the record it was given', () => {
    const copy = structuredClone(primaryAlias);
    retarget(primaryAlias, { values: ['203.0.113.7'], ttl: 30 });
    expect(primaryAlias).toEqual(copy);
  });
});

describe('describeRecordTarget', () => {
  it('names an alias target in lower case without the trailing dot', () => {
    expect(
      describeRecordTarget({
        ...primaryAlias,
        AliasTarget: { HostedZoneId: 'Z1', DNSName: 'Primary-LB.Example.com.', EvaluateTargetHealth: true },
      }),
    ).toBe('alias primary-lb.example.com');
  });

  it('lists the values, or says it is empty', () => {
    expect(describeRecordTarget(weightedValues)).toBe('192.0.2.1, 192.0.2.2');
    expect(describeRecordTarget({ Name: 'a.example.com', Type: 'A' })).toBe('(empty)');
  });
});

describe('sameRecord', () => {
  it('matches name (case, trailing dot, octal escapes ignored), type and set identifier', () => {
    expect(sameRecord({ Name: 'API.example.com.', Type: 'A' }, { Name: 'api.example.com', Type: 'A' })).toBe(true);
    expect(sameRecord({ Name: '\\052.example.com.', Type: 'A' }, { Name: '*.example.com', Type: 'A' })).toBe(true);
    expect(sameRecord({ Name: 'api.example.com', Type: 'A' }, { Name: 'api.example.com', Type: 'AAAA' })).toBe(false);
    expect(sameRecord({ Name: 'api.example.com', Type: 'A' }, { Name: 'www.example.com', Type: 'A' })).toBe(false);
  });

  it('tells records of one set apart by set identifier; a missing identifier equals an empty one', () => {
    const a = { Name: 'api.example.com', Type: 'A', SetIdentifier: 'blue' };
    expect(sameRecord(a, { ...a, SetIdentifier: 'green' })).toBe(false);
    expect(sameRecord(a, { ...a })).toBe(true);
    expect(
      sameRecord({ Name: 'x.example.com', Type: 'A' }, { Name: 'x.example.com', Type: 'A', SetIdentifier: '' }),
    ).toBe(true);
    expect(
      sameRecord({ Name: 'x.example.com', Type: 'A' }, { Name: 'x.example.com', Type: 'A', SetIdentifier: 'p' }),
    ).toBe(false);
  });
});

describe('recordSetsEqual', () => {
  it('ignores the order of the fields, case and trailing dots in the name and alias DNS name', () => {
    // The alias target keeps the order AWS returns its fields in; only the record's own fields are reordered.
    const reordered: RecordSet = {
      AliasTarget: {
        HostedZoneId: 'Z35SXDOTRQ7X7K',
        DNSName: 'PRIMARY-LB.us-east-1.elb.amazonaws.com',
        EvaluateTargetHealth: true,
      },
      HealthCheckId: 'hc-1234',
      Failover: 'PRIMARY',
      SetIdentifier: 'primary',
      Type: 'A',
      Name: 'API.example.com',
    };
    expect(recordSetsEqual(primaryAlias, reordered)).toBe(true);
  });

  it('sees a different TTL, value, weight or alias zone', () => {
    expect(recordSetsEqual(weightedValues, { ...weightedValues, TTL: 60 })).toBe(false);
    expect(recordSetsEqual(weightedValues, { ...weightedValues, Weight: 10 })).toBe(false);
    expect(recordSetsEqual(weightedValues, { ...weightedValues, ResourceRecords: [{ Value: '192.0.2.1' }] })).toBe(
      false,
    );
    expect(
      recordSetsEqual(primaryAlias, {
        ...primaryAlias,
        AliasTarget: { ...primaryAlias.AliasTarget!, HostedZoneId: 'Z0000000000000' },
      }),
    ).toBe(false);
  });

  it('sees a field present on one side only', () => {
    const { HealthCheckId: _hc, ...withoutHealthCheck } = primaryAlias;
    expect(recordSetsEqual(primaryAlias, withoutHealthCheck)).toBe(false);
  });
});

const service = (overrides: Partial<ServiceState> = {}): ServiceState => ({
  serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/prod/api',
  serviceName: 'api',
  clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
  status: 'ACTIVE',
  desiredCount: 3,
  runningCount: 3,
  pendingCount: 0,
  taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/api:7',
  deployments: [
    {
      id: 'ecs-svc/1',
      status: 'PRIMARY',
      taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/api:7',
      desiredCount: 3,
      runningCount: 3,
    },
  ],
  ...overrides,
});

describe('isStable', () => {
  it('is stable with one deployment and running == desired', () => {
    expect(isStable(service())).toBe(true);
  });

  it('is not stable while tasks are missing, during a rollout, or when the service is not ACTIVE', () => {
    expect(isStable(service({ runningCount: 2 }))).toBe(false);
    const two = service().deployments;
    expect(isStable(service({ deployments: [...two, { ...two[0]!, id: 'ecs-svc/2', status: 'ACTIVE' }] }))).toBe(false);
    expect(isStable(service({ deployments: [] }))).toBe(false);
    expect(isStable(service({ status: 'DRAINING' }))).toBe(false);
  });

  it('also checks the expected desired count and task definition', () => {
    const s = service();
    expect(isStable(s, { desiredCount: 3, taskDefinition: s.taskDefinition })).toBe(true);
    expect(isStable(s, { desiredCount: 5 })).toBe(false);
    expect(isStable(s, { taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/api:6' })).toBe(false);
  });

  it('counts a service scaled to zero with zero running as stable', () => {
    expect(isStable(service({ desiredCount: 0, runningCount: 0 }), { desiredCount: 0 })).toBe(true);
  });
});

describe('parseTaskDefinition', () => {
  it('reads family:revision and task-definition ARNs', () => {
    expect(parseTaskDefinition('api:12')).toEqual({ family: 'api', revision: 12 });
    expect(parseTaskDefinition('arn:aws:ecs:eu-west-1:123456789012:task-definition/my-app_v2:3')).toEqual({
      family: 'my-app_v2',
      revision: 3,
    });
  });

  it('refuses a reference without a revision with a PreconditionFailed naming it', () => {
    for (const ref of ['api', 'api:latest', 'arn:aws:ecs:eu-west-1:123456789012:task-definition/api']) {
      let caught: unknown;
      try {
        parseTaskDefinition(ref);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Error);
      expect((caught as Error).name).toBe('PreconditionFailed');
      expect((caught as Error).message).toBe(`"${ref}" is not a task definition reference (family:revision)`);
    }
  });
});
