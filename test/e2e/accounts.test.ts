// A runbook acting in a second AWS account: real dev server, real worker, moto with two account IDs. moto keys its
// state by the account of the credentials a call is signed with, and credentials from sts:AssumeRole on a role ARN
// belong to that role's account — so a service changed through the assumed role is the second account's, and the
// same-named service of the worker's own account must stay as it was. STS calls go through a recording proxy in
// front of moto (AWS_ENDPOINT_URL_STS): the session name shows which run assumed the role, and with which external
// ID. (moto's own record, /moto-api/data.json, did not serve: with the whole suite's state in moto it answered an
// HTML error page in CI instead of JSON.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sessionName } from '../../activities/accounts';
import { createAwsClients, type AwsClients, type StaticCredentials } from '../../activities/aws-clients';
import type { EmergencyScaleInput, EmergencyScaleResult } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { ensureCluster, ensureService, ensureTaskDefinitions } from '../../scripts/lib/fixtures';
import { serviceState } from '../helpers/env/aws-fixtures';
import { callParam, startAwsProxy, type AwsProxy } from '../helpers/proxies/aws-proxy';
import { closeConnections, expectFailure, uid, withWorker } from '../helpers/temporal';

const OTHER = '222233334444';
const ROLE = `arn:aws:iam::${OTHER}:role/runbooks-target`;
const EXTERNAL_ID = 'runbooks-e2e-external';

let dir: string;
let other: AwsClients & { destroy(): void };
let otherCredentials: StaticCredentials;
const saved = {
  policy: process.env.RUNBOOKS_POLICY_FILE,
  role: process.env.RUNBOOKS_ACCOUNT_ROLE,
  sts: process.env.AWS_ENDPOINT_URL_STS,
};
/** Every AssumeRole the STS proxy forwarded: role, session name, external ID. */
const assumeRoleCalls: { role: string; session: string; externalId: string | undefined }[] = [];
let stsProxy: AwsProxy | undefined;

beforeAll(async () => {
  // Before any STS client exists (the worker's are built at their first AssumeRole): STS through the recorder.
  stsProxy = await startAwsProxy(inject('awsEndpoint'), (call) => {
    if (call.operation === 'AssumeRole') {
      assumeRoleCalls.push({
        role: String(callParam(call, 'RoleArn')),
        session: String(callParam(call, 'RoleSessionName')),
        externalId: callParam(call, 'ExternalId') as string | undefined,
      });
    }
    return undefined;
  });
  process.env.AWS_ENDPOINT_URL_STS = stsProxy.endpoint;
  // The test's own way into the second account (a setup role; moto assumes any role ARN).
  const sts = new STSClient({});
  const out = await sts.send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER}:role/e2e-setup`, RoleSessionName: 'e2e-setup' }),
  );
  sts.destroy();
  otherCredentials = {
    accessKeyId: out.Credentials!.AccessKeyId!,
    secretAccessKey: out.Credentials!.SecretAccessKey!,
    sessionToken: out.Credentials!.SessionToken!,
  };
  other = createAwsClients({ credentials: otherCredentials });
  // The role the worker assumes there, trusting the worker's account with the external ID (as docs/accounts.md).
  const iam = new IAMClient({ region: 'us-east-1', credentials: otherCredentials });
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'runbooks-target',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::123456789012:role/runbooks-worker' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } },
          },
        ],
      }),
    }),
  );
  expect((await iam.send(new GetRoleCommand({ RoleName: 'runbooks-target' }))).Role?.Arn).toBe(ROLE);
  iam.destroy();

  // The worker's accounts: a policy file naming the second account (read when the worker is created).
  dir = mkdtempSync(path.join(os.tmpdir(), 'runbooks-accounts-'));
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(
    policy,
    `accounts:\n  staging:\n    id: "${OTHER}"\n    roleArn: ${ROLE}\n    externalId: ${EXTERNAL_ID}\n`,
  );
  process.env.RUNBOOKS_POLICY_FILE = policy;
  delete process.env.RUNBOOKS_ACCOUNT_ROLE;
});

afterAll(async () => {
  other?.destroy();
  for (const [key, value] of [
    ['RUNBOOKS_POLICY_FILE', saved.policy],
    ['RUNBOOKS_ACCOUNT_ROLE', saved.role],
    ['AWS_ENDPOINT_URL_STS', saved.sts],
  ] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  await stsProxy?.close();
  await closeConnections();
});

/** The same cluster and service names, with 2 tasks, in the worker's own account and in the second one. */
async function sameServiceInBoth(own: AwsClients) {
  const id = uid('acct');
  const ref = { region: 'us-east-1', cluster: `c-${id}`, service: `s-${id}` };
  for (const aws of [own, other]) {
    const ecs = aws.ecs(ref.region);
    await ensureCluster(ecs, ref.cluster);
    const [taskDefinition] = await ensureTaskDefinitions(ecs, `f-${id}`, ['example/app:1.0']);
    await ensureService(ecs, {
      cluster: ref.cluster,
      service: ref.service,
      taskDefinition: taskDefinition!,
      desiredCount: 2,
    });
  }
  return ref;
}

/** The AssumeRole calls made for `session`. */
function assumedRoles(session: string) {
  return assumeRoleCalls
    .filter((c) => c.session === session)
    .map((c) => ({ role: c.role, externalId: c.externalId ?? null, account: c.role.split(':')[4] }));
}

describe('a runbook in another account', () => {
  it('scales the service of the named account through the assumed role, and leaves the own account’s alone', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const ref = await sameServiceInBoth(aws);
      const input: EmergencyScaleInput = { ...ref, desiredCount: 4, reason: 'staging load test', account: 'staging' };
      const workflowId = uid('es-acct');
      const report = (await client.workflow.execute('emergencyScale', {
        taskQueue,
        workflowId,
        args: [input],
      })) as RunbookReport<EmergencyScaleResult>;

      expect(report.outcome).toBe('succeeded');
      expect((await serviceState(other, ref)).desiredCount).toBe(4);
      expect((await serviceState(aws, ref)).desiredCount).toBe(2);
      // The role was assumed by this run (its workflow ID as the session name), with the external ID.
      const assumed = assumedRoles(sessionName(workflowId));
      expect(assumed.length).toBeGreaterThan(0);
      expect(new Set(assumed.map((a) => JSON.stringify(a)))).toEqual(
        new Set([JSON.stringify({ role: ROLE, externalId: EXTERNAL_ID, account: OTHER })]),
      );
    });
  });

  it('refuses an account the policy does not name at the start, before any change', async () => {
    await withWorker(async ({ client, taskQueue, aws }) => {
      const ref = await sameServiceInBoth(aws);
      const workflowId = uid('es-acct');
      const input: EmergencyScaleInput = { ...ref, desiredCount: 4, reason: 'typo', account: 'stagign' };
      await client.workflow.start('emergencyScale', { taskQueue, workflowId, args: [input] });
      const failure = await expectFailure(client, workflowId);
      expect(failure.type).toBe('InvalidInput');
      expect(failure.message).toBe(
        'invalid input: input.account: no account named "stagign" in the organisation policy (its accounts: ' +
          'staging); give a known name or a 12-digit account ID. Nothing was changed.',
      );
      // Its report: no step ran but the start.
      expect(failure.report?.timeline.filter((s) => s.mutating)).toEqual([]);
      expect((await serviceState(other, ref)).desiredCount).toBe(2);
      expect((await serviceState(aws, ref)).desiredCount).toBe(2);
      expect(assumedRoles(sessionName(workflowId))).toEqual([]);
    });
  });
});
