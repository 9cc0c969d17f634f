// What AWS says, decided without AWS: which RDS statuses end a wait (and what it says), when an ECS service is
// stable, failed or crash-looping (from a ServiceState and its stopped tasks), which controllers a runbook refuses,
// which answers a poll rides out, and that the workflows do not retry the new failures.
import { describe, expect, it } from 'vitest';
import { isTransientAwsError, pollUntil } from '../../activities/poll';
import { DB_NOT_FOUND_GRACE_MS, TERMINAL_DB_STATES, dbWaitVerdict, type DbState } from '../../activities/rds';
import { isStable, serviceVerdict, stopReason, type ServiceState, type StoppedTask } from '../../activities/ecs';
import { deploymentControllerRefusal } from '../../api/runbooks/ecs';
import { NON_RETRYABLE_ERRORS } from '../../workflows/lib/proxies';

const ref = { region: 'us-east-1', dbInstance: 'demo-db-restored-20250101120000' };
const db = (status: string, over: Partial<DbState> = {}): DbState => ({
  id: ref.dbInstance,
  arn: `arn:aws:rds:us-east-1:123456789012:db:${ref.dbInstance}`,
  region: ref.region,
  status,
  engine: 'postgres',
  instanceClass: 'db.t3.micro',
  replicas: [],
  backupRetentionDays: 7,
  securityGroupIds: [],
  ...over,
});
const available = (d: DbState) => d.status === 'available';

describe('dbWaitVerdict: RDS statuses', () => {
  it('ends the wait at every terminal status, naming the instance, its region, the status and what it means', () => {
    for (const status of [
      'failed',
      'incompatible-restore',
      'incompatible-parameters',
      'incompatible-network',
      'incompatible-option-group',
      'storage-full',
      'inaccessible-encryption-credentials',
      'deleting',
    ]) {
      const v = dbWaitVerdict(db(status), available, { ref, label: 'restored instance', elapsedMs: 5_000 });
      expect(v.state, status).toBe('failed');
      expect(v.state === 'failed' && v.message).toContain(
        `restored instance ${ref.dbInstance} in us-east-1 is ${status}: ${TERMINAL_DB_STATES[status]}`,
      );
      expect(v.state === 'failed' && v.message).toContain(
        `aws rds describe-events --region us-east-1 --source-type db-instance --source-identifier ${ref.dbInstance}`,
      );
    }
    const v = dbWaitVerdict(db('incompatible-restore'), available, { ref, label: 'restored instance', elapsedMs: 0 });
    expect(v).toMatchObject({
      message: expect.stringMatching(
        /^restored instance \S+ in us-east-1 is incompatible-restore: AWS could not restore it\./,
      ),
    });
  });

  it("quotes AWS's StatusInfos when there are any", () => {
    const v = dbWaitVerdict(
      db('failed', {
        statusInfos: [{ type: 'read replication', status: 'error', normal: false, message: 'Replication has stopped' }],
      }),
      available,
      { ref, elapsedMs: 0 },
    );
    expect(v).toMatchObject({
      state: 'failed',
      message: expect.stringContaining(
        `RDS instance ${ref.dbInstance} in us-east-1 is failed: RDS could not create it or keep it running ` +
          `(read replication error: Replication has stopped)`,
      ),
    });
  });

  it('keeps waiting through the phases AWS goes through, and is done when the condition holds', () => {
    for (const status of ['creating', 'backing-up', 'modifying', 'renaming', 'rebooting', 'starting', 'upgrading']) {
      expect(dbWaitVerdict(db(status), available, { ref, elapsedMs: 0 }), status).toEqual({ state: 'waiting' });
    }
    expect(dbWaitVerdict(db('available'), available, { ref, elapsedMs: 0 })).toEqual({ state: 'done' });
    // available but still a replica: a promotion is not done yet
    const standalone = (d: DbState) => d.status === 'available' && !d.replicaSource;
    expect(dbWaitVerdict(db('available', { replicaSource: 'demo-db' }), standalone, { ref, elapsedMs: 0 })).toEqual({
      state: 'waiting',
    });
  });

  it('takes "not found" for "not visible yet" during the grace, then fails as before (ResourceNotFound)', () => {
    expect(dbWaitVerdict(undefined, available, { ref, elapsedMs: 0 })).toEqual({ state: 'waiting' });
    expect(dbWaitVerdict(undefined, available, { ref, elapsedMs: DB_NOT_FOUND_GRACE_MS - 1 })).toEqual({
      state: 'waiting',
    });
    expect(dbWaitVerdict(undefined, available, { ref, elapsedMs: DB_NOT_FOUND_GRACE_MS })).toEqual({
      state: 'not-found',
      message: `RDS instance ${ref.dbInstance} not found in us-east-1 (still not found 60s after the wait began)`,
    });
    expect(dbWaitVerdict(undefined, available, { ref, elapsedMs: 10, graceMs: 5 })).toMatchObject({
      state: 'not-found',
    });
  });

  it('fails at once when an instance the wait has seen is gone', () => {
    expect(
      dbWaitVerdict(undefined, available, { ref, label: 'new replica', elapsedMs: 0, lastSeen: 'creating' }),
    ).toEqual({
      state: 'failed',
      message: expect.stringMatching(
        new RegExp(
          `^new replica ${ref.dbInstance} in us-east-1 is gone: RDS no longer finds it \\(it was creating when last seen\\)`,
        ),
      ),
    });
  });
});

const td = (rev: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/api:${rev}`;
const deployment = (over: Partial<ServiceState['deployments'][number]> = {}): ServiceState['deployments'][number] => ({
  id: 'ecs-svc/7',
  status: 'PRIMARY',
  taskDefinition: td(7),
  desiredCount: 3,
  runningCount: 3,
  rolloutState: 'COMPLETED',
  rolloutStateReason: 'ECS deployment ecs-svc/7 completed.',
  ...over,
});
const service = (over: Partial<ServiceState> = {}): ServiceState => ({
  serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/prod/api',
  serviceName: 'api',
  clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
  status: 'ACTIVE',
  desiredCount: 3,
  runningCount: 3,
  pendingCount: 0,
  taskDefinition: td(7),
  deploymentController: 'ECS',
  deployments: [deployment()],
  ...over,
});
const now = Date.parse('2025-06-01T12:00:00Z');
const stopped = (i: number, over: Partial<StoppedTask> = {}): StoppedTask => ({
  arn: `arn:aws:ecs:us-east-1:123456789012:task/prod/t${i}`,
  taskDefinition: td(7),
  stoppedAt: new Date(now + i * 1_000).toISOString(),
  stopCode: 'TaskFailedToStart',
  stoppedReason: `CannotPullContainerError: pull image manifest has been retried 5 time(s): ref ${i} not found`,
  containers: [{ name: 'app', reason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)' }],
  ...over,
});

describe('serviceVerdict: ECS deployments', () => {
  it('is stable with one COMPLETED deployment and running == desired', () => {
    expect(serviceVerdict(service(), { desiredCount: 3, taskDefinition: td(7) })).toEqual({ state: 'stable' });
  });

  it('is not stable while the one deployment is IN_PROGRESS, even with every task running', () => {
    const s = service({ deployments: [deployment({ rolloutState: 'IN_PROGRESS' })] });
    expect(serviceVerdict(s, { taskDefinition: td(7) })).toEqual({
      state: 'waiting',
      why: 'deployment ecs-svc/7 is IN_PROGRESS',
    });
    expect(isStable(s)).toBe(false);
  });

  it('leaves the decision to the service counts when the deployment record lags them (no rolloutState speaks for them)', () => {
    // The emulator's deployment, never updated after CreateService: 0 of 2 running while the service runs 3 of 3.
    const s = service({ deployments: [deployment({ rolloutState: 'IN_PROGRESS', desiredCount: 2, runningCount: 0 })] });
    expect(isStable(s, { desiredCount: 3 })).toBe(true);
  });

  it('fails when the PRIMARY deployment is FAILED, quoting rolloutStateReason', () => {
    const s = service({
      runningCount: 0,
      deployments: [
        deployment({
          rolloutState: 'FAILED',
          runningCount: 0,
          rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
        }),
      ],
    });
    expect(serviceVerdict(s, { desiredCount: 3 })).toEqual({
      state: 'failed',
      reason: 'deployment ecs-svc/7 of api:7 FAILED: "ECS deployment circuit breaker: tasks failed to start."',
    });
  });

  it('fails on a circuit-breaker rollback: back on another task definition, with our deployment FAILED', () => {
    const rolledBack = service({
      taskDefinition: td(6),
      runningCount: 1,
      deployments: [
        deployment({
          id: 'ecs-svc/8',
          taskDefinition: td(6),
          rolloutState: 'IN_PROGRESS',
          runningCount: 1,
          rolloutStateReason: 'ECS deployment circuit breaker: rolling back to deployment ecs-svc/6.',
        }),
        deployment({
          status: 'ACTIVE',
          runningCount: 0,
          rolloutState: 'FAILED',
          rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
        }),
      ],
    });
    expect(serviceVerdict(rolledBack, { taskDefinition: td(7) })).toEqual({
      state: 'failed',
      reason:
        'the deployment of api:7 FAILED ("ECS deployment circuit breaker: tasks failed to start.") and ECS rolled ' +
        'the service back to api:6',
    });
    // Once the failed deployment is gone from the list, the service is simply not on our revision: still not stable.
    const after = service({ taskDefinition: td(6), deployments: [deployment({ taskDefinition: td(6) })] });
    expect(serviceVerdict(after, { taskDefinition: td(7) })).toMatchObject({ state: 'waiting' });
  });

  it('fails when tasks of the new task definition keep stopping, quoting the newest reasons', () => {
    const rolling = service({
      runningCount: 3,
      deployments: [
        deployment({ rolloutState: 'IN_PROGRESS', runningCount: 0, desiredCount: 3 }),
        deployment({ id: 'ecs-svc/6', status: 'ACTIVE', taskDefinition: td(6) }),
      ],
    });
    const since = now;
    const three = [stopped(1), stopped(2), stopped(3)];
    const v = serviceVerdict(rolling, { taskDefinition: td(7) }, three, { since });
    expect(v).toEqual({
      state: 'failed',
      reason:
        '3 tasks of api:7 stopped since the wait began (they keep failing); newest: ' +
        'CannotPullContainerError: pull image manifest has been retried 5 time(s): ref 3 not found | ' +
        'CannotPullContainerError: pull image manifest has been retried 5 time(s): ref 2 not found',
    });
    // Two are not a loop yet; nor are tasks of another revision, tasks stopped before the wait, or deliberate stops.
    expect(serviceVerdict(rolling, { taskDefinition: td(7) }, three.slice(0, 2), { since }).state).toBe('waiting');
    const notOurs = [
      stopped(1, { taskDefinition: td(6) }),
      stopped(2, { stoppedAt: new Date(since - 1_000).toISOString() }),
      stopped(3, {
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/7)',
      }),
      stopped(4, { stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user' }),
      stopped(5, { stopCode: 'SpotInterruption', stoppedReason: 'Your Spot Task was interrupted.' }),
    ];
    expect(serviceVerdict(rolling, { taskDefinition: td(7) }, notOurs, { since }).state).toBe('waiting');
    // A wait for a scale-down to zero does not read stopped tasks as crashes.
    expect(
      serviceVerdict(service({ desiredCount: 0, runningCount: 2 }), { desiredCount: 0 }, three, { since }).state,
    ).toBe('waiting');
  });

  it("says why a task stopped: the task's reason and the containers' reasons it does not contain", () => {
    expect(stopReason(stopped(1))).toBe(
      'CannotPullContainerError: pull image manifest has been retried 5 time(s): ref 1 not found',
    );
    expect(
      stopReason({
        arn: 'x',
        taskDefinition: td(7),
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [
          { name: 'app', exitCode: 1 },
          { name: 'sidecar', exitCode: 0 },
        ],
      }),
    ).toBe('Essential container in task exited (app: exit code 1)');
  });

  it('CODE_DEPLOY and EXTERNAL services have no deployments: stable with running == desired and a steady task set', () => {
    const cd = service({ deploymentController: 'CODE_DEPLOY', deployments: [] });
    expect(serviceVerdict(cd, { desiredCount: 3 })).toEqual({ state: 'stable' });
    const set = { id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: td(7), runningCount: 3, computedDesiredCount: 3 };
    expect(isStable({ ...cd, taskSets: [{ ...set, stabilityStatus: 'STABILIZING' }] })).toBe(false);
    expect(isStable({ ...cd, taskSets: [{ ...set, stabilityStatus: 'STEADY_STATE' }] })).toBe(true);
    expect(isStable({ ...cd, taskSets: [set, { ...set, id: 'ecs-svc/2', status: 'ACTIVE' }] })).toBe(false);
    // An ECS-controlled service with no deployment is not stable (as before).
    expect(isStable(service({ deployments: [] }))).toBe(false);
  });
});

describe('deploymentControllerRefusal', () => {
  const svc = { region: 'us-east-1', cluster: 'prod', service: 'api' };
  it('refuses CODE_DEPLOY and EXTERNAL services, naming the service, the controller and what to do', () => {
    expect(
      deploymentControllerRefusal({
        label: 'service',
        ref: svc,
        deploymentController: 'CODE_DEPLOY',
        action: 'roll it back',
      }),
    ).toBe(
      'service api (us-east-1/prod/api) uses the CODE_DEPLOY deployment controller, and AWS refuses a task-definition ' +
        'change or a forced deployment through UpdateService for such a service: this runbook would roll it back. To ' +
        'change it, deploy it through CodeDeploy (aws deploy create-deployment --application-name … ' +
        '--deployment-group-name …), or run this runbook on an ECS-controlled service',
    );
    expect(
      deploymentControllerRefusal({
        label: 'service',
        ref: svc,
        deploymentController: 'EXTERNAL',
        action: 'roll it back',
      }),
    ).toContain('uses the EXTERNAL deployment controller');
    expect(
      deploymentControllerRefusal({ label: 'service', ref: svc, deploymentController: 'EXTERNAL', action: 'x' }),
    ).toContain('deploy it through its task sets (aws ecs create-task-set --cluster prod --service api …)');
  });

  it('lets ECS-controlled services through, and states recorded before the controller was', () => {
    expect(
      deploymentControllerRefusal({ label: 's', ref: svc, deploymentController: 'ECS', action: 'x' }),
    ).toBeUndefined();
    expect(deploymentControllerRefusal({ label: 's', ref: svc, action: 'x' })).toBeUndefined();
  });
});

describe('polls ride out throttling and 5xx', () => {
  const awsError = (name: string, status: number) =>
    Object.assign(new Error(`${name}: slow down`), { name, $metadata: { httpStatusCode: status } });

  it('tells transient answers from the rest', () => {
    for (const name of ['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']) {
      expect(isTransientAwsError(awsError(name, 400)), name).toBe(true);
    }
    expect(isTransientAwsError(awsError('ServiceUnavailable', 503))).toBe(true);
    expect(isTransientAwsError(awsError('InternalFailure', 500))).toBe(true);
    expect(isTransientAwsError(awsError('AccessDenied', 403))).toBe(false);
    expect(isTransientAwsError(awsError('DBInstanceNotFoundFault', 404))).toBe(false);
    expect(isTransientAwsError(Object.assign(new Error('x'), { name: 'DbInstanceFailed' }))).toBe(false);
  });

  it('keeps polling after throttled probes and counts them', async () => {
    const answers: (Error | string)[] = [awsError('Throttling', 400), awsError('ServiceUnavailable', 503), 'INSYNC'];
    const result = await pollUntil(
      async () => {
        const next = answers.shift()!;
        if (next instanceof Error) throw next;
        return { done: next === 'INSYNC', value: next };
      },
      { deadline: Date.now() + 5_000, initialDelayMs: 5, maxDelayMs: 10 },
    );
    expect(result).toEqual({ done: true, value: 'INSYNC', attempts: 3, transientErrors: 2, phases: '' });
  });

  it('ends at once on any other error (a terminal state, a refused call)', async () => {
    let probes = 0;
    await expect(
      pollUntil(
        async () => {
          probes++;
          throw awsError('AccessDenied', 403);
        },
        { deadline: Date.now() + 5_000, initialDelayMs: 5 },
      ),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(probes).toBe(1);
  });

  it('throws the last transient error when no probe ever answered before the deadline', async () => {
    await expect(
      pollUntil(
        async () => {
          throw awsError('ThrottlingException', 400);
        },
        { deadline: Date.now() + 50, initialDelayMs: 5, maxDelayMs: 10 },
      ),
    ).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('workflows do not retry the new wait failures', () => {
  it('lists DbInstanceFailed, ServiceDeploymentFailed and ChangeStillPending as non-retryable', () => {
    expect(NON_RETRYABLE_ERRORS).toEqual(
      expect.arrayContaining(['DbInstanceFailed', 'ServiceDeploymentFailed', 'ChangeStillPending']),
    );
  });
});
