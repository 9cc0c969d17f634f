// Verified identity without servers: ARN patterns, reading ARNs, the binding's format, which STS endpoint a process
// uses, and how the activity reads STS's answers (a fake fetch stands for STS).
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { createIdentityActivities, proofDigest, stsEndpoint, stsSigningRegion } from '../../activities/identity';
import {
  arnMatches,
  awsProof,
  BINDING_HEADER,
  decodeBinding,
  encodeBinding,
  principalKey,
  principalOf,
  type ProofBinding,
} from '../../api/identity';
import { makeAwsProof, type ProofTarget } from '../../client/aws-proof';
import { UserError } from '../../client/errors';
import { rejection } from '../helpers/assert';

describe('arnMatches', () => {
  const bob = 'arn:aws:iam::123456789012:user/sre-bob';
  const sso = 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SRE_0a1b2c3d4e5f6789/bob@example.com';

  it('matches IAM users exactly or by glob, case-insensitively', () => {
    expect(arnMatches(bob, bob)).toBe(true);
    expect(arnMatches('arn:aws:iam::123456789012:user/SRE-BOB', bob)).toBe(true);
    expect(arnMatches('arn:aws:iam::*:user/sre-*', bob)).toBe(true);
    expect(arnMatches('arn:aws:iam::123456789012:user/sre-bo?', bob)).toBe(true);
    expect(arnMatches('arn:aws:iam::123456789012:user/sre-bo', bob)).toBe(false);
    expect(arnMatches('arn:aws:iam::999999999999:user/sre-bob', bob)).toBe(false);
    expect(arnMatches('arn:aws:iam::123456789012:user/intruder', bob)).toBe(false);
  });

  it('matches AWS SSO sessions by their permission set role, any session', () => {
    expect(arnMatches('arn:aws:sts::*:assumed-role/AWSReservedSSO_SRE_*/*', sso)).toBe(true);
    expect(arnMatches('arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SRE_*/bob@example.com', sso)).toBe(true);
    expect(arnMatches('arn:aws:sts::*:assumed-role/AWSReservedSSO_SRE_*/alice@example.com', sso)).toBe(false);
    expect(arnMatches('arn:aws:sts::*:assumed-role/AWSReservedSSO_DBA_*/*', sso)).toBe(false);
    // A user is not an assumed role, nor the other way round.
    expect(arnMatches('arn:aws:sts::*:assumed-role/AWSReservedSSO_SRE_*/*', bob)).toBe(false);
    expect(arnMatches('arn:aws:iam::*:user/*', sso)).toBe(false);
  });

  it('matches an assumed role by the role it assumes (the IAM role ARN matches all its sessions)', () => {
    const session = 'arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-42';
    expect(arnMatches('arn:aws:iam::123456789012:role/Deployer', session)).toBe(true);
    expect(arnMatches('arn:aws:iam::*:role/Deploy*', session)).toBe(true);
    expect(arnMatches('arn:aws:iam::123456789012:role/Other', session)).toBe(false);
    // SSO roles live under a path in IAM (aws-reserved/sso.amazonaws.com/), which the session's ARN does not carry.
    expect(arnMatches('arn:aws:iam::*:role/AWSReservedSSO_SRE_*', sso)).toBe(true);
    // Other partitions keep theirs.
    expect(arnMatches('arn:aws-us-gov:iam::*:role/Deployer', session)).toBe(false);
    expect(arnMatches('arn:aws-us-gov:iam::*:role/Deployer', session.replace('arn:aws:', 'arn:aws-us-gov:'))).toBe(
      true,
    );
  });

  it('takes regular-expression characters in a pattern literally', () => {
    expect(arnMatches('arn:aws:iam::123456789012:user/a.b', 'arn:aws:iam::123456789012:user/a.b')).toBe(true);
    expect(arnMatches('arn:aws:iam::123456789012:user/a.b', 'arn:aws:iam::123456789012:user/axb')).toBe(false);
    expect(arnMatches('arn:aws:iam::123456789012:user/a+b', 'arn:aws:iam::123456789012:user/aab')).toBe(false);
    expect(arnMatches('arn:aws:iam::123456789012:user/(x)', 'arn:aws:iam::123456789012:user/(x)')).toBe(true);
  });
});

describe('principalOf', () => {
  it('reads IAM users, roots, assumed roles and the rest', () => {
    expect(principalOf('arn:aws:iam::123456789012:user/ops/sre-bob', 'AIDAEXAMPLE')).toEqual({
      arn: 'arn:aws:iam::123456789012:user/ops/sre-bob',
      account: '123456789012',
      userId: 'AIDAEXAMPLE',
      kind: 'user',
      name: 'sre-bob',
    });
    expect(principalOf('arn:aws:iam::123456789012:root', '123456789012')).toMatchObject({ kind: 'root', name: 'root' });
    expect(
      principalOf(
        'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SRE_0a1b/bob@example.com',
        'AROAEXAMPLE:bob@example.com',
      ),
    ).toEqual({
      arn: 'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_SRE_0a1b/bob@example.com',
      account: '123456789012',
      userId: 'AROAEXAMPLE:bob@example.com',
      kind: 'assumed-role',
      name: 'AWSReservedSSO_SRE_0a1b',
      session: 'bob@example.com',
    });
    expect(principalOf('arn:aws:sts::123456789012:federated-user/bob', 'x')).toMatchObject({
      kind: 'other',
      name: 'federated-user/bob',
    });
  });

  it('keys one person by ARN, case-insensitively: two sessions of one role are two people', () => {
    const a = principalOf('arn:aws:sts::1:assumed-role/R/alice', 'u1');
    const b = principalOf('arn:aws:sts::1:assumed-role/R/bob', 'u2');
    expect(principalKey(a)).not.toBe(principalKey(b));
    expect(principalKey({ arn: 'arn:aws:iam::1:user/Bob' })).toBe(principalKey({ arn: 'arn:aws:iam::1:user/bob' }));
  });
});

describe('binding', () => {
  const binding: ProofBinding = {
    workflowId: 'blue-green:us-east-1/demo-east/demo-api',
    runId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    decision: 'abort',
    digest: proofDigest('5xx on green — back to blue'),
    nonce: 'b9f0c1e2-1111-4222-8333-944455556666',
  };

  it('round-trips, in base64url with the keys in a fixed order', () => {
    const encoded = encodeBinding(binding);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeBinding(encoded)).toEqual(binding);
    const reordered: ProofBinding = {
      nonce: binding.nonce,
      digest: binding.digest,
      decision: binding.decision,
      runId: binding.runId!,
      workflowId: binding.workflowId,
    };
    expect(encodeBinding(reordered)).toBe(encoded);
    expect(Buffer.from(encoded, 'base64url').toString('utf8')).toBe(
      JSON.stringify({
        workflowId: binding.workflowId,
        runId: binding.runId,
        decision: binding.decision,
        digest: binding.digest,
        nonce: binding.nonce,
      }),
    );
  });

  it('leaves runId out for a start, and round-trips any text length and non-ASCII', () => {
    const { runId: _runId, ...start } = binding;
    const encoded = encodeBinding({ ...start, decision: 'start' });
    expect(decodeBinding(encoded)).toEqual({ ...start, decision: 'start' });
    expect(encodeBinding({ ...binding, runId: '' })).toBe(encodeBinding({ ...start }));
    for (const workflowId of ['a', 'ab', 'abc', 'émergence:ü/日本', 'x'.repeat(300)]) {
      const b = { ...binding, workflowId };
      const e = encodeBinding(b);
      // The same bytes as Node's own base64url of the JSON (the module cannot use Buffer: it runs in workflows).
      expect(e).toBe(Buffer.from(JSON.stringify(b), 'utf8').toString('base64url'));
      expect(decodeBinding(e)).toEqual(b);
    }
  });

  it('decodes anything else to undefined', () => {
    expect(decodeBinding('')).toBeUndefined();
    expect(decodeBinding('not base64url!')).toBeUndefined();
    expect(decodeBinding(Buffer.from('{"workflowId":"w"}').toString('base64url'))).toBeUndefined();
    expect(decodeBinding(Buffer.from(JSON.stringify({ ...binding, runId: 42 })).toString('base64url'))).toBeUndefined();
    expect(decodeBinding(Buffer.from([0xff, 0xfe, 0xfd]).toString('base64url'))).toBeUndefined();
  });

  it('digests the text with sha256 (hex)', () => {
    expect(proofDigest('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(proofDigest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('stsEndpoint', () => {
  it('takes AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else the regional endpoint', () => {
    expect(
      stsEndpoint({ AWS_ENDPOINT_URL_STS: 'https://sts.vpce.example/', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }),
    ).toBe('https://sts.vpce.example');
    expect(stsEndpoint({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_REGION: 'eu-west-1' })).toBe(
      'http://127.0.0.1:5000',
    );
    expect(stsEndpoint({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-west-2' })).toBe(
      'https://sts.eu-west-1.amazonaws.com',
    );
    expect(stsEndpoint({ AWS_DEFAULT_REGION: 'us-west-2' })).toBe('https://sts.us-west-2.amazonaws.com');
    expect(stsEndpoint({})).toBe('https://sts.us-east-1.amazonaws.com');
    expect(stsEndpoint({ AWS_ENDPOINT_URL: '  ', AWS_REGION: 'cn-north-1' })).toBe(
      'https://sts.cn-north-1.amazonaws.com.cn',
    );
  });

  it('signs in the endpoint’s own region, else the process’s', () => {
    expect(stsSigningRegion('https://sts.eu-west-1.amazonaws.com', { AWS_REGION: 'us-west-2' })).toBe('eu-west-1');
    expect(stsSigningRegion('https://sts.amazonaws.com', { AWS_REGION: 'us-west-2' })).toBe('us-east-1');
    expect(stsSigningRegion('https://sts-fips.us-east-2.amazonaws.com', {})).toBe('us-east-2');
    expect(stsSigningRegion('http://127.0.0.1:5000', { AWS_REGION: 'us-west-2' })).toBe('us-west-2');
    expect(stsSigningRegion('http://127.0.0.1:5000', {})).toBe('us-east-1');
  });
});

// --- the activity and the CLI's builder, with a fake STS ---

const ENV = { AWS_ENDPOINT_URL_STS: 'http://sts.test:4566', AWS_REGION: 'eu-central-1' };
const KEYS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const TARGET: ProofTarget = { workflowId: 'wf', runId: 'run-1', decision: 'approve', text: 'ok' };

interface Seen {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A fetch that answers like STS, recording what it was sent. */
function fakeSts(answer: () => Response | Promise<Response>, seen: Seen[] = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({
      url: String(input),
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: String(init?.body),
    });
    return answer();
  }) as typeof fetch;
}

const xml = (status: number, body: string) => new Response(body, { status, headers: { 'content-type': 'text/xml' } });
const identityXml = (arn: string, userId: string) =>
  `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
  `<Arn>${arn}</Arn><UserId>${userId}</UserId><Account>123456789012</Account></GetCallerIdentityResult>` +
  `<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;
const errorXml = (code: string, message: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
  `<Message>${message}</Message></Error><RequestId>1</RequestId></ErrorResponse>`;

describe('verifyAwsProof with a fake STS', () => {
  it('forwards exactly the signed request to the worker’s own endpoint and reads the ARN', async () => {
    const seen: Seen[] = [];
    const sts = fakeSts(() => xml(200, identityXml('arn:aws:iam::123456789012:user/sre-bob', 'AIDABOB')), seen);
    const { verifyAwsProof } = createIdentityActivities(sts, ENV);
    const proof = await makeAwsProof(TARGET, {
      credentials: { ...KEYS, sessionToken: 'FwoGZXIvYXdzEXAMPLE/token+=' },
      env: ENV,
    });
    expect(proof.url).toBe('http://sts.test:4566/');
    expect(proof.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-central-1\/sts\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-runbooks-binding, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.stringify(proof)).not.toContain(KEYS.secretAccessKey);
    // What the payload schemas take (api/common.ts `proof`, `initiatorProof`).
    expect(awsProof.safeParse(proof).success).toBe(true);

    const who = await verifyAwsProof({ proof, expect: TARGET });
    expect(who).toMatchObject({ arn: 'arn:aws:iam::123456789012:user/sre-bob', kind: 'user', name: 'sre-bob' });
    expect(who.nonce).toBe(decodeBinding(proof.headers[BINDING_HEADER]!)!.nonce);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('http://sts.test:4566/');
    expect(seen[0]!.body).toBe('Action=GetCallerIdentity&Version=2011-06-15');
    const { host: _host, ...sent } = proof.headers;
    expect(seen[0]!.headers).toEqual(sent);
  });

  it('never calls a URL from the proof', async () => {
    const seen: Seen[] = [];
    const sts = fakeSts(() => xml(200, identityXml('arn:aws:iam::1:user/x', 'u')), seen);
    const proof = await makeAwsProof(TARGET, { credentials: KEYS, env: { AWS_ENDPOINT_URL: 'http://evil.test' } });
    const err = await rejection(createIdentityActivities(sts, ENV).verifyAwsProof({ proof, expect: TARGET }));
    expect(err.message).toMatch(/^the proof was signed for evil\.test; this worker verifies at sts\.test:4566: /);
    expect(seen).toHaveLength(0);
  });

  it.each([
    [
      'SignatureDoesNotMatch',
      403,
      /^STS refused the proof: SignatureDoesNotMatch: The request signature .* \(the request was changed after it was signed/,
    ],
    [
      'InvalidClientTokenId',
      403,
      /^STS refused the proof: InvalidClientTokenId: .* \(AWS does not know the signer’s access key/,
    ],
    ['ExpiredToken', 400, /^STS refused the proof: ExpiredToken: .* \(the signer’s session has expired: sign in again/],
    ['AccessDenied', 403, /^STS refused the proof: AccessDenied: denied &lt;sic&gt; & co$/],
  ])('refuses what STS refuses (%s), quoting it', async (code, status, message) => {
    const text =
      code === 'AccessDenied'
        ? 'denied &amp;lt;sic&amp;gt; &amp; co'
        : `The request signature we calculated … (${code})`;
    const sts = fakeSts(() => xml(status, errorXml(code, text)));
    const proof = await makeAwsProof(TARGET, { credentials: KEYS, env: ENV });
    const err = await rejection(createIdentityActivities(sts, ENV).verifyAwsProof({ proof, expect: TARGET }));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('IdentityRefused');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('lets STS trouble be retried: 5xx, throttling, no connection', async () => {
    const proof = await makeAwsProof(TARGET, { credentials: KEYS, env: ENV });
    const answers: (() => Response)[] = [
      () => xml(503, errorXml('ServiceUnavailable', 'try later')),
      () => xml(400, errorXml('Throttling', 'Rate exceeded')),
      () => {
        throw new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') });
      },
    ];
    const messages = [];
    for (const answer of answers) {
      const err = await rejection(
        createIdentityActivities(fakeSts(answer), ENV).verifyAwsProof({ proof, expect: TARGET }),
      );
      expect(err).not.toBeInstanceOf(ApplicationFailure);
      messages.push(err.message);
    }
    expect(messages).toEqual([
      'STS at http://sts.test:4566 could not verify the proof now (ServiceUnavailable: try later); will retry',
      'STS at http://sts.test:4566 could not verify the proof now (Throttling: Rate exceeded); will retry',
      'cannot reach STS at http://sts.test:4566 to verify the proof: Error: ECONNREFUSED',
    ]);
  });

  it('refuses an answer without an identity (the endpoint is not STS)', async () => {
    const sts = fakeSts(() => new Response('<html>hello</html>', { status: 200 }));
    const proof = await makeAwsProof(TARGET, { credentials: KEYS, env: ENV });
    const err = await rejection(createIdentityActivities(sts, ENV).verifyAwsProof({ proof, expect: TARGET }));
    expect(err.message).toMatch(
      /answered 200 without a caller identity: is this worker's AWS_ENDPOINT_URL_STS an STS endpoint/,
    );
  });

  it('refuses a proof before STS when its headers are doubled or its date is not one', async () => {
    const seen: Seen[] = [];
    const sts = fakeSts(() => xml(200, identityXml('arn:aws:iam::1:user/x', 'u')), seen);
    const { verifyAwsProof } = createIdentityActivities(sts, ENV);
    const proof = await makeAwsProof(TARGET, { credentials: KEYS, env: ENV });
    const doubled = { ...proof, headers: { ...proof.headers, 'X-Amz-Date': proof.headers['x-amz-date']! } };
    expect((await rejection(verifyAwsProof({ proof: doubled, expect: TARGET }))).message).toMatch(
      /gives the header x-amz-date twice/,
    );
    const badDate = { ...proof, headers: { ...proof.headers, 'x-amz-date': 'yesterday' } };
    expect((await rejection(verifyAwsProof({ proof: badDate, expect: TARGET }))).message).toMatch(
      /X-Amz-Date "yesterday" is not a date/,
    );
    const notAscii = { ...proof, headers: { ...proof.headers, 'x-amz-security-token': 'tok…en' } };
    expect((await rejection(verifyAwsProof({ proof: notAscii, expect: TARGET }))).message).toMatch(
      /header "x-amz-security-token" is not a valid HTTP header/,
    );
    const unsigned = { ...proof, headers: { ...proof.headers, authorization: 'Bearer x' } };
    expect((await rejection(verifyAwsProof({ proof: unsigned, expect: TARGET }))).message).toMatch(
      /Authorization is not an AWS4-HMAC-SHA256 signature/,
    );
    expect(seen).toHaveLength(0);
  });
});

describe('makeAwsProof', () => {
  it('says so when there are no usable credentials', async () => {
    const none = () => Promise.reject(new Error('Could not load credentials from any providers\nmore'));
    const err = await rejection(makeAwsProof(TARGET, { credentials: none, env: ENV }));
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe(
      '--aws: no AWS credentials found (AWS_PROFILE, aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): ' +
        'Could not load credentials from any providers',
    );
    const expired = { ...KEYS, expiration: new Date(Date.now() - 1000) };
    expect((await rejection(makeAwsProof(TARGET, { credentials: expired, env: ENV }))).message).toMatch(
      /^--aws: the AWS credentials expired at .*: sign in again \(aws sso login\)$/,
    );
  });

  it('gives each proof its own nonce', async () => {
    const [a, b] = await Promise.all([
      makeAwsProof(TARGET, { credentials: KEYS, env: ENV }),
      makeAwsProof(TARGET, { credentials: KEYS, env: ENV }),
    ]);
    expect(decodeBinding(a.headers[BINDING_HEADER]!)!.nonce).not.toBe(decodeBinding(b.headers[BINDING_HEADER]!)!.nonce);
  });
});
