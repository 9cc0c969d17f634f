// ecsDeploy's pure parts: the revision change (images, CPU/memory, environment), the AppSpec, how a CodeDeploy
// deployment's end and lifecycle phase are told, and the input's rules.
import { describe, expect, it } from 'vitest';
import { describeCodeDeployEnd, ecsAppSpec, lifecyclePhase } from '../../activities/codedeploy';
import { applyRevisionChange } from '../../activities/ecs';
import { describeZodError } from '../../api/common';
import { ecsDeployInput } from '../../api/runbooks/ecs-deploy';

const td = {
  family: 'api',
  cpu: '256',
  memory: '512',
  containerDefinitions: [
    { name: 'app', image: 'repo/app:1', environment: [{ name: 'A', value: '1' }] },
    { name: 'sidecar', image: 'repo/proxy:1' },
  ],
};

describe('applyRevisionChange', () => {
  it('changes only the named container’s image and keeps everything else', () => {
    const out = applyRevisionChange(td, { images: { sidecar: 'repo/proxy:2' } }, 'api:1');
    expect(out.containerDefinitions).toEqual([td.containerDefinitions[0], { name: 'sidecar', image: 'repo/proxy:2' }]);
    expect(out.cpu).toBe('256');
  });

  it('"the only container" is refused when there are several, naming them', () => {
    expect(() => applyRevisionChange(td, { images: { '': 'repo/app:2' } }, 'arn:…:task-definition/api:1')).toThrow(
      /api:1 has 2 containers \(app, sidecar\): say which one gets the image/,
    );
    const single = { ...td, containerDefinitions: [td.containerDefinitions[0]!] };
    expect(
      applyRevisionChange(single, { images: { '': 'repo/app:2' } }, 'api:1').containerDefinitions?.[0]?.image,
    ).toBe('repo/app:2');
  });

  it('an unknown container is refused, naming the ones there are', () => {
    expect(() => applyRevisionChange(td, { images: { web: 'x:1' } }, 'api:1')).toThrow(
      'no container web in api:1 (containers: app, sidecar)',
    );
  });

  it('sets CPU/memory as strings and environment variables where defined (else in every container)', () => {
    const out = applyRevisionChange(td, { cpu: 512, memory: 1024, environment: { A: '2', B: 'x' } }, 'api:1');
    expect(out.cpu).toBe('512');
    expect(out.memory).toBe('1024');
    expect(out.containerDefinitions?.[0]?.environment).toEqual([
      { name: 'A', value: '2' },
      { name: 'B', value: 'x' },
    ]);
    expect(out.containerDefinitions?.[1]?.environment).toEqual([{ name: 'B', value: 'x' }]);
  });
});

describe('CodeDeploy', () => {
  it('the AppSpec names the revision and, when known, the load balancer’s container and port', () => {
    const spec = JSON.parse(
      ecsAppSpec({ taskDefinition: 'arn:td/api:3', containerName: 'app', containerPort: 80 }),
    ) as {
      Resources: { TargetService: { Type: string; Properties: Record<string, unknown> } }[];
    };
    expect(spec.Resources[0]!.TargetService).toEqual({
      Type: 'AWS::ECS::Service',
      Properties: { TaskDefinition: 'arn:td/api:3', LoadBalancerInfo: { ContainerName: 'app', ContainerPort: 80 } },
    });
    expect(JSON.parse(ecsAppSpec({ taskDefinition: 'x:1' })).Resources[0].TargetService.Properties).toEqual({
      TaskDefinition: 'x:1',
    });
  });

  it('a failed deployment is told with AWS’s error and CodeDeploy’s rollback', () => {
    expect(
      describeCodeDeployEnd({
        deploymentId: 'd-1',
        status: 'Failed',
        error: { code: 'HOOK_EXECUTION_FAILURE', message: 'hook failed' },
        rollback: { deploymentId: 'd-2', message: 'rolled back' },
      }),
    ).toBe(
      'CodeDeploy deployment d-1 Failed (HOOK_EXECUTION_FAILURE: hook failed); CodeDeploy rolled it back (rollback deployment d-2: rolled back)',
    );
    expect(describeCodeDeployEnd({ deploymentId: 'd-3', status: 'Stopped' })).toBe('CodeDeploy deployment d-3 Stopped');
  });

  it('the lifecycle phase is the event in progress (or failed), else the last one that succeeded', () => {
    expect(
      lifecyclePhase([
        { lifecycleEventName: 'Install', status: 'Succeeded' },
        { lifecycleEventName: 'AllowTestTraffic', status: 'InProgress' },
        { lifecycleEventName: 'AllowTraffic', status: 'Pending' },
      ]),
    ).toBe('AllowTestTraffic InProgress');
    expect(
      lifecyclePhase([
        { lifecycleEventName: 'Install', status: 'Succeeded' },
        { lifecycleEventName: 'AllowTraffic', status: 'Pending' },
      ]),
    ).toBe('Install Succeeded');
    expect(lifecyclePhase([])).toBeUndefined();
  });
});

describe('ecsDeploy input', () => {
  const ref = { region: 'us-east-1', cluster: 'c', service: 's' };
  const issues = (input: unknown) => {
    const r = ecsDeployInput.safeParse(input);
    return r.success ? '' : describeZodError(r.error);
  };

  it('takes an image, images per container or a revision — and names the field otherwise', () => {
    expect(issues({ ...ref, version: { image: 'repo/app:2' } })).toBe('');
    expect(issues({ ...ref, version: { images: { app: 'repo/app:2' } } })).toBe('');
    expect(issues({ ...ref, version: { taskDefinition: 'api:3' } })).toBe('');
    expect(issues({ ...ref })).toContain('input.version');
    expect(issues({ ...ref, version: { images: {} } })).toContain('input.version');
    expect(issues({ ...ref, version: { taskDefinition: 'api' } })).toContain('input.version');
  });

  it('allowOtherFamily only with a named revision; percentages bounded', () => {
    expect(issues({ ...ref, version: { image: 'a:1' }, allowOtherFamily: { reason: 'x' } })).toContain(
      'input.allowOtherFamily: only applies with version.taskDefinition',
    );
    expect(
      issues({ ...ref, version: { image: 'a:1' }, deploymentConfiguration: { minimumHealthyPercent: 150 } }),
    ).toContain('input.deploymentConfiguration.minimumHealthyPercent');
    const parsed = ecsDeployInput.parse({ ...ref, version: { image: 'a:1' }, deploymentConfiguration: {} });
    expect(parsed.deploymentConfiguration).toEqual({
      maximumPercent: 200,
      minimumHealthyPercent: 50,
      circuitBreaker: true,
    });
  });

  it('gates: the shared gate set (burn rates, HTTP checks) and a bounded watch', () => {
    const version = { image: 'a:1' };
    const burn = {
      name: 'slo',
      slo: 99.9,
      errors: { namespace: 'N', metricName: 'Errors' },
      requests: { namespace: 'N', metricName: 'Requests' },
    };
    const http = { name: 'score', url: 'http://app/health.json', json: [{ path: '$.score', op: '>', value: 80 }] };
    expect(issues({ ...ref, version, gates: { burnRates: [burn], httpChecks: [http], watch: '5m' } })).toBe('');
    expect(issues({ ...ref, version, gates: { alarms: ['x'], watch: '6h', checkInterval: '1s' } })).toBe(
      'input.gates.checkInterval: checking every 1s for 6h is more than 360 checks; check less often',
    );
  });
});
