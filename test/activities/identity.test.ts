// Verified identity against the emulator: proofs made by the CLI's builder (client/aws-proof.ts) with two IAM users'
// own access keys, verified by the activity (activities/identity.ts), which forwards them to moto's STS.
//
// What moto does NOT check (without IAM auth, which the stack does not turn on): the SigV4 signature. moto's
// GetCallerIdentity reads the access key ID out of the Authorization header and answers with the IAM user (or
// assumed-role session) that owns it — an unknown key gets a default identity (see the last tests). So a request
// changed after it was signed is accepted by moto; real STS answers SignatureDoesNotMatch (HTTP 403), which the
// activity turns into IdentityRefused (test/unit/identity.test.ts covers that answer). Here we assert what our own
// checks catch, and show by re-signing that a changed binding no longer matches its signature.
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityActivities, proofDigest, stsEndpoint } from '../../activities/identity';
import { arnMatches, BINDING_HEADER, decodeBinding, encodeBinding, type AwsProof } from '../../api/identity';
import { makeAwsProof, Sha256, type ProofTarget } from '../../client/aws-proof';
import { rejection } from '../helpers/assert';
import { makeIamUser, type IamUser } from '../helpers/env/iam-users';
import { uid } from '../helpers/temporal';

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
type User = IamUser;

let iam: IAMClient;
let bob: User;
let intruder: User;
const { verifyAwsProof } = createIdentityActivities();

beforeAll(async () => {
  // The stack's setup points AWS_ENDPOINT_URL at moto: the IAM client, the CLI's builder and the activity all use it.
  iam = new IAMClient({ region: 'us-east-1' });
  [bob, intruder] = await Promise.all([makeIamUser(iam, 'sre-bob'), makeIamUser(iam, 'intruder')]);
});
afterAll(() => iam.destroy());

const target = (over: Partial<ProofTarget> = {}): ProofTarget => ({
  workflowId: 'emergency-scale:us-east-1/demo-east/demo-api',
  runId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  decision: 'approve',
  text: 'capacity looks right',
  ...over,
});

/** The refusal a verification ends in (fails the test if it verifies). */
async function refusal(proof: AwsProof, expect: ProofTarget): Promise<ApplicationFailure> {
  const err = await rejection(verifyAwsProof({ proof, expect }));
  if (!(err instanceof ApplicationFailure)) throw err;
  return err;
}

describe('verifyAwsProof against the emulator', () => {
  it('answers with the ARN of the IAM user whose keys signed, distinct for each user', async () => {
    const t = target();
    const [fromBob, fromIntruder] = await Promise.all([
      makeAwsProof(t, { credentials: bob.keys }).then((proof) => verifyAwsProof({ proof, expect: t })),
      makeAwsProof(t, { credentials: intruder.keys }).then((proof) => verifyAwsProof({ proof, expect: t })),
    ]);
    expect(fromBob).toMatchObject({ arn: bob.arn, kind: 'user', name: bob.name, account: '123456789012' });
    expect(fromIntruder).toMatchObject({ arn: intruder.arn, kind: 'user', name: intruder.name });
    expect(fromBob.arn).not.toBe(fromIntruder.arn);
    expect(fromBob.userId).not.toBe(fromIntruder.userId);
    expect(fromBob.nonce).not.toBe(fromIntruder.nonce);
    expect(Math.abs(Date.parse(fromBob.signedAt) - Date.now())).toBeLessThan(60_000);
    expect(arnMatches('arn:aws:iam::*:user/sre-bob-*', fromBob.arn)).toBe(true);
    expect(arnMatches('arn:aws:iam::*:user/sre-bob-*', fromIntruder.arn)).toBe(false);
  });

  it('carries a signature and the access key ID, never the secret key', async () => {
    const proof = await makeAwsProof(target(), { credentials: bob.keys });
    expect(JSON.stringify(proof)).not.toContain(bob.keys.secretAccessKey);
    expect(proof.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${bob.keys.accessKeyId}/\\d{8}/us-east-1/sts/aws4_request, `),
    );
    expect(proof.headers.authorization).toContain(`SignedHeaders=content-type;host;x-amz-date;${BINDING_HEADER},`);
    expect(proof.url).toBe(`${stsEndpoint()}/`);
  });

  it.each([
    [
      'workflow ID',
      { workflowId: 'emergency-scale:us-east-1/demo-east/other-api' },
      /signed for workflow emergency-scale:us-east-1\/demo-east\/demo-api, not emergency-scale:us-east-1\/demo-east\/other-api/,
    ],
    ['run', { runId: 'another-run' }, /signed for run 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b, not run another-run of /],
    ['decision', { decision: 'reject' }, /signed for decision approve, not reject/],
    [
      'text',
      { text: 'capacity looks wrong' },
      /signed for another text: the comment or reason sent is not the one signed/,
    ],
  ] as const)('refuses a proof bound to another %s, naming it', async (_field, other, message) => {
    const proof = await makeAwsProof(target(), { credentials: bob.keys });
    const err = await refusal(proof, target(other));
    expect(err.type).toBe('IdentityRefused');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('refuses a start proof (no run) offered for a decision on a run', async () => {
    const start = target({ runId: undefined, decision: 'start', text: '' });
    const proof = await makeAwsProof(start, { credentials: bob.keys });
    expect(await verifyAwsProof({ proof, expect: start })).toMatchObject({ arn: bob.arn });
    const err = await refusal(proof, target({ decision: 'start', text: '' }));
    expect(err.message).toMatch(/names no run; it must be signed for run 0190a1b2-/);
  });

  it('refuses a proof signed more than 5 minutes ago, and one signed too far in the future', async () => {
    const t = target();
    const old = await makeAwsProof(t, { credentials: bob.keys, signingDate: new Date(Date.now() - 7 * 60_000) });
    expect((await refusal(old, t)).message).toMatch(/^the proof has expired: signed 7m ago \(a proof counts for 5m\)/);
    const ahead = await makeAwsProof(t, { credentials: bob.keys, signingDate: new Date(Date.now() + 10 * 60_000) });
    expect((await refusal(ahead, t)).message).toMatch(/signed 10m in the future \(at most 5m of clock skew/);
    // Within the skew allowed: counts.
    const slightlyAhead = await makeAwsProof(t, { credentials: bob.keys, signingDate: new Date(Date.now() + 60_000) });
    expect(await verifyAwsProof({ proof: slightlyAhead, expect: t })).toMatchObject({ arn: bob.arn });
  });

  it('refuses a proof signed for another STS endpoint, without calling it', async () => {
    const t = target();
    const proof = await makeAwsProof(t, {
      credentials: bob.keys,
      env: { AWS_ENDPOINT_URL_STS: 'https://sts.eu-west-1.amazonaws.com' },
    });
    expect(proof.url).toBe('https://sts.eu-west-1.amazonaws.com/');
    expect(proof.headers.authorization).toContain('/eu-west-1/sts/aws4_request');
    const err = await refusal(proof, t);
    expect(err.message).toBe(
      `the proof was signed for sts.eu-west-1.amazonaws.com; this worker verifies at ${new URL(stsEndpoint()).host}: ` +
        'run the CLI with the same AWS_ENDPOINT_URL/region as the worker (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, AWS_REGION)',
    );
    // Pointing the URL at this worker's endpoint after signing does not help: the signed Host still says otherwise.
    const moved = { ...proof, url: `${stsEndpoint()}/` };
    expect((await refusal(moved, t)).message).toMatch(/Host header \(sts\.eu-west-1\.amazonaws\.com\) is not its URL/);
  });

  it('refuses a binding changed after signing: garbage by our checks, a well-formed one by the signature (AWS)', async () => {
    const t = target();
    const proof = await makeAwsProof(t, { credentials: bob.keys });
    const garbage = { ...proof, headers: { ...proof.headers, [BINDING_HEADER]: 'not-a-binding!' } };
    expect((await refusal(garbage, t)).message).toMatch(
      /x-runbooks-binding header is not a binding the runbook CLI made/,
    );

    // Bob's proof for one run, rebound to another run by rewriting the header (a replay). Our checks see a binding
    // that matches; what refuses it is the signature, which covers the header.
    const other = target({ runId: 'another-run' });
    const original = decodeBinding(proof.headers[BINDING_HEADER]!)!;
    const rebound = {
      ...proof,
      headers: { ...proof.headers, [BINDING_HEADER]: encodeBinding({ ...original, runId: 'another-run' }) },
    };
    expect(await resignature(rebound, bob.keys)).not.toBe(signatureOf(rebound));
    expect(await resignature(proof, bob.keys)).toBe(signatureOf(proof));
    // moto (no IAM auth) does not check signatures and answers Bob's ARN: real STS answers 403 SignatureDoesNotMatch,
    // which the activity refuses as "STS refused the proof: SignatureDoesNotMatch: …".
    expect(await verifyAwsProof({ proof: rebound, expect: other })).toMatchObject({ arn: bob.arn });
  });

  it('refuses a proof that is not a GetCallerIdentity call, or whose signature does not cover the binding', async () => {
    const t = target();
    const proof = await makeAwsProof(t, { credentials: bob.keys });
    const assume = { ...proof, body: 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/x' };
    expect((await refusal(assume, t)).message).toMatch(/^the proof is not an sts:GetCallerIdentity call/);
    const unbound = {
      ...proof,
      headers: {
        ...proof.headers,
        authorization: proof.headers.authorization!.replace(`;${BINDING_HEADER}`, ''),
      },
    };
    expect((await refusal(unbound, t)).message).toMatch(/signature does not cover the x-runbooks-binding header/);
  });

  it('verifies an assumed-role session (as AWS SSO signs in) with its session token signed', async () => {
    const role = `AWSReservedSSO_SRE_${uid('r').slice(2)}`;
    await iam.send(
      new CreateRoleCommand({
        RoleName: role,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    const session = await assumeRole(`arn:aws:iam::123456789012:role/${role}`, 'bob@example.com', bob.keys);
    const t = target();
    const proof = await makeAwsProof(t, { credentials: session });
    expect(proof.headers['x-amz-security-token']).toBe(session.sessionToken);
    expect(proof.headers.authorization).toContain(';x-amz-security-token;');
    const who = await verifyAwsProof({ proof, expect: t });
    expect(who).toMatchObject({
      arn: `arn:aws:sts::123456789012:assumed-role/${role}/bob@example.com`,
      kind: 'assumed-role',
      name: role,
      session: 'bob@example.com',
    });
    expect(arnMatches('arn:aws:sts::*:assumed-role/AWSReservedSSO_SRE_*/*', who.arn)).toBe(true);
    expect(arnMatches('arn:aws:sts::*:assumed-role/AWSReservedSSO_DBA_*/*', who.arn)).toBe(false);
  });

  it('(moto) answers an unknown access key with a default identity, arn:aws:sts::<account>:user/moto', async () => {
    // Real STS answers InvalidClientTokenId (403) → IdentityRefused. moto makes up an identity instead, so in tests
    // only keys from IAM CreateAccessKey (or AssumeRole) stand for a person.
    const t = target();
    const proof = await makeAwsProof(t, {
      credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'made-up' },
    });
    const moto = { arn: 'arn:aws:sts::123456789012:user/moto', userId: 'AKIAIOSFODNN7EXAMPLE', kind: 'other' };
    expect(await verifyAwsProof({ proof, expect: t })).toMatchObject(moto);
    // The stack's own test/test credentials too (moto reads only 20-character key IDs out of the header).
    const fromTest = await makeAwsProof(t, { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    expect(await verifyAwsProof({ proof: fromTest, expect: t })).toMatchObject(moto);
  });

  // The binding carries the text's sha256: that of '' for a decision without one.
  it('binds the text by its sha256', async () => {
    const proof = await makeAwsProof(target({ text: '' }), { credentials: bob.keys });
    expect(decodeBinding(proof.headers[BINDING_HEADER]!)?.digest).toBe(proofDigest(''));
  });
});

// --- helpers ---

const signatureOf = (proof: AwsProof) => /Signature=([0-9a-f]{64})$/.exec(proof.headers.authorization!)![1];

/** The signature AWS computes for `proof` as it now is (same key, same time): what it compares with the one sent. */
async function resignature(proof: AwsProof, keys: Keys): Promise<string | undefined> {
  const url = new URL(proof.url);
  const amzDate = proof.headers['x-amz-date']!;
  const when = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const headers = Object.fromEntries(Object.entries(proof.headers).filter(([k]) => k !== 'authorization'));
  const request = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    method: 'POST',
    path: url.pathname,
    headers,
    body: proof.body,
  });
  const signer = new SignatureV4({
    service: 'sts',
    region: 'us-east-1',
    credentials: keys,
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(request, { signingDate: when });
  return signatureOf({ ...proof, headers: { authorization: String(signed.headers.authorization) } });
}

/** sts:AssumeRole on the emulator, signed with `keys`: the session's temporary credentials. */
async function assumeRole(roleArn: string, sessionName: string, keys: Keys): Promise<Required<Keys>> {
  const url = new URL(`${stsEndpoint()}/`);
  const body = new URLSearchParams({
    Action: 'AssumeRole',
    Version: '2011-06-15',
    RoleArn: roleArn,
    RoleSessionName: sessionName,
  }).toString();
  const request = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    method: 'POST',
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const signer = new SignatureV4({ service: 'sts', region: 'us-east-1', credentials: keys, sha256: Sha256 });
  const signed = await signer.sign(request);
  const { host: _host, ...headers } = signed.headers;
  const res = await fetch(url, { method: 'POST', headers, body });
  const xml = await res.text();
  expect(res.status, xml).toBe(200);
  const field = (tag: string) => new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)![1]!;
  return {
    accessKeyId: field('AccessKeyId'),
    secretAccessKey: field('SecretAccessKey'),
    sessionToken: field('SessionToken'),
  };
}
