// Approvals people can trust, end to end (real dev server, real worker, moto): the organisation policy a worker hands
// its runs cannot be weakened by the input; where it requires a verified AWS identity, only decisions signed with the
// sender's own AWS keys (the CLI's --aws) count — IAM users in moto are the people; a run keeps the policy it started
// with. What is checked each time: the run's state, what AWS looks like, and the decisions as recorded.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IAMClient } from '@aws-sdk/client-iam';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyConfig } from '../../activities/policy';
import type { AwsProof } from '../../api/identity';
import { approveSignal, approveUpdate, keepScaledSignal, statusQuery } from '../../api/definitions';
import { FailureType } from '../../api/failures';
import { parsePolicy, readPolicyFile } from '../../worker/policy-file';
import type { EmergencyScaleInput } from '../../api/runbooks/emergency-scale';
import type { RunbookReport } from '../../api/status';
import { makeAwsProof } from '../../client/aws-proof';
import { makeService, serviceState, type TestService } from '../helpers/env/aws-fixtures';
import { makeFailoverEnv } from '../helpers/env/failover-env';
import { makeIamUser, type IamUser } from '../helpers/env/iam-users';
import { cli } from '../helpers/cli';
import { closeConnections, expectFailure, uid, waitForStatus, withWorker } from '../helpers/temporal';

type User = IamUser;

let iam: IAMClient;
let sreBob: User;
let intruder: User;
let sreAlice: User;

beforeAll(async () => {
  iam = new IAMClient({ region: 'us-east-1' });
  [sreBob, intruder, sreAlice] = await Promise.all([
    makeIamUser(iam, 'sre-bob'),
    makeIamUser(iam, 'intruder'),
    makeIamUser(iam, 'sre-alice'),
  ]);
});
afterAll(async () => {
  iam.destroy();
  await closeConnections();
});

const policy = (yaml: string): PolicyConfig => ({
  file: parsePolicy(yaml, 'test-policy.yaml'),
  source: 'file test-policy.yaml',
});

/** The Done-when policy: emergencyScale needs a verified approval from an IAM user named sre-*. */
const SRE_ONLY = policy(
  [
    'runbooks:',
    '  emergencyScale:',
    '    approval:',
    '      required: true',
    '      identity: aws-iam',
    '      approvers: ["arn:aws:iam::*:user/sre-*"]',
    '    steering:',
    '      identity: aws-iam',
    '      allowed: ["arn:aws:iam::*:user/sre-*"]',
  ].join('\n'),
);

const scaleInput = (svc: TestService, over: Partial<EmergencyScaleInput> = {}): EmergencyScaleInput => ({
  region: svc.region,
  cluster: svc.cluster,
  service: svc.service,
  desiredCount: 4,
  reason: 'traffic spike',
  initiatedBy: 'oncall',
  // The input asks for no approval at all: the organisation policy decides.
  approval: { required: false, timeout: '1m' },
  ...over,
});

/** A proof signed with `user`'s keys for `decision` on the run `workflowId` (what the CLI's --aws sends). */
async function signed(client: Client, workflowId: string, user: User, decision: string, text = '') {
  const { runId } = await client.workflow.getHandle(workflowId).describe();
  return makeAwsProof({ workflowId, runId, decision, text }, { credentials: user.keys });
}

describe('organisation policy: the input cannot weaken it', () => {
  it('under the shipped demo policy, a regionalFailover started with "approval": {"required": false} still waits for an approval, and says why', async () => {
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const env = await makeFailoverEnv(aws);
        const before = await env.snapshot();
        const workflowId = uid('fo-policy');
        await client.workflow.start('regionalFailover', {
          taskQueue,
          workflowId,
          args: [
            env.input({
              initiatedBy: 'alice',
              plannedSwitchover: { reason: 'policy test' },
              approval: { required: false, requireSecondPerson: false, timeout: '1m' },
            }),
          ],
        });
        const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 40_000);
        expect(waiting.warnings).toContain(
          'organisation policy: approval.required: the input asked for no approval; the organisation policy requires one',
        );
        expect(waiting.policy).toMatchObject({
          source: expect.stringContaining('policies/demo.yaml'),
          input: { required: false, requireSecondPerson: false },
          effective: { required: true, requireSecondPerson: true },
          sources: { required: 'policy', requireSecondPerson: 'policy', timeout: 'input' },
        });
        // The second person the policy adds: the initiator's own approval does not count.
        const handle = client.workflow.getHandle(workflowId);
        await handle.signal(approveSignal, { by: 'alice' });
        const refused = await waitForStatus(client, workflowId, (s) => s.approvals.length === 1);
        expect(refused.approvals[0]).toMatchObject({
          accepted: false,
          refusal: 'alice started this run and a second person is required',
        });
        expect(refused.state).toBe('awaiting-approval');
        expect(await env.snapshot()).toEqual(before); // nothing changed while it waits
        await handle.cancel();
      },
      { policy: { file: readPolicyFile('policies/demo.yaml'), source: `file ${process.cwd()}/policies/demo.yaml` } },
    );
  });

  it('raises a quorum, a second person and a timeout the input sets below the floor, each a warning; the approvers are narrowed to the list', async () => {
    const floors = policy(
      [
        'default:',
        '  approval:',
        '    required: true',
        '    minQuorum: 2',
        '    secondPerson: true',
        '    timeout: { min: 5m }',
        '    approvers: [bob, carol, dave]',
      ].join('\n'),
    );
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws, { desiredCount: 1 });
        const workflowId = uid('es-floor');
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [
            scaleInput(svc, {
              approval: {
                required: false,
                quorum: 1,
                requireSecondPerson: false,
                timeout: '10s',
                approvers: ['bob', 'mallory'],
              },
            }),
          ],
        });
        const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        expect(waiting.policy?.effective).toMatchObject({
          required: true,
          quorum: 2,
          requireSecondPerson: true,
          timeout: '5m',
          approvers: ['bob'],
        });
        expect(waiting.warnings).toEqual([
          'organisation policy: approval.required: the input asked for no approval; the organisation policy requires one',
          "organisation policy: approval.quorum: raised from 1 to 2, the organisation policy's minimum",
          'organisation policy: approval.requireSecondPerson: the organisation policy requires a second person',
          "organisation policy: approval.timeout: raised from 10s to 5m, the organisation policy's minimum",
          "organisation policy: approval.approvers: mallory is not on the organisation's list (bob, carol, dave) and cannot approve",
        ]);
        // mallory, listed by the input only, is refused; bob alone is not a quorum of 2 — and no one else is left.
        const refusedUpdate = await handle.executeUpdate(approveUpdate, { args: [{ by: 'mallory' }] }).then(
          () => undefined,
          (err: { cause?: { message?: string } }) => err.cause?.message,
        );
        expect(refusedUpdate).toBe('refused: mallory is not an allowed approver (allowed: bob)');
        const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
        expect(ack.message).toBe('approval counted (1 of 2); waiting for 1 more');
        expect((await serviceState(aws, svc)).desiredCount).toBe(1);
        await handle.cancel();
      },
      { policy: floors },
    );
  });
});

describe('named approvers for what the input accepts', () => {
  it('a failover accepting data loss is not approved by the quorum alone: it waits for the incident commander the policy names', async () => {
    const commander = policy(
      ['runbooks:', '  regionalFailover:', '    acceptDataLoss:', '      approvers: [carol]'].join('\n'),
    );
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const env = await makeFailoverEnv(aws, { lag: [500, 600] });
        const before = await env.snapshot();
        const workflowId = uid('fo-loss');
        const handle = await client.workflow.start('regionalFailover', {
          taskQueue,
          workflowId,
          args: [
            env.input({
              initiatedBy: 'alice',
              plannedSwitchover: { reason: 'drill' },
              acceptDataLoss: { reason: 'the business accepts it' },
              approval: { required: true, timeout: '1m' },
            }),
          ],
        });
        const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval', 40_000);
        expect(waiting.pendingApproval?.alsoNeeds).toEqual(['an approval from carol (acceptDataLoss)']);
        const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'bob' }] });
        expect(ack.message).toBe(
          'approval counted (1 of 1); still waiting for an approval from carol (acceptDataLoss)',
        );
        expect(await env.snapshot()).toEqual(before); // not approved yet: nothing changed
        const done = await handle.executeUpdate(approveUpdate, { args: [{ by: 'carol' }] });
        expect(done.message).toBe('approved (2 of 1)');
        const report = (await handle.result()) as RunbookReport;
        expect(report.outcome).toBe('succeeded-with-warnings');
        expect(report.approvals.filter((a) => a.accepted).map((a) => a.by)).toEqual(['bob', 'carol']);
      },
      { policy: commander },
    );
  });
});

describe('the worker and its policy file', () => {
  it('stops at start on an unknown key, naming the file, the line and the key', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'policy-'));
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, 'default:\n  approval:\n    required: true\n    secondPersn: true\n');
    const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'worker/main.ts'], {
      env: { ...process.env, RUNBOOKS_POLICY_FILE: file, TEMPORAL_ADDRESS: '127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`runbooks worker failed: ${file}:4:5: unknown key "default.approval.secondPersn"`);
  });
});

describe('verified identity (identity: aws-iam)', () => {
  it('refuses a UI signal with a typed name and a --aws approval by IAM user intruder; a --aws approval by sre-bob completes the run', async () => {
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws, { desiredCount: 2 });
        const workflowId = uid('es-iam');
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [scaleInput(svc)],
        });
        const waiting = await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        expect(waiting.pendingApproval).toMatchObject({
          identity: 'aws-iam',
          approvers: ['arn:aws:iam::*:user/sre-*'],
        });
        expect(waiting.pendingApproval?.how.cli).toContain('--aws');

        // What `temporal workflow signal … approve {"by": "x"}` sends.
        await handle.signal(approveSignal, { by: 'x' });
        // The CLI's --aws, signed with intruder's keys (and claiming to be bob).
        await handle.signal(approveSignal, { by: 'bob', proof: await signed(client, workflowId, intruder, 'approve') });
        const refused = await waitForStatus(client, workflowId, (s) => s.approvals.length === 2);
        expect(refused.approvals[0]).toMatchObject({ by: 'x', accepted: false, via: 'signal' });
        expect(refused.approvals[0]!.refusal).toContain("this runbook's policy requires a verified AWS identity");
        expect(refused.approvals[0]!.refusal).toContain(
          `npm run runbook -- approve ${workflowId} --by <your name> --aws`,
        );
        expect(refused.approvals[1]).toMatchObject({
          by: 'bob',
          accepted: false,
          verified: { arn: intruder.arn },
          refusal: `bob (${intruder.arn}) is not an allowed approver (allowed: arn:aws:iam::*:user/sre-*)`,
        });
        expect((await serviceState(aws, svc)).desiredCount).toBe(2);

        // sre-bob through the CLI itself, his keys in the environment as an SSO/profile login would put them.
        const out = await asUser(sreBob, () =>
          cli('approve', workflowId, '--by', 'bob', '--aws', '--comment', 'capacity ok'),
        );
        expect(out).toMatchObject({ code: 0 });
        expect(out.out).toContain('approved (1 of 1)');
        const report = (await handle.result()) as RunbookReport;
        // Succeeded — with the warning that the policy required the approval the input had switched off.
        expect(report.outcome).toBe('succeeded-with-warnings');
        expect(report.warnings).toEqual([
          'organisation policy: approval.required: the input asked for no approval; the organisation policy requires one',
        ]);
        expect((await serviceState(aws, svc)).desiredCount).toBe(4);
        const accepted = report.approvals.find((a) => a.accepted);
        expect(accepted).toMatchObject({
          by: 'bob',
          via: 'update',
          verified: { arn: sreBob.arn },
          comment: 'capacity ok',
        });
        // The audit: every decision with who (verified), how, and why refused — in the incident report too.
        expect(report.incidentReport).toContain(`approve by bob (verified ${sreBob.arn}): accepted — capacity ok`);
        expect(report.incidentReport).toContain(`approve by bob (verified ${intruder.arn}): refused (`);
        expect(report.incidentReport).toContain('approve by x: refused (');
        expect(report.policy?.effective?.identity).toBe('aws-iam');
      },
      { policy: SRE_ONLY },
    );
  });

  it("refuses a proof replayed on another run or for another decision, and the verified initiator's own approval", async () => {
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const [one, two] = await Promise.all([
          makeService(aws, { desiredCount: 1 }),
          makeService(aws, { desiredCount: 1 }),
        ]);
        const a = uid('es-a');
        const b = uid('es-b');
        // Run b is started with --aws by sre-alice: she is its verified initiator.
        const startProof = await makeAwsProof(
          { workflowId: b, decision: 'start', text: 'traffic spike' },
          { credentials: sreAlice.keys },
        );
        const [ha, hb] = await Promise.all([
          client.workflow.start('emergencyScale', { taskQueue, workflowId: a, args: [scaleInput(one)] }),
          client.workflow.start('emergencyScale', {
            taskQueue,
            workflowId: b,
            // Two approvals needed (the input may raise the quorum): one from sre-bob leaves the gate open.
            args: [
              scaleInput(two, {
                initiatedBy: 'alice',
                initiatorProof: startProof,
                approval: { required: true, quorum: 2, timeout: '1m' },
              }),
            ],
          }),
        ]);
        await Promise.all([a, b].map((id) => waitForStatus(client, id, (s) => s.state === 'awaiting-approval')));
        const started = await hb.query(statusQuery);
        expect(started.policy?.initiator).toEqual({ declared: 'alice', verified: { arn: sreAlice.arn } });

        // Each decision is verified (an activity) before it is judged: send one at a time, so they are recorded in
        // the order sent.
        let sent = 0;
        const send = async (payload: { by: string; proof: AwsProof }) => {
          await hb.signal(approveSignal, payload);
          sent += 1;
          return waitForStatus(client, b, (x) => x.approvals.length === sent);
        };
        // sre-bob's approval of run a, replayed on run b; his rejection proof of run b used as an approval.
        const forA = await signed(client, a, sreBob, 'approve');
        await send({ by: 'bob', proof: forA });
        await send({ by: 'bob', proof: await signed(client, b, sreBob, 'reject', 'no') });
        // sre-alice approving the run she started, under another name.
        await send({ by: 'someone', proof: await signed(client, b, sreAlice, 'approve') });
        // sre-bob's own proof for run b counts — once.
        const forB = await signed(client, b, sreBob, 'approve');
        await send({ by: 'bob', proof: forB });
        const s = await send({ by: 'bob', proof: forB });
        const why = s.approvals.map((d) => d.refusal ?? '');
        expect(why.some((r) => r.includes(`signed for workflow ${a}, not ${b}`))).toBe(true);
        expect(why.some((r) => r.includes('signed for decision reject, not approve'))).toBe(true);
        expect(
          why.some((r) => r.includes(`someone (${sreAlice.arn}) started this run and a second person is required`)),
        ).toBe(true);
        expect(s.approvals.map((d) => d.accepted)).toEqual([false, false, false, true, false]);
        expect(s.approvals[4]?.refusal).toContain('this proof was already used on this run');
        expect(s.pendingApproval?.approvedBy).toEqual(['bob']);

        // The proof made for run a counts there.
        await ha.signal(approveSignal, { by: 'bob', proof: forA });
        await ha.result();
        expect((await serviceState(aws, one)).desiredCount).toBe(4);
        expect((await serviceState(aws, two)).desiredCount).toBe(1);
        await hb.cancel();
      },
      { policy: SRE_ONLY },
    );
  });

  it('refuses steering from a principal not on the list, and a typed name, recorded with the reason', async () => {
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws, { desiredCount: 1 });
        const workflowId = uid('es-steer');
        const handle = await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId,
          args: [scaleInput(svc, { scaleBackAfter: '10m' })],
        });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
        await handle.signal(approveSignal, { by: 'bob', proof: await signed(client, workflowId, sreBob, 'approve') });
        await waitForStatus(client, workflowId, (s) => s.state === 'waiting');
        await handle.signal(keepScaledSignal, { by: 'mallory' });
        await handle.signal(keepScaledSignal, {
          by: 'mallory',
          reason: 'keep it',
          proof: await signed(client, workflowId, intruder, 'keepScaled', 'keep it'),
        });
        const s = await waitForStatus(client, workflowId, (x) => (x.signals?.length ?? 0) === 2);
        expect(s.signals?.[0]).toMatchObject({ signal: 'keepScaled', by: 'mallory', accepted: false });
        expect(s.signals?.[0]?.refusal).toContain('requires a verified AWS identity to send keepScaled');
        expect(s.signals?.[1]).toMatchObject({
          accepted: false,
          verified: { arn: intruder.arn },
          refusal: `mallory (${intruder.arn}) may not send keepScaled on this run (allowed: arn:aws:iam::*:user/sre-*)`,
        });
        expect(s.state).toBe('waiting'); // still scheduled to scale back
        await handle.signal(keepScaledSignal, {
          by: 'bob',
          proof: await signed(client, workflowId, sreBob, 'keepScaled'),
        });
        const report = (await handle.result()) as RunbookReport;
        expect(report.signals?.at(-1)).toMatchObject({
          signal: 'keepScaled',
          accepted: true,
          verified: { arn: sreBob.arn },
        });
        expect((await serviceState(aws, svc)).desiredCount).toBe(4);
      },
      { policy: SRE_ONLY },
    );
  });
});

describe('who may start', () => {
  it('refuses a start by someone not on the list, and an unverified start where a verified one is required; nothing changes', async () => {
    const starters = policy(
      [
        'runbooks:',
        '  emergencyScale:',
        '    start:',
        '      identity: aws-iam',
        '      allowed: ["arn:aws:iam::*:user/sre-*"]',
      ].join('\n'),
    );
    await withWorker(
      async ({ client, taskQueue, aws }) => {
        const svc = await makeService(aws, { desiredCount: 1 });
        const typed = uid('es-start');
        await client.workflow.start('emergencyScale', { taskQueue, workflowId: typed, args: [scaleInput(svc)] });
        const f1 = await expectFailure(client, typed);
        expect(f1.type).toBe(FailureType.PolicyRefused);
        expect(f1.message).toContain('requires a verified AWS identity to start emergencyScale');
        expect(f1.message).toContain('Nothing was changed');

        const signedByIntruder = uid('es-start');
        const proof = await makeAwsProof(
          { workflowId: signedByIntruder, decision: 'start', text: 'traffic spike' },
          { credentials: intruder.keys },
        );
        await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId: signedByIntruder,
          args: [scaleInput(svc, { initiatorProof: proof })],
        });
        const f2 = await expectFailure(client, signedByIntruder);
        expect(f2.type).toBe(FailureType.PolicyRefused);
        expect(f2.message).toContain(`oncall (${intruder.arn}) may not start emergencyScale`);
        expect((await serviceState(aws, svc)).desiredCount).toBe(1);
      },
      { policy: starters },
    );
  });
});

describe('a run keeps the policy it started with', () => {
  it('after the file changes and the workers restart, a waiting run still needs its approval', async () => {
    const strict = policy('default:\n  approval: { required: true, minQuorum: 2 }\n');
    const lax = policy('default:\n  approval: { required: false }\n');
    const taskQueue = uid('tq');
    const workflowId = uid('es-keep');
    let svc!: TestService;
    await withWorker(
      async ({ client, aws }) => {
        svc = await makeService(aws, { desiredCount: 1 });
        await client.workflow.start('emergencyScale', { taskQueue, workflowId, args: [scaleInput(svc)] });
        await waitForStatus(client, workflowId, (s) => s.state === 'awaiting-approval');
      },
      { policy: strict, taskQueue },
    );
    // A new worker with another policy picks the run up (replaying its history, policy marker included).
    await withWorker(
      async ({ client, aws }) => {
        const handle = client.workflow.getHandle(workflowId);
        await handle.signal(approveSignal, { by: 'bob' });
        const s = await waitForStatus(client, workflowId, (x) => x.approvals.length === 1);
        expect(s.state).toBe('awaiting-approval');
        expect(s.policy?.effective).toMatchObject({ required: true, quorum: 2 });
        expect(s.approvals[0]).toMatchObject({ accepted: true });
        await handle.signal(approveSignal, { by: 'carol' });
        await handle.result();
        expect((await serviceState(aws, svc)).desiredCount).toBe(4);
        // A run started now follows the new file.
        const fresh = uid('es-new');
        await client.workflow.start('emergencyScale', {
          taskQueue,
          workflowId: fresh,
          args: [scaleInput(svc, { desiredCount: 2 })],
        });
        const report = (await client.workflow.getHandle(fresh).result()) as RunbookReport;
        expect(report.timeline.find((t) => t.name === 'Approval')?.outcome).toBe('skipped');
      },
      { policy: lax, taskQueue },
    );
  });
});

/** Run `fn` with `user`'s access keys as the process's AWS credentials (as `aws sso login` / a profile would). */
async function asUser<T>(user: User, fn: () => Promise<T>): Promise<T> {
  const saved = {
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
  };
  process.env.AWS_ACCESS_KEY_ID = user.keys.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = user.keys.secretAccessKey;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
