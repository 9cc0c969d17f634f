// The UI's "Current Details" text, rendered from a status: what an approver sees first, and whether a signal counted.
import { describe, expect, it } from 'vitest';
import type { RunbookStatus } from '../../api/status';
import { renderDetails } from '../../workflows/lib/tracker';

function waiting(): RunbookStatus {
  return {
    runbook: 'emergencyScale',
    workflowId: 'emergency-scale:us-east-1/demo-east/demo-api',
    target: 'us-east-1/demo-east/demo-api',
    state: 'awaiting-approval',
    currentStep: 'Approval',
    startedAt: '2026-11-25T17:00:00.000Z',
    dryRun: false,
    initiatedBy: 'alice',
    steps: [
      {
        name: 'Preflight',
        startedAt: '2026-11-25T17:00:01.000Z',
        endedAt: '2026-11-25T17:00:03.000Z',
        outcome: 'succeeded',
        mutating: false,
      },
    ],
    approvals: [
      {
        at: '2026-11-25T17:00:10.000Z',
        by: 'alice',
        decision: 'approve',
        via: 'signal',
        accepted: false,
        refusal: 'alice started this run and a second person is required',
      },
    ],
    pendingApproval: {
      gate: 'Approval',
      openedAt: '2026-11-25T17:00:04.000Z',
      deadline: '2026-11-25T17:30:04.000Z',
      approvers: [],
      quorum: 1,
      approvedBy: [],
      initiator: 'alice',
      secondPersonRequired: true,
      summary: 'scale demo-api (us-east-1/demo-east) from 2 to 6 tasks',
      plan: [],
      how: {
        approveSignal: 'approve',
        approveExample: { by: '<your name>' },
        rejectSignal: 'reject',
        rejectExample: { by: '<your name>', reason: '<why>' },
        cli: 'npm run runbook -- approve emergency-scale:us-east-1/demo-east/demo-api --by <your name>',
      },
    },
    compensations: [],
    warnings: [],
  };
}

describe('current details', () => {
  it('opens with who may approve, the signal and its JSON, and the CLI command', () => {
    const first = renderDetails(waiting()).split('\n')[0] ?? '';
    expect(first).toContain('Waiting for approval');
    expect(first).toContain('anyone except alice (the initiator) may approve');
    expect(first).toContain('signal `approve` with `{"by":"<your name>"}`');
    expect(first).toContain('CLI: `npm run runbook -- approve emergency-scale:us-east-1/demo-east/demo-api');
  });

  it('lists each decision and why a refused one did not count', () => {
    const s = waiting();
    s.approvals.push({ at: '2026-11-25T17:01:00.000Z', by: 'bob', decision: 'approve', via: 'signal', accepted: true });
    const text = renderDetails(s);
    expect(text).toContain(
      '- 17:00:10 approve by alice (signal): ❌ refused: alice started this run and a second person is required',
    );
    expect(text).toContain('- 17:01:00 approve by bob (signal): ✅ counted');
  });

  it('shows the state and step once the gate is closed', () => {
    const s = { ...waiting(), state: 'running' as const, currentStep: 'Scale the service', pendingApproval: undefined };
    expect(renderDetails(s).split('\n')[0]).toBe(
      '**emergencyScale** on `us-east-1/demo-east/demo-api`: **running** · Scale the service',
    );
  });
});
