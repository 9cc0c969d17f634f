// The organisation policy: the file a worker reads (errors name the file, the line and the key), the rules one
// runbook gets, and the stricter of input and policy — an input can only tighten the rules, never weaken them.
import { describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../api/common';
import { principalOf } from '../../api/identity';
import { effectiveApproval, onList, rulesFor, type PolicyFile } from '../../api/policy';
import { judgeDecision, outstanding } from '../../workflows/lib/approval-policy';
import { parsePolicy, readPolicyFile } from '../../worker/policy-file';

const input = (o: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({
  required: false,
  approvers: [],
  quorum: 1,
  requireSecondPerson: false,
  timeout: '1h',
  ...o,
});

describe('the policy file', () => {
  it('reads the shape the docs show', () => {
    const file = parsePolicy(
      [
        'default:',
        '  approval: { required: true, secondPerson: true, identity: declared }',
        'runbooks:',
        '  emergencyScale:',
        '    approval:',
        '      required: true',
        '      identity: aws-iam',
        '      approvers: ["arn:aws:iam::*:user/sre-*"]',
      ].join('\n'),
      'policy.yaml',
    );
    expect(rulesFor(file, 'emergencyScale').approval).toEqual({
      required: true,
      secondPerson: true,
      identity: 'aws-iam',
      approvers: ['arn:aws:iam::*:user/sre-*'],
    });
    expect(rulesFor(file, 'ecsRollback').approval).toEqual({
      required: true,
      secondPerson: true,
      identity: 'declared',
    });
  });

  it('stops at an unknown key, naming the file, the line and the key', () => {
    expect(() => parsePolicy('default:\n  approval:\n    required: true\n    secondPersn: true\n', 'p.yaml')).toThrow(
      'p.yaml:4:5: unknown key "default.approval.secondPersn"',
    );
    expect(() => parsePolicy('runbooks:\n  regionalFailovr: {}\n', 'p.yaml')).toThrow(
      'p.yaml:2:3: unknown key "runbooks.regionalFailovr" (runbooks are named by workflow type',
    );
  });

  it('stops at a value out of range or malformed YAML, naming where', () => {
    expect(() => parsePolicy('default:\n  approval:\n    minQuorum: 0\n', 'p.yaml')).toThrow(
      /^p\.yaml:3:16: default\.approval\.minQuorum: /,
    );
    expect(() => parsePolicy('default:\n  approval:\n    identity: iam\n', 'p.yaml')).toThrow(
      /p\.yaml:3:15: default\.approval\.identity: Invalid option: expected one of "declared"\|"aws-iam"/,
    );
    expect(() => parsePolicy('default: [\n', 'p.yaml')).toThrow(/^p\.yaml:\d+:\d+: not valid YAML: /);
  });

  it('takes JSON too (JSON is YAML)', () => {
    expect(parsePolicy('{"default": {"locks": {"wait": "5m"}}}', 'p.json')).toEqual({
      default: { locks: { wait: '5m' } },
    });
  });

  it('the shipped demo and production-example policies read, and the demo requires approval for the four risky runbooks', () => {
    const demo = readPolicyFile('policies/demo.yaml');
    for (const t of ['regionalFailover', 'regionalFailback', 'snapshotRestore', 'blueGreenDeploy']) {
      expect(rulesFor(demo, t).approval?.required, t).toBe(true);
    }
    for (const t of ['emergencyScale', 'ecsRollback', 'dnsFailover']) {
      expect(rulesFor(demo, t).approval?.required, t).toBeUndefined();
    }
    const prod = readPolicyFile('policies/production-example.yaml');
    expect(rulesFor(prod, 'regionalFailover').approval).toMatchObject({ identity: 'aws-iam', minQuorum: 2 });
  });

  it("a runbook's own entry overrides the default key by key", () => {
    const file: PolicyFile = {
      default: { approval: { required: true, secondPerson: true }, locks: { wait: '5m' } },
      runbooks: { dnsFailover: { approval: { secondPerson: false } } },
    };
    expect(rulesFor(file, 'dnsFailover')).toEqual({
      approval: { required: true, secondPerson: false },
      locks: { wait: '5m' },
    });
  });
});

describe('the stricter of input and policy', () => {
  it('raises approval.required, and says so', () => {
    const e = effectiveApproval(input({ required: false }), { required: true });
    expect(e.policy.required).toBe(true);
    expect(e.sources.required).toBe('policy');
    expect(e.raised).toEqual([
      'approval.required: the input asked for no approval; the organisation policy requires one',
    ]);
  });

  it('raises the quorum to the minimum, keeps a higher one', () => {
    expect(effectiveApproval(input({ quorum: 1 }), { minQuorum: 2 }).policy.quorum).toBe(2);
    const higher = effectiveApproval(input({ quorum: 3 }), { minQuorum: 2 });
    expect(higher.policy.quorum).toBe(3);
    expect(higher.raised).toEqual([]);
    expect(higher.sources.quorum).toBe('input and policy');
  });

  it('turns the second-person rule on', () => {
    const e = effectiveApproval(input({ requireSecondPerson: false }), { secondPerson: true });
    expect(e.policy.requireSecondPerson).toBe(true);
    expect(e.raised[0]).toContain('requireSecondPerson');
  });

  it('keeps the timeout within the bounds', () => {
    expect(effectiveApproval(input({ timeout: '30s' }), { timeout: { min: '5m' } }).policy.timeout).toBe('5m');
    expect(effectiveApproval(input({ timeout: '2d' }), { timeout: { max: '4h' } }).policy.timeout).toBe('4h');
    const within = effectiveApproval(input({ timeout: '1h' }), { timeout: { min: '5m', max: '4h' } });
    expect(within.policy.timeout).toBe('1h');
    expect(within.raised).toEqual([]);
  });

  it('lets the input narrow the approvers, never widen them: unlisted names are dropped, with a warning', () => {
    const rules = { approvers: ['bob', 'carol', 'arn:aws:iam::*:user/sre-*'] };
    expect(effectiveApproval(input({ approvers: [] }), rules).policy.approvers).toEqual(rules.approvers);
    const narrowed = effectiveApproval(input({ approvers: ['Bob'] }), rules);
    expect(narrowed.policy.approvers).toEqual(['Bob']);
    expect(narrowed.raised).toEqual([]);
    const widened = effectiveApproval(input({ approvers: ['bob', 'mallory', 'arn:aws:iam::1:user/sre-dan'] }), rules);
    expect(widened.policy.approvers).toEqual(['bob', 'arn:aws:iam::1:user/sre-dan']);
    expect(widened.raised[0]).toContain('mallory is not on the organisation');
    const only = effectiveApproval(input({ approvers: ['mallory'] }), rules);
    expect(only.policy.approvers).toEqual(rules.approvers);
  });

  it('takes the identity mode from the policy', () => {
    expect(effectiveApproval(input(), { identity: 'aws-iam' }).policy.identity).toBe('aws-iam');
    expect(effectiveApproval(input(), {}).policy.identity).toBe('declared');
  });

  it('without organisation rules, is the input', () => {
    const e = effectiveApproval(input({ required: true, quorum: 2, approvers: ['a', 'b'] }), undefined);
    expect(e.policy).toMatchObject({ required: true, quorum: 2, approvers: ['a', 'b'] });
    expect(e.raised).toEqual([]);
  });
});

describe('who is on a list', () => {
  const bob = principalOf('arn:aws:iam::123456789012:user/sre-bob', 'AIDA1');
  const sso = principalOf('arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SRE_1a2b/bob@example.com', 'AROA1:x');
  it('matches ARN patterns against verified identities only', () => {
    expect(onList(['arn:aws:iam::*:user/sre-*'], { declared: 'x', verified: bob }, 'aws-iam')).toBe(true);
    expect(onList(['arn:aws:iam::*:user/sre-*'], { declared: 'arn:aws:iam::1:user/sre-x' }, 'declared')).toBe(false);
    expect(
      onList(['arn:aws:sts::*:assumed-role/AWSReservedSSO_SRE_*/*'], { declared: 'b', verified: sso }, 'aws-iam'),
    ).toBe(true);
  });
  it('under aws-iam a listed name matches the verified user or session name, never the typed one', () => {
    expect(onList(['sre-bob'], { declared: 'sre-bob' }, 'aws-iam')).toBe(false);
    expect(onList(['sre-bob'], { declared: 'anything', verified: bob }, 'aws-iam')).toBe(true);
    expect(onList(['bob@example.com'], { declared: 'x', verified: sso }, 'aws-iam')).toBe(true);
    expect(onList(['bob'], { declared: 'Bob' }, 'declared')).toBe(true);
  });
});

describe('the gate under a verified-identity policy', () => {
  const policy = { required: true, approvers: ['arn:aws:iam::*:user/sre-*'], quorum: 1, requireSecondPerson: true };
  const strict = { ...policy, identity: 'aws-iam' as const };
  const open = { phase: 'open' as const, approvedBy: [] };
  const bob = principalOf('arn:aws:iam::123456789012:user/sre-bob', 'AIDA1');
  const intruder = principalOf('arn:aws:iam::123456789012:user/intruder', 'AIDA2');

  it('refuses a typed name (a UI signal), an unlisted principal; accepts a listed one', () => {
    expect(judgeDecision(strict, 'alice', open, { decision: 'approve', by: 'x' })).toMatchObject({
      accepted: false,
      refusal: expect.stringContaining('requires a verified AWS identity'),
    });
    expect(judgeDecision(strict, 'alice', open, { decision: 'approve', by: 'x', verified: intruder })).toEqual({
      accepted: false,
      refusal:
        'x (arn:aws:iam::123456789012:user/intruder) is not an allowed approver (allowed: arn:aws:iam::*:user/sre-*)',
    });
    expect(judgeDecision(strict, 'alice', open, { decision: 'approve', by: 'bob', verified: bob })).toMatchObject({
      accepted: true,
      effect: 'approved',
    });
  });

  it("refuses the verified initiator's own approval when a second person is required, whatever name they type", () => {
    const verdict = judgeDecision(strict, { declared: 'alice', verified: bob }, open, {
      decision: 'approve',
      by: 'someone-else',
      verified: bob,
    });
    expect(verdict).toMatchObject({ accepted: false, refusal: expect.stringContaining('started this run') });
  });

  it('counts one person once, whatever names they type', () => {
    const gate = { phase: 'open' as const, approvedBy: ['bob'], approvedKeys: [bob.arn.toLowerCase()] };
    const verdict = judgeDecision({ ...strict, quorum: 2 }, 'alice', gate, {
      decision: 'approve',
      by: 'b2',
      verified: bob,
    });
    expect(verdict).toMatchObject({ accepted: false, refusal: expect.stringContaining('has already approved') });
  });

  it('with acceptDataLoss needing a named approver, the quorum alone does not approve', () => {
    const needs = [{ why: 'acceptDataLoss', from: ['carol'] }];
    const p = { required: true, approvers: [], quorum: 1, requireSecondPerson: true };
    const first = judgeDecision(p, 'alice', open, { decision: 'approve', by: 'bob' }, needs);
    expect(first).toEqual({ accepted: true, effect: 'counted', approvals: 1, satisfied: [] });
    expect(outstanding(needs, [])).toEqual(['an approval from carol (acceptDataLoss)']);
    const second = judgeDecision(
      p,
      'alice',
      { phase: 'open', approvedBy: ['bob'], satisfied: [] },
      { decision: 'approve', by: 'carol' },
      needs,
    );
    expect(second).toEqual({ accepted: true, effect: 'approved', approvals: 2, satisfied: ['acceptDataLoss'] });
  });
});
