// triage's diagnosis rules (api/runbooks/triage.ts `diagnose`), without a server: which runbook it recommends from
// which facts, and that every recommended input is one that runbook's own schema accepts. Also the input schema and
// the activities' pure helpers (the log pattern check, which tasks are the service's).
import { describe, expect, it } from 'vitest';
import { belongsToService, termCheck } from '../../activities/triage';
import { RUNBOOK } from '../../api/runbooks';
import {
  diagnose,
  triageInput,
  type TriageDeployment,
  type TriageFacts,
  type TriageRecommendation,
  type TriageStoppedTask,
} from '../../api/runbooks/triage';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const ago = (minutes: number) => new Date(NOW - minutes * 60_000).toISOString();
const td = (revision: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/api:${revision}`;
const ref = { region: 'us-east-1', cluster: 'prod', service: 'api' };

function deployment(o: Partial<TriageDeployment> = {}): TriageDeployment {
  return {
    id: 'ecs-svc/1111',
    status: 'PRIMARY',
    taskDefinition: td(7),
    rolloutState: 'COMPLETED',
    createdAt: ago(12),
    desiredCount: 4,
    runningCount: 4,
    ...o,
  };
}

const crash = (revision = 7, o: Partial<TriageStoppedTask> = {}): TriageStoppedTask => ({
  arn: `arn:aws:ecs:us-east-1:123456789012:task/prod/${revision}${Math.random().toString(16).slice(2, 8)}`,
  taskDefinition: td(revision),
  reason: 'Essential container in task exited (app: exit code 1)',
  deliberate: false,
  ...o,
});

/** A healthy service deployed `deployedMinutesAgo` ago, with `o` over it. */
function facts(o: Partial<TriageFacts> & { deployedMinutesAgo?: number } = {}): TriageFacts {
  const { deployedMinutesAgo = 12, ...rest } = o;
  return {
    ref,
    recentDeploymentWindow: '2h',
    service: {
      status: 'ACTIVE',
      taskDefinition: td(7),
      desiredCount: 4,
      runningCount: 4,
      pendingCount: 0,
      deploymentController: 'ECS',
      deployments: [deployment({ createdAt: ago(deployedMinutesAgo) })],
      previousRevision: td(6),
    },
    stoppedTasks: [],
    targets: [
      {
        targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/abc',
        total: 4,
        healthy: 4,
        unhealthy: [],
      },
    ],
    alarms: [],
    metrics: { cpuPercent: 40, memoryPercent: 50 },
    ...rest,
  };
}

/** The recommendation's input, checked against the recommended runbook's own schema. */
function expectValidInput(rec: TriageRecommendation) {
  const entry = RUNBOOK[rec.runbook as 'ecsRollback' | 'emergencyScale' | 'ecsRestart'];
  const parsed = entry.schema.safeParse(rec.input);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
}

describe('diagnose: the recommended runbook', () => {
  it('a recent deployment whose tasks crash → ecsRollback, onlyIfDeployedWithin = the window, reason quoting it', () => {
    const { findings, recommendation } = diagnose(facts({ stoppedTasks: [crash(), crash(), crash()] }), NOW);
    expect(recommendation.runbook).toBe('ecsRollback');
    expect(recommendation.why).toContain('api:7 was deployed 12m ago and 3 tasks crashed');
    expect(recommendation.why).toContain('roll back to api:6');
    expect(recommendation.input).toEqual({
      ...ref,
      onlyIfDeployedWithin: '2h',
      reason: expect.stringContaining('triage: api:7 was deployed 12m ago and 3 tasks crashed'),
    });
    expectValidInput(recommendation);
    expect(findings).toContain(
      '3 tasks of api:7 stopped unexpectedly: Essential container in task exited (app: exit code 1).',
    );
    expect(findings[0]).toMatch(/^api runs api:7, deployed 12m ago \(recent: window 2h; rollout COMPLETED\)/);
  });

  it('a recent deployment with an alarm in ALARM, or log errors, → ecsRollback', () => {
    const alarmed = diagnose(facts({ alarms: [{ name: 'api-5xx', reason: 'Threshold Crossed' }] }), NOW);
    expect(alarmed.recommendation.runbook).toBe('ecsRollback');
    expect(alarmed.recommendation.why).toContain('alarm api-5xx in ALARM');
    expect(alarmed.findings).toContain('Alarm api-5xx is in ALARM: Threshold Crossed.');
    expectValidInput(alarmed.recommendation);

    const logged = diagnose(
      facts({
        logs: {
          logGroup: '/ecs/api',
          filterPattern: '?ERROR',
          minutes: 15,
          count: 42,
          capped: false,
          newest: [{ at: ago(1), message: 'ERROR boom' }],
        },
      }),
      NOW,
    );
    expect(logged.recommendation.runbook).toBe('ecsRollback');
    expect(logged.recommendation.why).toContain('42 error lines in 15m');
    expect(logged.findings).toContain('42 log lines in /ecs/api matched "?ERROR" in the last 15m; newest: ERROR boom.');
  });

  it('crashed tasks of an older revision do not make the current deployment a rollback candidate', () => {
    const { recommendation } = diagnose(facts({ stoppedTasks: [crash(6), crash(6)] }), NOW);
    expect(recommendation.runbook).toBe('ecsRestart');
  });

  it('a deployment IN_PROGRESS whose tasks fail → ecsRollback, saying it is refused until stopInProgress (not in the input)', () => {
    const f = facts({ stoppedTasks: [crash(8), crash(8)] });
    const svc = f.service as Exclude<TriageFacts['service'], { unreadable: string }>;
    svc.taskDefinition = td(8);
    svc.runningCount = 3;
    svc.deployments = [
      deployment({
        id: 'ecs-svc/2222',
        taskDefinition: td(8),
        rolloutState: 'IN_PROGRESS',
        createdAt: ago(5),
        runningCount: 1,
      }),
      deployment({ id: 'ecs-svc/1111', status: 'ACTIVE', taskDefinition: td(7), createdAt: ago(600), runningCount: 2 }),
    ];
    svc.previousRevision = td(7);
    const { findings, recommendation } = diagnose(f, NOW);
    expect(recommendation.runbook).toBe('ecsRollback');
    expect(recommendation.why).toContain('deployment in progress of api:8 is failing: 2 tasks of api:8 stopped');
    expect(recommendation.why).toContain('"stopInProgress": {"reason": "<why>"}');
    expect(recommendation.input).not.toHaveProperty('stopInProgress');
    expect(recommendation.input).toMatchObject({ onlyIfDeployedWithin: '2h' });
    expectValidInput(recommendation);
    expect(findings.some((x) => x.startsWith('A deployment is in progress: ecs-svc/2222 of api:8'))).toBe(true);
  });

  it('CPU ≥ 85 % on a healthy service → emergencyScale to ceil(1.5 × desired), at least +1, within maxCount', () => {
    const hot = diagnose(facts({ deployedMinutesAgo: 600, metrics: { cpuPercent: 95, memoryPercent: 60 } }), NOW);
    expect(hot.recommendation.runbook).toBe('emergencyScale');
    expect(hot.recommendation.input).toMatchObject({ ...ref, desiredCount: 6, maxCount: 20 });
    expect(hot.recommendation.why).toContain('CPU at 95 %');
    expect(hot.findings).toContain("CPU is at 95 % (the last minute's average).");
    expectValidInput(hot.recommendation);

    const one = facts({ deployedMinutesAgo: 600, metrics: { cpuPercent: 85, memoryPercent: null } });
    Object.assign(one.service, { desiredCount: 1, runningCount: 1 });
    expect(diagnose(one, NOW).recommendation.input).toMatchObject({ desiredCount: 2 });

    const big = facts({ deployedMinutesAgo: 600, metrics: { cpuPercent: 90, memoryPercent: null } });
    Object.assign(big.service, { desiredCount: 30, runningCount: 30 });
    const scaled = diagnose(big, NOW).recommendation;
    expect(scaled.input).toMatchObject({ desiredCount: 45, maxCount: 45 });
    expectValidInput(scaled);
  });

  it('high CPU with unhealthy targets is not a capacity problem to scale away → ecsRestart', () => {
    const f = facts({
      deployedMinutesAgo: 600,
      metrics: { cpuPercent: 97, memoryPercent: 50 },
      targets: [
        {
          targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/abc',
          total: 4,
          healthy: 2,
          unhealthy: ['10.0.1.5:8080 unhealthy (Target.Timeout)'],
        },
      ],
    });
    const { findings, recommendation } = diagnose(f, NOW);
    expect(recommendation.runbook).toBe('ecsRestart');
    expect(findings).toContain('2 of 4 targets in api are not healthy (10.0.1.5:8080 unhealthy (Target.Timeout)).');
  });

  it('a target group with no target registered while tasks are wanted → a finding, and ecsRestart', () => {
    const f = facts({
      deployedMinutesAgo: 600,
      targets: [
        {
          targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/abc',
          total: 0,
          healthy: 0,
          unhealthy: [],
        },
      ],
    });
    const { findings, recommendation } = diagnose(f, NOW);
    expect(findings).toContain('No target is registered in api.');
    expect(recommendation.runbook).toBe('ecsRestart');
  });

  it('unhealthy tasks or endpoint without a recent deployment → ecsRestart with region/cluster/service/reason', () => {
    const f = facts({ deployedMinutesAgo: 3 * 24 * 60, stoppedTasks: [crash()] });
    Object.assign(f.service, { runningCount: 2 });
    const { findings, recommendation } = diagnose(f, NOW);
    expect(recommendation.runbook).toBe('ecsRestart');
    expect(recommendation.why).toContain('api is unhealthy without a recent deployment: 1 task stopped');
    expect(recommendation.input).toEqual({ ...ref, reason: expect.stringContaining('triage: api is unhealthy') });
    expectValidInput(recommendation);
    expect(findings).toContain('Only 2 of 4 tasks of api are running.');

    const down = diagnose(
      facts({
        deployedMinutesAgo: 600,
        endpoint: {
          url: 'https://api.example.com/health',
          expectStatus: 200,
          attempts: 3,
          ok: 0,
          healthy: false,
          statuses: [503, 503, null],
          lastError: 'TimeoutError: timed out',
        },
      }),
      NOW,
    );
    expect(down.recommendation.runbook).toBe('ecsRestart');
    expect(down.findings).toContain(
      'https://api.example.com/health answered 0 of 3 GETs with 200 (got 503, 503, no answer); last error: TimeoutError: timed out.',
    );
  });

  it('a database that is not available → a finding naming its status; failover/restore only as text, no input', () => {
    const { findings, recommendation } = diagnose(
      facts({
        stoppedTasks: [crash(), crash()],
        database: {
          region: 'us-east-1',
          dbInstance: 'orders-db',
          found: true,
          status: 'storage-full',
          events: [{ at: ago(3), message: 'The free storage capacity for DB instance orders-db is low' }],
        },
      }),
      NOW,
    );
    expect(findings).toContain(
      'Database orders-db (us-east-1) is storage-full, not available; newest RDS event: The free storage capacity for DB instance orders-db is low.',
    );
    expect(recommendation.runbook).toBe('none');
    expect(recommendation.input).toBeUndefined();
    expect(recommendation.why).toContain('database orders-db is storage-full');
    expect(recommendation.why).toContain('regionalFailover');
    expect(recommendation.why).toContain('snapshotRestore');
  });

  it('nothing wrong → none', () => {
    const { findings, recommendation } = diagnose(facts(), NOW);
    expect(recommendation).toEqual({ runbook: 'none', why: 'nothing wrong found with api.' });
    expect(findings).toContain('No alarm is in ALARM.');
    expect(findings.at(-1)).toBe('Nothing wrong found with api: its tasks run as desired and none crashed.');
  });

  it('deliberate stops (scale-in, deployments) are not crashes', () => {
    const { recommendation } = diagnose(
      facts({
        stoppedTasks: [crash(7, { deliberate: true, reason: 'Scaling activity initiated by deployment ecs-svc/1' })],
      }),
      NOW,
    );
    expect(recommendation.runbook).toBe('none');
  });

  it('no earlier revision, or a CODE_DEPLOY service: no ecsRollback, the reason said instead', () => {
    const first = facts({ stoppedTasks: [crash()] });
    Object.assign(first.service, { previousRevision: null });
    const r1 = diagnose(first, NOW).recommendation;
    expect(r1.runbook).toBe('none');
    expect(r1.why).toContain('no ACTIVE revision of api older than api:7');

    const cd = facts({ stoppedTasks: [crash()] });
    Object.assign(cd.service, { deploymentController: 'CODE_DEPLOY' });
    expect(diagnose(cd, NOW).recommendation.why).toContain('deployed by CODE_DEPLOY');
  });

  it('an unreadable read is a finding, and the rest still decides', () => {
    const { findings, recommendation } = diagnose(
      facts({
        stoppedTasks: { unreadable: 'AccessDeniedException: not authorized to perform: ecs:ListTasks' },
        alarms: [{ name: 'api-5xx', reason: 'Threshold Crossed' }],
      }),
      NOW,
    );
    expect(findings).toContain(
      'Stopped tasks could not be read (AccessDeniedException: not authorized to perform: ecs:ListTasks).',
    );
    expect(recommendation.runbook).toBe('ecsRollback');
  });

  it('is deterministic: the same facts and time give the same answer', () => {
    const f = facts({ stoppedTasks: [crash()] });
    expect(diagnose(f, NOW)).toEqual(diagnose(f, NOW));
  });
});

describe('triage input', () => {
  it('fills the defaults', () => {
    const p = triageInput.parse({ ...ref, logs: { logGroup: '/ecs/api' }, endpoint: { url: 'http://x/health' } });
    expect(p).toMatchObject({
      recentDeploymentWindow: '2h',
      stoppedTasks: 10,
      dryRun: false,
      logs: { logGroup: '/ecs/api', filterPattern: '?ERROR ?Error ?Exception', minutes: 15 },
      endpoint: { expectStatus: 200, timeout: '5s' },
    });
  });

  it('refuses unknown fields and approval (nothing to approve), naming the field', () => {
    const r = triageInput.safeParse({ ...ref, approval: { required: true } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('approval');
    const bad = triageInput.safeParse({ ...ref, recentDeploymentWindow: 'soon', database: {} });
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(
      expect.arrayContaining(['recentDeploymentWindow', 'database.dbInstance']),
    );
  });
});

describe('triage activities: pure helpers', () => {
  it('termCheck: ?-terms any of, plain terms all of, quoted phrases; structured patterns left to the server', () => {
    const anyOf = termCheck('?ERROR ?Error ?Exception')!;
    expect(anyOf('ERROR db down')).toBe(true);
    expect(anyOf('NullPointerException at x')).toBe(true);
    expect(anyOf('INFO all good')).toBe(false);
    const allOf = termCheck('ERROR orders')!;
    expect(allOf('ERROR in orders')).toBe(true);
    expect(allOf('ERROR in payments')).toBe(false);
    expect(termCheck('"connection refused"')!('ECONNREFUSED: connection refused')).toBe(true);
    expect(termCheck('{ $.level = "error" }')).toBeUndefined();
    expect(termCheck('[ip, user, status=5*]')).toBeUndefined();
    expect(termCheck('%ERR[0-9]+%')).toBeUndefined();
    expect(termCheck('')).toBeUndefined();
  });

  it('belongsToService: group service:<name> or startedBy one of its deployments (as AWS starts them)', () => {
    expect(belongsToService({ group: 'service:api' }, 'api', [])).toBe(true);
    expect(belongsToService({ group: 'family:api', startedBy: 'ecs-svc/1' }, 'api', ['ecs-svc/1'])).toBe(true);
    expect(belongsToService({ group: 'service:web', startedBy: 'ecs-svc/9' }, 'api', ['ecs-svc/1'])).toBe(false);
    expect(belongsToService({ group: 'family:api' }, 'api', ['ecs-svc/1'])).toBe(false);
    expect(belongsToService({}, 'api', [])).toBe(true);
  });
});
