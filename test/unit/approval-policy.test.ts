// judgeDecision: every rule of the approval gate decided as a pure function (no workflow, no services).
import { describe, expect, it } from 'vitest';
import { judgeDecision, type GatePhase, type GateView } from '../../workflows/lib/approval-policy';

type Policy = Parameters<typeof judgeDecision>[0];

const policy = (overrides: Partial<Policy> = {}): Policy => ({
  required: true,
  approvers: [],
  quorum: 1,
  requireSecondPerson: true,
  ...overrides,
});

const gate = (phase: GatePhase = 'open', approvedBy: string[] = [], closedAt?: string): GateView => ({
  phase,
  approvedBy,
  ...(closedAt ? { closedAt } : {}),
});

const approve = (by: string) => ({ decision: 'approve' as const, by });
const reject = (by: string) => ({ decision: 'reject' as const, by });

describe('judgeDecision: quorum', () => {
  it('needs two distinct approvals when quorum is 2: the first counts, the second approves', () => {
    const p = policy({ quorum: 2 });
    expect(judgeDecision(p, 'alice', gate('open'), approve('bob'))).toEqual({
      accepted: true,
      effect: 'counted',
      approvals: 1,
    });
    expect(judgeDecision(p, 'alice', gate('open', ['bob']), approve('carol'))).toEqual({
      accepted: true,
      effect: 'approved',
      approvals: 2,
    });
  });

  it('approves on the first approval when quorum is 1', () => {
    expect(judgeDecision(policy(), 'alice', gate('open'), approve('bob'))).toEqual({
      accepted: true,
      effect: 'approved',
      approvals: 1,
    });
  });

  it('refuses a second approval by the same person and says a quorum needs distinct people', () => {
    const verdict = judgeDecision(policy({ quorum: 2 }), 'alice', gate('open', ['bob']), approve('bob'));
    expect(verdict).toEqual({
      accepted: false,
      refusal: 'bob has already approved (1 of 2); a quorum needs distinct people',
    });
  });

  it('treats a different spelling of the same name as a duplicate ("Bob " after "bob")', () => {
    const verdict = judgeDecision(policy({ quorum: 2 }), 'alice', gate('open', ['bob']), approve('Bob '));
    expect(verdict).toEqual({
      accepted: false,
      refusal: 'Bob  has already approved (1 of 2); a quorum needs distinct people',
    });
  });
});

describe('judgeDecision: second person', () => {
  it('refuses self-approval when a second person is required', () => {
    expect(judgeDecision(policy(), 'alice', gate('open'), approve('alice'))).toEqual({
      accepted: false,
      refusal: 'alice started this run and a second person is required',
    });
  });

  it('matches the initiator case-insensitively and ignoring surrounding spaces', () => {
    const verdict = judgeDecision(policy(), 'alice ', gate('open'), approve('Alice'));
    expect(verdict).toEqual({ accepted: false, refusal: 'Alice started this run and a second person is required' });
  });

  it('allows the initiator to approve when requireSecondPerson is false', () => {
    expect(judgeDecision(policy({ requireSecondPerson: false }), 'alice', gate('open'), approve('alice'))).toEqual({
      accepted: true,
      effect: 'approved',
      approvals: 1,
    });
  });

  it('allows anyone to approve when the initiator is unknown', () => {
    expect(judgeDecision(policy(), undefined, gate('open'), approve('alice'))).toMatchObject({
      accepted: true,
      effect: 'approved',
    });
  });

  it('lets the initiator reject their own run', () => {
    expect(judgeDecision(policy(), 'alice', gate('open'), reject('alice'))).toEqual({
      accepted: true,
      effect: 'rejected',
      approvals: 0,
    });
  });
});

describe('judgeDecision: approver list', () => {
  const listed = policy({ approvers: ['Bob', 'carol'] });

  it('refuses an approver who is not listed and names who is allowed', () => {
    expect(judgeDecision(listed, 'alice', gate('open'), approve('mallory'))).toEqual({
      accepted: false,
      refusal: 'mallory is not an allowed approver (allowed: Bob, carol)',
    });
  });

  it('accepts a listed approver whatever the case and spacing', () => {
    expect(judgeDecision(listed, 'alice', gate('open'), approve(' bob'))).toEqual({
      accepted: true,
      effect: 'approved',
      approvals: 1,
    });
  });

  it('lets the initiator reject even when not on the list', () => {
    expect(judgeDecision(listed, 'alice', gate('open'), reject('ALICE'))).toMatchObject({
      accepted: true,
      effect: 'rejected',
    });
  });

  it('refuses a rejection from someone who is neither listed nor the initiator', () => {
    expect(judgeDecision(listed, 'alice', gate('open'), reject('mallory'))).toEqual({
      accepted: false,
      refusal: 'mallory is not an allowed approver (allowed: Bob, carol)',
    });
  });

  it('accepts a rejection from a listed approver and keeps the approvals counted so far', () => {
    expect(
      judgeDecision(
        policy({ approvers: ['Bob', 'carol'], quorum: 2 }),
        'alice',
        gate('open', ['bob']),
        reject('carol'),
      ),
    ).toEqual({ accepted: true, effect: 'rejected', approvals: 1 });
  });
});

describe('judgeDecision: gate phases', () => {
  it.each([
    ['approved', 'approved'],
    ['rejected', 'rejected'],
    ['timed-out', 'timed out'],
  ] as const)('refuses a decision after the gate was %s, naming the phase and time', (phase, words) => {
    const closedAt = '2025-01-02T03:04:05.000Z';
    for (const request of [approve('bob'), reject('bob')]) {
      const verdict = judgeDecision(policy(), 'alice', gate(phase, ['carol'], closedAt), request);
      expect(verdict).toEqual({
        accepted: false,
        refusal: `the approval gate is closed (${words} at ${closedAt}); this ${request.decision} changes nothing`,
      });
    }
  });

  it('omits the time when the closed gate has no closedAt', () => {
    expect(judgeDecision(policy(), 'alice', gate('timed-out'), approve('bob'))).toEqual({
      accepted: false,
      refusal: 'the approval gate is closed (timed out); this approve changes nothing',
    });
  });

  it('queues an approval sent before the gate opens, counting it', () => {
    expect(judgeDecision(policy({ quorum: 2 }), 'alice', gate('not-open'), approve('bob'))).toEqual({
      accepted: true,
      effect: 'queued',
      approvals: 1,
    });
  });

  it('queues even the approval that would reach the quorum while the gate is not open', () => {
    expect(judgeDecision(policy(), 'alice', gate('not-open'), approve('bob'))).toMatchObject({ effect: 'queued' });
  });

  it('queues a rejection sent before the gate opens', () => {
    expect(judgeDecision(policy(), 'alice', gate('not-open'), reject('bob'))).toEqual({
      accepted: true,
      effect: 'queued',
      approvals: 0,
    });
  });

  it('still applies the rules to a queued approval (self-approval refused before the gate opens)', () => {
    expect(judgeDecision(policy(), 'alice', gate('not-open'), approve('alice'))).toMatchObject({ accepted: false });
  });

  it('refuses every decision when the policy does not require approval', () => {
    const p = policy({ required: false });
    for (const request of [approve('bob'), reject('bob')]) {
      expect(judgeDecision(p, 'alice', gate('open'), request)).toEqual({
        accepted: false,
        refusal: 'this run does not require approval',
      });
    }
  });

  it('refuses a decision at a gate in the not-required phase', () => {
    expect(judgeDecision(policy(), 'alice', gate('not-required'), approve('bob'))).toEqual({
      accepted: false,
      refusal: 'this run does not require approval',
    });
  });
});
