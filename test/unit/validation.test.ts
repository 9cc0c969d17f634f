// Runbook input schemas: every refusal names the field (through describeZodError) and defaults are filled in.
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { approvePayload, describeZodError, rejectPayload } from '../../api/common';
import { dnsFailoverInput } from '../../api/runbooks/dns-failover';
import { ecsRollbackInput } from '../../api/runbooks/ecs-rollback';
import { emergencyScaleInput } from '../../api/runbooks/emergency-scale';
import { backupVerificationInput, snapshotRestoreInput } from '../../api/runbooks/restore';

/** The message a user reads for an input that must be refused. */
function refusal(schema: z.ZodType, input: unknown): string {
  const parsed = schema.safeParse(input);
  if (parsed.success) throw new Error(`expected the input to be refused, got ${JSON.stringify(parsed.data)}`);
  return describeZodError(parsed.error);
}

function accepted<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new Error(`expected the input to be accepted: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

const ecsRef = { region: 'us-east-1', cluster: 'prod', service: 'api' };
const scale = { ...ecsRef, desiredCount: 6, reason: 'traffic spike' };
const dns = {
  hostedZone: 'example.com',
  record: { name: 'api.example.com', type: 'A' },
  target: { values: ['203.0.113.10'] },
  verify: { url: 'https://api.example.com/health' },
  initiatedBy: 'alice',
};

describe('describeZodError', () => {
  it('joins one line per problem, each prefixed with the field path under the root', () => {
    const message = refusal(emergencyScaleInput, { ...scale, region: 'useast1', desiredCount: -1 });
    expect(message.split('; ')).toHaveLength(2);
    expect(message).toMatch(/^input\.region: expected an AWS region such as "us-east-1"; input\.desiredCount: /);
  });

  it('uses the root it is given', () => {
    const parsed = approvePayload.safeParse({ by: 'bob', comment: 42 });
    expect(parsed.success).toBe(false);
    expect(describeZodError(parsed.error!, 'payload')).toBe(
      'payload.comment: Invalid input: expected string, received number',
    );
  });
});

describe('emergencyScale input', () => {
  it('requires a reason', () => {
    const { reason: _reason, ...noReason } = scale;
    expect(refusal(emergencyScaleInput, noReason)).toMatch(/^input\.reason: /);
    expect(refusal(emergencyScaleInput, { ...scale, reason: '   ' })).toBe('input.reason: expected a reason');
  });

  it('refuses a desiredCount above maxCount, naming both', () => {
    expect(refusal(emergencyScaleInput, { ...scale, desiredCount: 50 })).toBe(
      'input.desiredCount: 50 is above maxCount (20); raise maxCount if you mean it',
    );
    expect(refusal(emergencyScaleInput, { ...scale, desiredCount: 50, maxCount: 40 })).toContain('maxCount (40)');
    expect(accepted(emergencyScaleInput, { ...scale, desiredCount: 50, maxCount: 50 }).desiredCount).toBe(50);
  });

  it('refuses approval.quorum 0', () => {
    expect(refusal(emergencyScaleInput, { ...scale, approval: { quorum: 0 } })).toMatch(/^input\.approval\.quorum: /);
  });

  it('refuses unknown keys, naming them, at the top level and inside nested objects', () => {
    expect(refusal(emergencyScaleInput, { ...scale, desiredCnt: 3 })).toContain('"desiredCnt"');
    expect(refusal(emergencyScaleInput, { ...scale, approval: { approver: ['bob'] } })).toBe(
      'input.approval: Unrecognized key: "approver"',
    );
  });

  it('refuses a scaleBackAfter outside its bounds', () => {
    expect(refusal(emergencyScaleInput, { ...scale, scaleBackAfter: '0s' })).toBe(
      'input.scaleBackAfter: expected at least 1s',
    );
    expect(refusal(emergencyScaleInput, { ...scale, scaleBackAfter: '31d' })).toBe(
      'input.scaleBackAfter: expected at most 30d',
    );
  });

  it('refuses a malformed scaleBackAfter with a message naming the field', () => {
    expect(refusal(emergencyScaleInput, { ...scale, scaleBackAfter: 'soon' })).toBe(
      'input.scaleBackAfter: expected a duration such as "30s", "5m", "1h30m" or "2d"',
    );
  });

  it('needs initiatedBy when approval is required from a second person', () => {
    expect(refusal(emergencyScaleInput, { ...scale, approval: { required: true } })).toMatch(
      /^input\.initiatedBy: required when approval\.required and approval\.requireSecondPerson are true/,
    );
    const noSecond = accepted(emergencyScaleInput, {
      ...scale,
      approval: { required: true, requireSecondPerson: false },
    });
    expect(noSecond.approval.required).toBe(true);
  });

  it('refuses a quorum larger than the list of approvers', () => {
    expect(
      refusal(emergencyScaleInput, {
        ...scale,
        initiatedBy: 'alice',
        approval: { required: true, approvers: ['bob'], quorum: 2 },
      }),
    ).toBe(
      'input.approval.quorum: 2 approvals needed but only 1 distinct approver(s) listed: the run could never be approved',
    );
    expect(
      accepted(emergencyScaleInput, {
        ...scale,
        initiatedBy: 'alice',
        approval: { required: true, approvers: ['bob', 'carol'], quorum: 2 },
      }).approval.quorum,
    ).toBe(2);
  });

  it('refuses a malformed region', () => {
    expect(refusal(emergencyScaleInput, { ...scale, region: 'useast1' })).toBe(
      'input.region: expected an AWS region such as "us-east-1"',
    );
    expect(accepted(emergencyScaleInput, { ...scale, region: 'us-gov-west-1' }).region).toBe('us-gov-west-1');
  });

  it('fills in defaults: approval not required, 1h timeout, quorum 1, maxCount 20, 15m stable timeout, hold auto scaling', () => {
    const params = accepted(emergencyScaleInput, scale);
    expect(params).toEqual({
      ...scale,
      maxCount: 20,
      autoScaling: 'hold',
      stableTimeout: '15m',
      dryRun: false,
      approval: { required: false, approvers: [], quorum: 1, requireSecondPerson: true, timeout: '1h' },
    });
  });

  it('autoScaling is "hold" or "leave"; anything else is refused naming the field', () => {
    expect(accepted(emergencyScaleInput, { ...scale, autoScaling: 'leave' }).autoScaling).toBe('leave');
    expect(refusal(emergencyScaleInput, { ...scale, autoScaling: 'off' })).toMatch(
      /^input\.autoScaling: .*"hold".*"leave"/,
    );
  });

  it('fills in health check defaults', () => {
    const params = accepted(emergencyScaleInput, { ...scale, health: { url: 'http://app.internal/health' } });
    expect(params.health).toEqual({
      url: 'http://app.internal/health',
      expectStatus: 200,
      consecutive: 3,
      interval: '5s',
      timeout: '2m',
    });
  });

  it('fills in approval defaults around the fields given', () => {
    const params = accepted(emergencyScaleInput, { ...scale, initiatedBy: 'alice', approval: { required: true } });
    expect(params.approval).toEqual({
      required: true,
      approvers: [],
      quorum: 1,
      requireSecondPerson: true,
      timeout: '1h',
    });
  });
});

describe('dnsFailover input', () => {
  it('requires approval by default, so initiatedBy is needed', () => {
    const { initiatedBy: _who, ...anonymous } = dns;
    expect(refusal(dnsFailoverInput, anonymous)).toMatch(/^input\.initiatedBy: /);
    const params = accepted(dnsFailoverInput, dns);
    expect(params.approval).toEqual({
      required: true,
      approvers: [],
      quorum: 1,
      requireSecondPerson: true,
      timeout: '1h',
    });
  });

  it('fills in the defaults of the target, the health check and the INSYNC wait', () => {
    const params = accepted(dnsFailoverInput, dns);
    expect(params.target).toEqual({ values: ['203.0.113.10'], ttl: 60 });
    expect(params.verify).toEqual({
      url: 'https://api.example.com/health',
      expectStatus: 200,
      consecutive: 3,
      interval: '5s',
      timeout: '2m',
    });
    expect(params.insyncTimeout).toBe('10m');
    const alias = accepted(dnsFailoverInput, {
      ...dns,
      target: { alias: { dnsName: 'lb.eu-west-1.elb.amazonaws.com', hostedZoneId: 'Z32O12XQLNTSW2' } },
    });
    expect(alias.target).toEqual({
      alias: { dnsName: 'lb.eu-west-1.elb.amazonaws.com', hostedZoneId: 'Z32O12XQLNTSW2', evaluateTargetHealth: true },
    });
  });

  it('refuses a target that is neither an alias nor values, with both shapes in the message', () => {
    const message = refusal(dnsFailoverInput, { ...dns, target: { ip: '203.0.113.10' } });
    expect(message).toMatch(/^input\.target: /);
    expect(message).toContain('"alias"');
    expect(message).toContain('"values"');
  });

  it('refuses a verify url that is not http(s)', () => {
    expect(refusal(dnsFailoverInput, { ...dns, verify: { url: 'ftp://api.example.com/health' } })).toBe(
      'input.verify.url: expected an http(s) URL',
    );
    expect(refusal(dnsFailoverInput, { ...dns, verify: { url: 'not a url' } })).toBe(
      'input.verify.url: expected an http(s) URL',
    );
  });

  it('refuses a health-check interval below 100ms', () => {
    expect(
      refusal(dnsFailoverInput, { ...dns, verify: { url: 'https://api.example.com/health', interval: '10ms' } }),
    ).toBe('input.verify.interval: expected at least 100ms');
  });

  it('refuses record type MX', () => {
    const message = refusal(dnsFailoverInput, { ...dns, record: { name: 'example.com', type: 'MX' } });
    expect(message).toMatch(/^input\.record\.type: /);
    expect(message).toContain('"CNAME"');
  });

  it('refuses a record name that is not a DNS name', () => {
    expect(refusal(dnsFailoverInput, { ...dns, record: { name: 'api example com', type: 'A' } })).toBe(
      'input.record.name: expected a DNS name such as "api.example.com"',
    );
  });
});

describe('ecsRollback input', () => {
  it('refuses a toRevision that is neither family:revision nor a task-definition ARN', () => {
    for (const bad of ['web', 'web:latest', 'arn:aws:ecs:us-east-1:123:task-definition/web:3']) {
      expect(refusal(ecsRollbackInput, { ...ecsRef, toRevision: bad })).toBe(
        'input.toRevision: expected "family:revision" or a task-definition ARN',
      );
    }
  });

  it('accepts family:revision and a full ARN', () => {
    expect(accepted(ecsRollbackInput, { ...ecsRef, toRevision: 'web:12' }).toRevision).toBe('web:12');
    const arn = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3';
    expect(accepted(ecsRollbackInput, { ...ecsRef, toRevision: arn }).toRevision).toBe(arn);
  });

  it('does not require approval by default and fills in the stable timeout', () => {
    expect(accepted(ecsRollbackInput, ecsRef)).toEqual({
      ...ecsRef,
      stableTimeout: '15m',
      dryRun: false,
      approval: { required: false, approvers: [], quorum: 1, requireSecondPerson: true, timeout: '1h' },
    });
  });

  it('refuses a region without dashes', () => {
    expect(refusal(ecsRollbackInput, { ...ecsRef, region: 'useast1' })).toBe(
      'input.region: expected an AWS region such as "us-east-1"',
    );
  });
});

describe('approval payloads', () => {
  it('refuses a rejection without a reason', () => {
    const parsed = rejectPayload.safeParse({ by: 'bob', reason: ' ' });
    expect(parsed.success).toBe(false);
    expect(describeZodError(parsed.error!, 'reject')).toBe('reject.reason: expected a reason');
  });

  it('trims the name of who decides', () => {
    expect(approvePayload.parse({ by: '  bob ' })).toEqual({ by: 'bob' });
  });
});

describe('approval policies that can never be met are refused', () => {
  const base = { ...scale, initiatedBy: 'alice' };
  it('the same approver twice in other case, for a quorum of 2', () => {
    expect(
      refusal(emergencyScaleInput, { ...base, approval: { required: true, approvers: ['bob', 'BOB'], quorum: 2 } }),
    ).toBe(
      'input.approval.approvers.1: BOB is listed twice (as bob; names compare case-insensitively); ' +
        'input.approval.quorum: 2 approvals needed but only 1 distinct approver(s) listed: the run could never be approved',
    );
  });

  it('the initiator as the only approver under the second-person rule', () => {
    expect(refusal(dnsFailoverInput, { ...dns, initiatedBy: 'carol', approval: { approvers: ['carol'] } })).toBe(
      'input.approval.approvers: carol started the run and may not approve it (requireSecondPerson), which leaves 0 ' +
        'approver(s) for a quorum of 1: the run could never be approved; add approvers or have someone else start it',
    );
    // Another approver, or no second-person rule, makes it possible again.
    accepted(dnsFailoverInput, { ...dns, initiatedBy: 'carol', approval: { approvers: ['carol', 'dave'] } });
    accepted(dnsFailoverInput, {
      ...dns,
      initiatedBy: 'carol',
      approval: { approvers: ['carol'], requireSecondPerson: false },
    });
  });

  it('the initiator counted out of a quorum written in other case', () => {
    expect(
      refusal(ecsRollbackInput, {
        ...ecsRef,
        initiatedBy: 'Carol',
        approval: { required: true, approvers: ['carol', 'dave'], quorum: 2 },
      }),
    ).toMatch(/^input\.approval\.approvers: Carol started the run .* leaves 1 approver\(s\) for a quorum of 2/);
  });
});

describe('data check expect ranges', () => {
  const check = (expect: Record<string, number>) => ({ name: 'users', sql: 'SELECT count(*) FROM users', expect });
  const restore = (expect: Record<string, number>) => ({
    region: 'us-east-1',
    dbInstance: 'demo-db',
    restore: { snapshot: 'latest' },
    dataChecks: { secretId: 'demo/db', checks: [check({ min: 1 }), check(expect)] },
    approval: { required: false },
  });

  it('refuses a min above max, naming the check and the field: no value could pass', () => {
    expect(refusal(snapshotRestoreInput, restore({ min: 10, max: 5 }))).toBe(
      'input.dataChecks.checks.1.expect.max: 5 is below min (10): no value could pass',
    );
  });

  it('refuses an equals outside min…max', () => {
    expect(refusal(snapshotRestoreInput, restore({ equals: 3, min: 5 }))).toBe(
      'input.dataChecks.checks.1.expect.equals: 3 is outside min (5): no value could pass',
    );
    expect(refusal(snapshotRestoreInput, restore({ equals: 9, max: 5 }))).toBe(
      'input.dataChecks.checks.1.expect.equals: 9 is outside max (5): no value could pass',
    );
  });

  it('accepts a range of one value, and bounds that agree', () => {
    accepted(snapshotRestoreInput, restore({ min: 5, max: 5 }));
    accepted(snapshotRestoreInput, restore({ min: 1, max: 10, equals: 10 }));
  });

  it('backupVerification: in the input’s checks and in a database’s own', () => {
    const checks = (expect: Record<string, number>) => ({ secretId: 'demo/db', checks: [check(expect)] });
    expect(
      refusal(backupVerificationInput, {
        region: 'us-east-1',
        tag: { key: 'backup-verify', value: 'true' },
        dataChecks: checks({ min: 10, max: 5 }),
      }),
    ).toBe('input.dataChecks.checks.0.expect.max: 5 is below min (10): no value could pass');
    expect(
      refusal(backupVerificationInput, {
        region: 'us-east-1',
        databases: [{ dbInstance: 'db-a', dataChecks: checks({ min: 10, max: 5 }) }],
      }),
    ).toBe('input.databases.0.dataChecks.checks.0.expect.max: 5 is below min (10): no value could pass');
  });
});
