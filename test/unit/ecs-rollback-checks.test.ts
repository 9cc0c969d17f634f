// ecsRollback's checks before it changes anything (api/runbooks/ecs-rollback.ts): seed 004's "only a recent
// deployment" and "not while ECS is still deploying", on described services as AWS and the emulator show them.
import { describe, expect, it } from 'vitest';
import {
  deployedTooLongAgoRefusal,
  deploymentInProgress,
  type EcsDeploymentView,
  type EcsServiceView,
} from '../../api/runbooks/ecs-rollback';

const td = (n: number) => `arn:aws:ecs:us-east-1:123456789012:task-definition/api:${n}`;
const ref = { region: 'us-east-1', cluster: 'prod', service: 'api' };
const now = Date.parse('2026-12-01T12:00:00Z');
const dep = (over: Partial<EcsDeploymentView>): EcsDeploymentView => ({
  id: 'ecs-svc/1',
  status: 'PRIMARY',
  taskDefinition: td(2),
  desiredCount: 2,
  runningCount: 2,
  rolloutState: 'COMPLETED',
  createdAt: '2026-12-01T11:00:00.000Z',
  ...over,
});
const svc = (deployments: EcsDeploymentView[], over: Partial<EcsServiceView> = {}): EcsServiceView => ({
  taskDefinition: td(2),
  desiredCount: 2,
  runningCount: 2,
  deploymentController: 'ECS',
  deployments,
  ...over,
});

describe('deploymentInProgress', () => {
  it('a settled service has none', () => {
    expect(deploymentInProgress(svc([dep({})]))).toBeUndefined();
  });

  it('a rollout half done: the PRIMARY IN_PROGRESS beside the ACTIVE one draining', () => {
    const primary = dep({ rolloutState: 'IN_PROGRESS', runningCount: 1 });
    const old = dep({ id: 'ecs-svc/0', status: 'ACTIVE', taskDefinition: td(1), runningCount: 1 });
    expect(deploymentInProgress(svc([primary, old]))).toBe(primary);
  });

  it('one deployment IN_PROGRESS whose counts are the service’s (new tasks still starting)', () => {
    const only = dep({ rolloutState: 'IN_PROGRESS', runningCount: 1 });
    expect(deploymentInProgress(svc([only], { runningCount: 1 }))).toBe(only);
  });

  it('the emulator’s record that lags (IN_PROGRESS, 0 tasks, while the service runs them all) is not one', () => {
    expect(deploymentInProgress(svc([dep({ rolloutState: 'IN_PROGRESS', runningCount: 0 })]))).toBeUndefined();
  });

  it('two deployments without rolloutState, the PRIMARY not COMPLETED; a FAILED PRIMARY is not in progress', () => {
    const primary = dep({ rolloutState: undefined });
    const old = dep({ id: 'ecs-svc/0', status: 'ACTIVE', taskDefinition: td(1), rolloutState: undefined });
    expect(deploymentInProgress(svc([primary, old]))).toBe(primary);
    const failed = dep({ rolloutState: 'FAILED', runningCount: 0 });
    expect(deploymentInProgress(svc([failed, { ...old, rolloutState: 'COMPLETED' }]))).toBeUndefined();
  });

  it('CODE_DEPLOY and EXTERNAL services are not read here', () => {
    const only = dep({ rolloutState: 'IN_PROGRESS' });
    expect(deploymentInProgress(svc([only], { deploymentController: 'CODE_DEPLOY' }))).toBeUndefined();
  });
});

describe('deployedTooLongAgoRefusal (onlyIfDeployedWithin)', () => {
  const within = { text: '2h', ms: 2 * 3_600_000 };

  it('within the window: no refusal', () => {
    expect(deployedTooLongAgoRefusal({ ref, s: svc([dep({})]), within, now })).toBeUndefined();
  });

  it('older: refused, naming the revision, its age and when it was deployed', () => {
    const s = svc([dep({ createdAt: '2026-12-01T08:47:30.000Z' })]);
    expect(deployedTooLongAgoRefusal({ ref, s, within, now })).toBe(
      'refusing to roll back: api has run api:2 for 3h12m30s (deployed 2026-12-01T08:47:30.000Z), longer than ' +
        'onlyIfDeployedWithin (2h): the problem is probably not the last deployment (seed 004). Look for another ' +
        'cause first (logs, database, dependencies, load); if the last deployment is still the likely cause, drop ' +
        'onlyIfDeployedWithin from the input to roll back anyway',
    );
  });

  it('no createdAt, or no PRIMARY: refused, the deployment time unknown', () => {
    const noTime = deployedTooLongAgoRefusal({ ref, s: svc([dep({ createdAt: undefined })]), within, now });
    expect(noTime).toContain('when api began to run api:2 is unknown (ECS shows its PRIMARY deployment ecs-svc/1');
    expect(noTime).toContain('--region us-east-1 --cluster prod --services api');
    expect(deployedTooLongAgoRefusal({ ref, s: svc([]), within, now })).toContain('no PRIMARY deployment');
  });
});
