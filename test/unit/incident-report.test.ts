// The one incident report a run ends with, and the RPO rule every promotion follows: what the incident lead and the
// on-call engineer read.
import { describe, expect, it } from 'vitest';
import type { RunbookStatus } from '../../api/status';
import { rpoBreach } from '../../workflows/lib/db-steps';
import { runbookReport } from '../../workflows/lib/report';

function ended(o: Partial<RunbookStatus> = {}): RunbookStatus {
  return {
    runbook: 'regionalFailover',
    workflowId: 'failover:us-west-2/demo-db-replica',
    target: 'us-west-2/demo-db-replica',
    state: 'succeeded',
    startedAt: '2026-11-25T16:09:09.000Z',
    dryRun: false,
    steps: [
      {
        name: 'Promote the replica',
        startedAt: '2026-11-25T16:09:19.000Z',
        endedAt: '2026-11-25T16:09:19.500Z',
        outcome: 'succeeded',
        mutating: true,
      },
    ],
    approvals: [],
    compensations: [],
    warnings: [],
    ...o,
  };
}

describe('the incident report', () => {
  it("is rendered once, with the runbook's facts: what resolved means, its own impact rows and resolution", () => {
    const report = runbookReport(ended({ reason: 'us-east-1 outage (INC-7)' }), {
      outcome: 'succeeded',
      target: 'us-west-2/demo-db-replica',
      facts: {
        title: 'regional failover of demo-db',
        resolvedAs: 'serving from the secondary region',
        detectedAt: '2026-11-25T16:08:00.000Z',
        rtoSeconds: 83,
        impact: [['RTO', '1m23s (from detection)']],
        resolution: 'Promoted demo-db-replica in us-west-2.',
      },
      extra: { result: { rtoSeconds: 83 } },
    });
    const md = report.incidentReport ?? '';
    expect(md.match(/^# Incident Report/gm)).toEqual(['# Incident Report']);
    expect(md).toContain('# Incident Report: us-east-1 outage (INC-7)'); // the reason wins over the runbook's title
    expect(md).toContain('- **Status:** Resolved: serving from the secondary region');
    expect(md).toContain('| 2026-11-25 16:08:00 | Incident detected |');
    expect(md).toMatch(/^- \*\*Runbook duration:\*\* /m);
    expect(md).toContain('- **RTO:** 1m23s (from detection)');
    expect(md).toContain('## Resolution\nPromoted demo-db-replica in us-west-2.');
    expect(report.result).toEqual({ rtoSeconds: 83 });
  });

  it('says "with warnings" and lists them, keeping what resolved means', () => {
    const md =
      runbookReport(ended({ warnings: ['planned switchover of a healthy primary (DR drill)'] }), {
        outcome: 'succeeded-with-warnings',
        target: 'us-west-2/demo-db-replica',
        facts: { title: 'regional failover of demo-db', resolvedAs: 'serving from the secondary region' },
      }).incidentReport ?? '';
    expect(md).toContain('# Incident Report: regional failover of demo-db');
    expect(md).toContain(
      '- **Status:** Resolved with warnings (serving from the secondary region): planned switchover of a healthy primary (DR drill)',
    );
    expect(md).toContain('**Warnings:**\n- planned switchover of a healthy primary (DR drill)');
  });

  it("without facts, uses the frame's wording and the RTO / data-loss figures it is given", () => {
    const plain = runbookReport(ended({ runbook: 'emergencyScale', target: 'us-east-1/demo/api' }), {
      outcome: 'succeeded',
      target: 'us-east-1/demo/api',
      facts: undefined,
    }).incidentReport;
    expect(plain).toContain('# Incident Report: emergencyScale on us-east-1/demo/api');
    expect(plain).toMatch(/^- \*\*Status:\*\* Resolved$/m);
    expect(plain).toContain('emergencyScale completed on us-east-1/demo/api.');
    const figures = runbookReport(ended(), {
      outcome: 'succeeded',
      target: 'x',
      facts: { rtoSeconds: 14, dataLossEstimateSeconds: 2 },
    }).incidentReport;
    expect(figures).toContain('- **RTO:** 14s');
    expect(figures).toContain('- **Data-loss estimate:** up to 2s of writes');
  });

  it('of a failed run says Failed with the error, whatever the facts', () => {
    const md = runbookReport(ended({ state: 'failed' }), {
      outcome: 'failed',
      target: 'x',
      facts: { resolvedAs: 'serving from the secondary region', resolution: 'Promoted …' },
      extra: { error: 'refusing to fail over: replica lag is 420s. Nothing was changed.' },
    }).incidentReport;
    expect(md).toContain('- **Status:** Failed: refusing to fail over: replica lag is 420s. Nothing was changed.');
    expect(md).toContain('The runbook failed: refusing to fail over');
    expect(md).not.toContain('Promoted …');
  });

  it('is absent from a dry run', () => {
    expect(runbookReport(ended(), { outcome: 'dry-run', target: 'x', facts: undefined })).not.toHaveProperty(
      'incidentReport',
    );
  });
});

describe('the RPO rule', () => {
  const reading = (lagSeconds: number | undefined) => ({
    lagSeconds,
    limitSeconds: 300,
    subject: "the new replica's lag",
    noDatapoint: 'for demo-db-fb-1 since it was created',
  });

  it('holds at or under the limit', () => {
    expect(rpoBreach(reading(300))).toBeUndefined();
    expect(rpoBreach(reading(0))).toBeUndefined();
  });

  it('is breached above the limit, saying how much would be lost', () => {
    expect(rpoBreach(reading(420))).toBe(
      "the new replica's lag is 420s, above maxReplicaLagSeconds (300s): up to 420s of writes would be lost",
    );
    expect(rpoBreach(reading(420), true)).toContain("the new replica's lag is now 420s");
  });

  it('is breached with no datapoint: the loss cannot be estimated (never "lags undefineds")', () => {
    const why = rpoBreach(reading(undefined));
    expect(why).toBe(
      'no ReplicaLag datapoint for demo-db-fb-1 since it was created: the data loss cannot be estimated',
    );
    expect(why).not.toContain('undefined');
  });
});
