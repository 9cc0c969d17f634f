// What each runbook does under each AWS fault — the documented outcomes the chaos suite checks (and its fast subset in
// `npm test`). Generic faults apply to every runbook; the realistic ones to the runbooks whose AWS calls meet them.
import type { FaultExpectation } from './scenarios';

/** The first change a run makes: refused, the run must fail at once and leave AWS as it was. */
const FIRST_CHANGE: Record<string, { operation: string; type: string | RegExp; message?: RegExp }> = {
  emergencyScale: { operation: 'UpdateService', type: 'AccessDeniedException' },
  ecsRollback: { operation: 'UpdateService', type: 'AccessDeniedException' },
  dnsFailover: { operation: 'ChangeResourceRecordSets', type: 'AccessDenied' },
  blueGreenDeploy: { operation: 'RegisterTaskDefinition', type: 'AccessDeniedException' },
  regionalFailover: { operation: 'UpdateService', type: 'AccessDeniedException' },
  regionalFailback: { operation: 'CreateDBInstanceReadReplica', type: 'AccessDenied' },
  snapshotRestore: { operation: 'CreateDBSnapshot', type: 'AccessDenied' },
  backupVerification: {
    operation: 'RestoreDBInstanceFromDBSnapshot',
    type: 'BackupVerificationFailed',
    message: /not authorized to perform: rds:RestoreDBInstanceFromDBSnapshot/,
  },
  ecsDeploy: { operation: 'RegisterTaskDefinition', type: 'AccessDeniedException' },
  'ecsDeploy (CODE_DEPLOY)': { operation: 'RegisterTaskDefinition', type: 'AccessDeniedException' },
  // With an environment change (the driver's): the new revision comes first.
  ecsRestart: { operation: 'RegisterTaskDefinition', type: 'AccessDeniedException' },
  rdsRebootFailover: { operation: 'RebootDBInstance', type: 'AccessDenied' },
  auroraFailover: { operation: 'FailoverDBCluster', type: 'AccessDenied' },
};

/**
 * Read-only runbooks change nothing, so there is no first change to refuse: one of their reads is refused instead,
 * and the run must still complete, recording that read as unreadable (AWS's error in the report).
 */
const REFUSED_READ: Record<string, { operation: string; report: { shows: string; pattern: RegExp } }> = {
  triage: {
    operation: 'DescribeAlarms',
    report: {
      shows: 'the alarms unreadable, with AWS’s refusal',
      pattern: /"alarms":\{"unreadable":"AccessDenied[^"]*not authorized to perform: cloudwatch:DescribeAlarms/,
    },
  },
};

export function genericFaults(runbook: string): FaultExpectation[] {
  const storm: FaultExpectation = {
    scenario: 'throttle-storm: 30 % of calls Throttling / 503',
    faults: [{ name: 'throttle-storm', rate: 0.3 }],
    expect: { outcome: 'succeeded' },
  };
  const read = REFUSED_READ[runbook];
  if (read) {
    return [
      // Every refused read is tolerated (recorded as unreadable): completing proves nothing unless each read got
      // through the throttling (its retries).
      {
        ...storm,
        expect: { outcome: 'succeeded', report: { shows: 'no read unreadable', pattern: /^(?![\s\S]*"unreadable")/ } },
      },
      {
        scenario: `AccessDenied on ${read.operation} (a read)`,
        faults: [{ name: 'access-denied', operation: read.operation, times: 1000 }],
        expect: { outcome: 'succeeded', report: read.report },
      },
    ];
  }
  const first = FIRST_CHANGE[runbook]!;
  return [
    storm,
    {
      scenario: `AccessDenied on ${first.operation}`,
      faults: [{ name: 'access-denied', operation: first.operation, times: 1000 }],
      expect: {
        outcome: 'failed',
        type: first.type,
        message: first.message ?? /not authorized to perform/,
        compensated: 'snapshot',
      },
    },
  ];
}

export const REALISTIC_FAULTS: Record<string, FaultExpectation[]> = {
  emergencyScale: [],
  ecsRollback: [
    {
      scenario: 'tasks-crash-loop',
      faults: [{ name: 'tasks-crash-loop' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /CannotPullContainerError/,
        compensated: 'n/a',
      },
    },
    {
      scenario: 'deploy-circuit-breaker',
      faults: [{ name: 'deploy-circuit-breaker' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /circuit breaker|FAILED/,
        compensated: 'n/a',
      },
    },
  ],
  dnsFailover: [
    {
      scenario: 'route53-slow (the change stays PENDING past insyncTimeout)',
      faults: [{ name: 'route53-slow', times: 1 }],
      input: { insyncTimeout: '10s' },
      timeoutBased: true,
      expect: { outcome: 'failed', type: 'ChangeStillPending', message: /PENDING/, compensated: 'snapshot' },
    },
  ],
  blueGreenDeploy: [
    {
      scenario: "green's 5xx rise mid-bake (the alarm evaluated from the metric data)",
      faults: [],
      after: 'Bake 50%',
      act: 'green-5xx',
      input: { bakeTime: '30s', checkInterval: '2s' },
      expect: {
        outcome: 'failed',
        type: 'GateFailed',
        message: /read ALARM \[not ALARM\] at 50% green: Threshold Crossed: 3 out of the last 3 datapoints \[\d+ \(/,
        compensated: 'snapshot',
      },
    },
    {
      scenario: 'deploy-circuit-breaker on green',
      faults: [{ name: 'deploy-circuit-breaker' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /circuit breaker|FAILED/,
        compensated: 'snapshot',
      },
    },
    {
      scenario: 'tasks-crash-loop on green',
      faults: [{ name: 'tasks-crash-loop' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /CannotPullContainerError/,
        compensated: 'snapshot',
      },
    },
  ],
  regionalFailover: [
    {
      scenario: 'region-outage of the secondary region after the promotion',
      faults: [{ name: 'region-outage', region: 'us-west-1' }],
      after: 'Point of no return',
      expect: { outcome: 'needs-operator', message: /ServiceUnavailable|not answering|unavailable/i },
    },
    {
      scenario: 'promote-stuck (modifying past promoteTimeout)',
      faults: [{ name: 'promote-stuck' }],
      input: { promoteTimeout: '30s' },
      timeoutBased: true,
      expect: { outcome: 'needs-operator', message: /modifying/ },
    },
  ],
  regionalFailback: [
    {
      scenario: 'restore-fails (the new replica ends incompatible-restore)',
      faults: [{ name: 'restore-fails' }],
      expect: { outcome: 'failed', type: 'DbInstanceFailed', message: /incompatible-restore/, compensated: 'snapshot' },
    },
  ],
  snapshotRestore: [
    {
      scenario: 'restore-fails',
      faults: [{ name: 'restore-fails' }],
      expect: { outcome: 'failed', type: 'DbInstanceFailed', message: /incompatible-restore/, compensated: 'snapshot' },
    },
  ],
  ecsDeploy: [
    {
      scenario: 'deploy-circuit-breaker',
      faults: [{ name: 'deploy-circuit-breaker' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /circuit breaker.*Compensated: .*circuit breaker had already rolled/s,
        compensated: 'snapshot',
      },
    },
    {
      scenario: 'tasks-crash-loop',
      faults: [{ name: 'tasks-crash-loop' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /CannotPullContainerError.*Compensated: Put /s,
        compensated: 'snapshot',
      },
    },
  ],
  'ecsDeploy (CODE_DEPLOY)': [
    {
      scenario: 'codedeploy-hook-fails (AfterAllowTestTraffic)',
      faults: [{ name: 'codedeploy-hook-fails' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /CodeDeploy deployment d-\S+ Failed.*HOOK_EXECUTION_FAILURE/s,
        compensated: 'snapshot',
      },
    },
  ],
  ecsRestart: [
    {
      scenario: 'deploy-circuit-breaker on the new revision',
      faults: [{ name: 'deploy-circuit-breaker' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /circuit breaker.*Compensated: Put /s,
        compensated: 'snapshot',
      },
    },
    {
      scenario: 'tasks-crash-loop on the new revision',
      faults: [{ name: 'tasks-crash-loop' }],
      expect: {
        outcome: 'failed',
        type: 'ServiceDeploymentFailed',
        message: /CannotPullContainerError.*Compensated: Put /s,
        compensated: 'snapshot',
      },
    },
  ],
  triage: [],
  // The layer's region-outage after the reboot is in test/e2e/rds-reboot-failover.test.ts (a reboot cannot be undone:
  // the run fails RegionUnavailable saying where the database is; nothing to compensate).
  rdsRebootFailover: [],
  // Under the layer's failing-over phases and a failing verification: test/e2e/aurora-failover.test.ts (a failover is
  // not undone: the run fails saying what the cluster shows; nothing to compensate).
  auroraFailover: [],
  backupVerification: [
    {
      scenario: 'restore-fails for one database',
      faults: [{ name: 'restore-fails', times: 1 }],
      expect: {
        outcome: 'failed',
        type: 'BackupVerificationFailed',
        message: /incompatible-restore/,
        compensated: 'snapshot',
      },
    },
  ],
};
