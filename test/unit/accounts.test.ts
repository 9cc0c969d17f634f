// Acting in other AWS accounts, without AWS: which account and role an input's `account` means, the session name
// that carries the workflow ID, the partition of a region (Route 53 signed in GovCloud's and China's own region),
// the cache of assumed-role credentials (renewed 5 minutes before expiry, one session per run), the header the
// workflow interceptor adds and the context the activity interceptor opens from it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListClustersCommand } from '@aws-sdk/client-ecs';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_HEADER } from '../../api/accounts';
import { currentAccount, accountInterceptors, runInAccount } from '../../activities/account-context';
import {
  CredentialCache,
  REFRESH_BEFORE_MS,
  accountsConfig,
  globalRegion,
  partitionOf,
  resolveAccount,
  roleArn,
  sessionName,
  workerPartition,
  type AccountsConfig,
  type AssumeRole,
  type TargetAccount,
} from '../../activities/accounts';
import { createAwsClients } from '../../activities/aws-clients';
import { parsePolicy } from '../../worker/policy-file';
import { interceptors as workflowInterceptors } from '../../workflows/interceptors/account';

const PROD = '111122223333';
const STAGING = '444455556666';
const config: AccountsConfig = {
  named: {
    prod: { id: PROD, roleArn: `arn:aws:iam::${PROD}:role/ops/runbooks-prod`, externalId: 'prod-ext' },
    staging: { id: STAGING },
  },
  roleName: 'runbooks-target',
  externalId: 'default-ext',
};

describe('partitions', () => {
  it('maps regions to partitions and the region their global services sign in', () => {
    const cases: [string, string, string][] = [
      ['us-east-1', 'aws', 'us-east-1'],
      ['eu-west-2', 'aws', 'us-east-1'],
      ['ap-southeast-4', 'aws', 'us-east-1'],
      ['us-gov-west-1', 'aws-us-gov', 'us-gov-west-1'],
      ['us-gov-east-1', 'aws-us-gov', 'us-gov-west-1'],
      ['cn-north-1', 'aws-cn', 'cn-northwest-1'],
      ['cn-northwest-1', 'aws-cn', 'cn-northwest-1'],
      ['us-iso-east-1', 'aws-iso', 'us-iso-east-1'],
      ['us-isob-east-1', 'aws-iso-b', 'us-isob-east-1'],
    ];
    for (const [region, partition, global] of cases) {
      expect([region, partitionOf(region)]).toEqual([region, partition]);
      expect([region, globalRegion(partitionOf(region))]).toEqual([region, global]);
    }
  });

  it("takes the worker's partition from AWS_REGION (else AWS_DEFAULT_REGION), commercial when neither is set", () => {
    expect(workerPartition({ AWS_REGION: 'us-gov-east-1' })).toBe('aws-us-gov');
    expect(workerPartition({ AWS_DEFAULT_REGION: 'cn-north-1' })).toBe('aws-cn');
    expect(workerPartition({})).toBe('aws');
  });

  it("signs Route 53 in the partition's own region, not us-east-1, in GovCloud and China", async () => {
    const aws = createAwsClients();
    try {
      expect(await aws.route53('us-gov-east-1').config.region()).toBe('us-gov-west-1');
      expect(await aws.route53('cn-north-1').config.region()).toBe('cn-northwest-1');
      expect(await aws.route53('eu-west-1').config.region()).toBe('us-east-1');
    } finally {
      aws.destroy();
    }
  });

  it("names the role in the target's partition", () => {
    const t = resolveAccount(STAGING, config);
    expect(roleArn(t, 'aws')).toBe(`arn:aws:iam::${STAGING}:role/runbooks-target`);
    expect(roleArn(t, 'aws-us-gov')).toBe(`arn:aws-us-gov:iam::${STAGING}:role/runbooks-target`);
    expect(roleArn(t, 'aws-cn')).toBe(`arn:aws-cn:iam::${STAGING}:role/runbooks-target`);
  });
});

describe('session names', () => {
  it('carry the workflow ID in the characters STS allows', () => {
    const name = sessionName('emergency-scale:us-east-1/demo-east/demo api');
    expect(name).toBe('emergency-scale.us-east-1.demo-east.demo.api');
    expect(name).toMatch(/^[\w+=,.@-]{2,64}$/);
  });

  it('keep a long ID within 64 characters, and two long IDs that differ only at the end apart', () => {
    const base = `backup-verification:${'x'.repeat(80)}`;
    const a = sessionName(`${base}/a`);
    const b = sessionName(`${base}/b`);
    expect(a.length).toBe(64);
    expect(b.length).toBe(64);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^backup-verification\.x+-[0-9a-f]{8}$/);
    expect(sessionName(`${base}/a`)).toBe(a); // stable: the same run gets the same session name
  });

  it('fall back to a fixed name without a workflow ID', () => {
    expect(sessionName(undefined)).toBe('runbooks');
    expect(sessionName('x')).toBe('runbooks');
  });
});

describe('resolving the input account', () => {
  it("takes a named account's role and external ID from the policy", () => {
    expect(resolveAccount('prod', config)).toEqual({
      ref: 'prod',
      id: PROD,
      role: { arn: `arn:aws:iam::${PROD}:role/ops/runbooks-prod` },
      externalId: 'prod-ext',
    });
    // An account ID the policy names is that account, with its role.
    expect(resolveAccount(PROD, config).role).toEqual({ arn: `arn:aws:iam::${PROD}:role/ops/runbooks-prod` });
    // Without its own role or external ID: RUNBOOKS_ACCOUNT_ROLE's name there, RUNBOOKS_ACCOUNT_EXTERNAL_ID.
    expect(resolveAccount('staging', config)).toEqual({
      ref: 'staging',
      id: STAGING,
      role: { name: 'runbooks-target' },
      externalId: 'default-ext',
    });
  });

  it('refuses an unknown name, naming input.account and the names the policy has', () => {
    const err = catchError(() => resolveAccount('prdo', config));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('InvalidInput');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect(err.message).toBe(
      'invalid input: input.account: no account named "prdo" in the organisation policy (its accounts: prod, ' +
        'staging); give a known name or a 12-digit account ID',
    );
  });

  it('refuses an account it has no role for, saying how to give it one', () => {
    const err = catchError(() => resolveAccount('777788889999', { named: {} }));
    expect(err.message).toContain('input.account: the worker has no role to assume in account 777788889999');
    expect(err.message).toContain('RUNBOOKS_ACCOUNT_ROLE');
  });

  it('checks the worker settings, naming the variable', () => {
    expect(() => accountsConfig({}, { RUNBOOKS_ACCOUNT_ROLE: 'arn:aws:iam::1:role/x' })).toThrow(
      /^RUNBOOKS_ACCOUNT_ROLE: expected an IAM role name/,
    );
    expect(() => accountsConfig({}, { RUNBOOKS_ACCOUNT_EXTERNAL_ID: 'a b' })).toThrow(/^RUNBOOKS_ACCOUNT_EXTERNAL_ID/);
    expect(accountsConfig(undefined, { RUNBOOKS_ACCOUNT_ROLE: ' ops/runbooks-target ' })).toEqual({
      named: {},
      roleName: 'ops/runbooks-target',
      externalId: undefined,
    });
  });

  it("reads the policy file's accounts, refusing a bad ID or a role of another account with the line", () => {
    const ok = parsePolicy(`accounts:\n  prod: { id: "${PROD}", externalId: abc-123 }\n`, 'p.yaml');
    expect(ok.accounts).toEqual({ prod: { id: PROD, externalId: 'abc-123' } });
    expect(() => parsePolicy('accounts:\n  prod: { id: "1234" }\n', 'p.yaml')).toThrow(
      /^p\.yaml:2:15: accounts\.prod\.id: expected a 12-digit AWS account ID/,
    );
    expect(() =>
      parsePolicy(`accounts:\n  prod:\n    id: "${PROD}"\n    roleArn: arn:aws:iam::${STAGING}:role/x\n`, 'p.yaml'),
    ).toThrow(`p.yaml:4:14: accounts.prod.roleArn: the role is in account ${STAGING}, not in this account (${PROD})`);
    expect(() => parsePolicy(`accounts:\n  "123prod": { id: "${PROD}" }\n`, 'p.yaml')).toThrow(
      /expected an account name/,
    );
  });
});

describe('the assumed-role credential cache', () => {
  const target: TargetAccount = { ref: 'prod', id: PROD, role: { name: 'runbooks-target' }, externalId: 'ext' };
  const arn = `arn:aws:iam::${PROD}:role/runbooks-target`;
  const HOUR = 3_600_000;

  function fakeSts(now: () => number) {
    const calls: Parameters<AssumeRole>[0][] = [];
    const assumeRole: AssumeRole = async (request) => {
      calls.push(request);
      return {
        accessKeyId: `ASIA${calls.length}`,
        secretAccessKey: 'secret',
        sessionToken: 'token',
        expiration: new Date(now() + HOUR),
      };
    };
    return { calls, assumeRole };
  }

  it('reuses a run’s credentials until 5 minutes before they expire, then assumes the role again', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const now = () => t;
    const sts = fakeSts(now);
    const cache = new CredentialCache(sts.assumeRole, now);
    const get = () => cache.get({ target, roleArn: arn, sessionName: 'run-1', region: 'eu-west-1' });

    expect((await get()).accessKeyId).toBe('ASIA1');
    t += HOUR - REFRESH_BEFORE_MS - 1000; // 5 min + 1 s before expiry: still good
    expect((await get()).accessKeyId).toBe('ASIA1');
    t += 2000; // within the last 5 minutes: renewed
    expect((await get()).accessKeyId).toBe('ASIA2');
    expect(sts.calls).toEqual([
      { region: 'eu-west-1', roleArn: arn, sessionName: 'run-1', externalId: 'ext' },
      { region: 'eu-west-1', roleArn: arn, sessionName: 'run-1', externalId: 'ext' },
    ]);
  });

  it('keeps one session per run, and shares one AssumeRole between calls that need it at once', async () => {
    const sts = fakeSts(Date.now);
    const cache = new CredentialCache(sts.assumeRole);
    const get = (sessionName: string) => cache.get({ target, roleArn: arn, sessionName, region: 'us-east-1' });
    const [a1, a2, b] = await Promise.all([get('run-a'), get('run-a'), get('run-b')]);
    expect(a1).toBe(a2);
    expect(b.accessKeyId).not.toBe(a1.accessKeyId);
    expect(sts.calls.map((c) => c.sessionName)).toEqual(['run-a', 'run-b']);
  });

  it('turns a refusal into a non-retryable error naming the account and the role; throttling stays retryable', async () => {
    const refuse =
      (name: string): AssumeRole =>
      async () => {
        throw Object.assign(new Error('User: arn:aws:sts::000000000000:assumed-role/worker/x is not authorized'), {
          name,
        });
      };
    const err = (await new CredentialCache(refuse('AccessDenied'))
      .get({ target, roleArn: arn, sessionName: 'run-1', region: 'us-east-1' })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('AccessDenied');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(
      new RegExp(`^cannot act in account prod \\(${PROD}\\): sts:AssumeRole on ${arn} was refused \\(AccessDenied: `),
    );
    const throttled = (await new CredentialCache(refuse('Throttling'))
      .get({ target, roleArn: arn, sessionName: 'run-1', region: 'us-east-1' })
      .catch((e: unknown) => e)) as Error;
    expect(throttled).not.toBeInstanceOf(ApplicationFailure);
    expect(throttled.name).toBe('Throttling');
  });
});

describe('AWS clients of another account', () => {
  // A stand-in ECS endpoint that records which access key signed each request.
  let server: Server;
  let endpoint: string;
  const signedBy: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      signedBy.push(/Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '?');
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end('{"clusterArns":[]}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sign each run's calls with its own session in the target account, and the worker's own without a target", async () => {
    const calls: Parameters<AssumeRole>[0][] = [];
    const aws = createAwsClients({
      endpoint,
      credentials: { accessKeyId: 'AKIAWORKER', secretAccessKey: 'x' },
      assumeRole: async (request) => {
        calls.push(request);
        return {
          accessKeyId: `ASIA-${request.sessionName}`,
          secretAccessKey: 'y',
          sessionToken: 'z',
          expiration: new Date(Date.now() + 3_600_000),
        };
      },
    });
    const list = () => aws.ecs('eu-west-1').send(new ListClustersCommand({}));
    const inRun = (workflowId: string) =>
      runInAccount({ target: resolveAccount('staging', config), sessionName: sessionName(workflowId) }, list);
    try {
      signedBy.length = 0;
      await list();
      await inRun('run-a');
      await inRun('run-b');
      await inRun('run-a');
      await list();
      expect(signedBy).toEqual(['AKIAWORKER', 'ASIA-run-a', 'ASIA-run-b', 'ASIA-run-a', 'AKIAWORKER']);
      expect(calls).toEqual([
        {
          region: 'eu-west-1',
          roleArn: `arn:aws:iam::${STAGING}:role/runbooks-target`,
          sessionName: 'run-a',
          externalId: 'default-ext',
        },
        {
          region: 'eu-west-1',
          roleArn: `arn:aws:iam::${STAGING}:role/runbooks-target`,
          sessionName: 'run-b',
          externalId: 'default-ext',
        },
      ]);
    } finally {
      aws.destroy();
    }
  });
});

describe('the account header', () => {
  type Outbound = NonNullable<ReturnType<typeof workflowInterceptors>['outbound']>[number];
  type Inbound = NonNullable<ReturnType<typeof workflowInterceptors>['inbound']>[number];

  /** One run's interceptors: `execute` with `args`/`headers`, then the headers of an activity it schedules. */
  async function headersOfActivity(args: unknown[], headers: Record<string, unknown> = {}) {
    const i = workflowInterceptors();
    const inbound = i.inbound![0] as Required<Inbound>;
    const outbound = i.outbound![0] as Required<Outbound>;
    let seen: Record<string, unknown> = {};
    await inbound.execute({ args, headers: headers as never }, async () => {
      await outbound.scheduleActivity(
        { activityType: 'describeService', args: [], options: {}, headers: {}, seq: 1 } as never,
        async (input) => {
          seen = input.headers;
          return undefined;
        },
      );
      return undefined;
    });
    return seen;
  }

  it("carries the input's account to the run's activities, and nothing when there is none", async () => {
    const headers = await headersOfActivity([{ region: 'us-east-1', account: 'staging' }]);
    expect(defaultPayloadConverter.fromPayload(headers[ACCOUNT_HEADER] as never)).toBe('staging');
    expect(await headersOfActivity([{ region: 'us-east-1' }])).toEqual({});
    expect(await headersOfActivity([])).toEqual({});
  });

  it("passes a parent's account on to a child whose input has none", async () => {
    const parent = { [ACCOUNT_HEADER]: defaultPayloadConverter.toPayload(PROD) };
    const headers = await headersOfActivity([{ archive: 's3://b/k' }], parent);
    expect(defaultPayloadConverter.fromPayload(headers[ACCOUNT_HEADER] as never)).toBe(PROD);
  });

  it('opens the account context for the activity, and none without the header', async () => {
    const factory = accountInterceptors(config);
    const ctx = { info: { workflowExecution: { workflowId: 'emergency-scale:us-east-1/c/s', runId: 'r' } } } as Context;
    const run = (headers: Record<string, unknown>) =>
      factory(ctx).inbound!.execute!({ args: [], headers: headers as never }, async () => currentAccount());
    expect(await run({ [ACCOUNT_HEADER]: defaultPayloadConverter.toPayload('prod') })).toEqual({
      target: resolveAccount('prod', config),
      sessionName: 'emergency-scale.us-east-1.c.s',
    });
    expect(await run({})).toBeUndefined();
    await expect(run({ [ACCOUNT_HEADER]: defaultPayloadConverter.toPayload('nope') })).rejects.toThrow(
      'invalid input: input.account: no account named "nope"',
    );
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
