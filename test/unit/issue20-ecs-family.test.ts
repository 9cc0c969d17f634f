// The pure rules behind two refusals: a task-definition revision of another family than the service runs (ecsRollback
// toRevision, blueGreenDeploy version.taskDefinition) and one target group / record set for both colours.
import { describe, expect, it } from 'vitest';
import { describeZodError } from '../../api/common';
import { blueGreenInput, type BlueGreenInput } from '../../api/runbooks/blue-green';
import { ecsRollbackInput, familyOf, otherFamilyRefusal } from '../../api/runbooks/ecs-rollback';

const arn = (familyRevision: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${familyRevision}`;

describe('familyOf', () => {
  it('reads the family from an ARN or family:revision, hyphens and underscores included', () => {
    expect(familyOf(arn('demo-web:12'))).toBe('demo-web');
    expect(familyOf('demo_api-v2:3')).toBe('demo_api-v2');
  });
});

describe('otherFamilyRefusal', () => {
  it('nothing to refuse within one family', () => {
    expect(
      otherFamilyRefusal({
        field: 'toRevision',
        given: { arn: arn('demo-api:1'), family: 'demo-api' },
        service: 'demo-api',
        runs: arn('demo-api:2'),
      }),
    ).toBeUndefined();
  });

  it('names both families, the field, the service and how to override', () => {
    const message = otherFamilyRefusal({
      field: 'toRevision',
      given: { arn: arn('demo-web:1'), family: 'demo-web' },
      service: 'demo-api',
      runs: arn('demo-api:2'),
    });
    expect(message).toBe(
      'toRevision demo-web:1 is a revision of demo-web, not of demo-api (demo-api runs demo-api:2): another family ' +
        "is usually another application, and its containers would replace demo-api's. Check toRevision; to use it " +
        'on purpose, add "allowOtherFamily": {"reason": "<why>"} to the input',
    );
  });
});

const refusal = (schema: typeof ecsRollbackInput | typeof blueGreenInput, input: unknown) => {
  const r = schema.safeParse(input);
  return r.success ? undefined : describeZodError(r.error);
};

describe('ecsRollback input: allowOtherFamily', () => {
  const base = { region: 'us-east-1', cluster: 'demo-east', service: 'demo-api' };

  it('takes a reason, with toRevision', () => {
    expect(refusal(ecsRollbackInput, { ...base, toRevision: 'demo-web:1', allowOtherFamily: { reason: 'x' } })).toBe(
      undefined,
    );
  });

  it('refuses an empty reason, and the override without toRevision', () => {
    expect(refusal(ecsRollbackInput, { ...base, toRevision: 'demo-web:1', allowOtherFamily: { reason: ' ' } })).toBe(
      'input.allowOtherFamily.reason: expected why a revision of another family is right here',
    );
    expect(refusal(ecsRollbackInput, { ...base, allowOtherFamily: { reason: 'x' } })).toContain(
      'input.allowOtherFamily: only applies with toRevision',
    );
  });
});

describe('blueGreenDeploy input', () => {
  const base: BlueGreenInput = {
    region: 'us-east-1',
    cluster: 'demo-east',
    blueService: 'demo-web-blue',
    greenService: 'demo-web-green',
    version: { taskDefinition: 'demo-api:1' },
    router: {
      kind: 'alb-weighted',
      loadBalancer: 'demo-alb',
      blueTargetGroup: 'demo-web-blue',
      greenTargetGroup: 'demo-web-green',
    },
    approval: { required: false },
  };

  it('allowOtherFamily only with version.taskDefinition', () => {
    expect(refusal(blueGreenInput, { ...base, allowOtherFamily: { reason: 'merged' } })).toBeUndefined();
    expect(
      refusal(blueGreenInput, { ...base, version: { image: 'web:2' }, allowOtherFamily: { reason: 'merged' } }),
    ).toContain('input.allowOtherFamily: only applies with version.taskDefinition');
  });

  it('one target group, or one set identifier, for both colours is refused as such', () => {
    expect(refusal(blueGreenInput, { ...base, router: { ...base.router, greenTargetGroup: 'demo-web-blue' } })).toBe(
      'input.router.greenTargetGroup: blue and green are the same target group demo-web-blue; expected green’s own',
    );
    expect(
      refusal(blueGreenInput, {
        ...base,
        router: {
          kind: 'route53-weighted',
          hostedZone: 'demo.example',
          record: { name: 'web.demo.example', type: 'CNAME' },
          blueSetIdentifier: 'blue',
          greenSetIdentifier: 'blue',
        },
      }),
    ).toBe(
      'input.router.greenSetIdentifier: blue and green are the same record set (set identifier "blue"); expected ' +
        'green’s own',
    );
  });
});
