// Verified identity (api/identity.ts): a decision may carry a proof — an `sts:GetCallerIdentity` request the sender
// signed (SigV4) with their own AWS credentials, the signature covering a header that binds it to one decision on one
// run. This activity checks the proof itself (where it was signed for, what it calls, what it is bound to, when it was
// signed), then forwards it to STS at the endpoint THIS worker is configured with — never a URL from the proof — and
// STS answers with the signer's ARN. The proof holds a signature, never a secret; replaying it elsewhere fails the
// binding, replaying it later fails the age check (and STS's own 15-minute limit).
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../api/failures';
import {
  BINDING_HEADER,
  PROOF_MAX_AGE_SECONDS,
  decodeBinding,
  principalOf,
  type AwsProof,
  type VerifiedPrincipal,
} from '../api/identity';
import { activityContext } from './poll';

/** The one request a proof may be: the body of an `sts:GetCallerIdentity` call. */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** How far in the future a proof's signing time may be (the signer's clock runs ahead). */
export const PROOF_MAX_SKEW_SECONDS = 300;

/** How long the worker waits for STS's answer. */
const STS_TIMEOUT_MS = 10_000;

/**
 * The STS endpoint a process uses (the CLI signs for it, the worker verifies at it): `AWS_ENDPOINT_URL_STS`, else
 * `AWS_ENDPOINT_URL` (an emulator), else the regional endpoint `https://sts.<region>.amazonaws.com` of
 * `AWS_REGION` / `AWS_DEFAULT_REGION` (us-east-1 when neither is set). No trailing slash.
 */
export function stsEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.AWS_ENDPOINT_URL_STS?.trim() || env.AWS_ENDPOINT_URL?.trim();
  if (explicit) return explicit.replace(/\/+$/, '');
  const region = envRegion(env) ?? 'us-east-1';
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/**
 * The region a proof for `endpoint` is signed in: the one in a regional STS host name (`sts.eu-west-1.amazonaws.com`),
 * us-east-1 for the global `sts.amazonaws.com`, else (an emulator, a VPC endpoint) the process's region.
 */
export function stsSigningRegion(endpoint: string, env: NodeJS.ProcessEnv = process.env): string {
  const host = new URL(endpoint).hostname.toLowerCase();
  const regional = /^sts(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host);
  if (regional?.[1]) return regional[1];
  if (host === 'sts.amazonaws.com') return 'us-east-1';
  return envRegion(env) ?? 'us-east-1';
}

const envRegion = (env: NodeJS.ProcessEnv) => env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || undefined;

/** sha256 (hex) of a decision's comment or reason: what a proof's binding carries as `digest`. */
export function proofDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface VerifyAwsProofInput {
  proof: AwsProof;
  /** What the proof must be bound to: the decision being taken, on this run, with this comment or reason. */
  expect: { workflowId: string; runId?: string; decision: string; text: string };
}

export type VerifiedProof = VerifiedPrincipal & {
  /** The binding's nonce: a proof is counted once. */
  nonce: string;
  /** When it was signed (ISO 8601), from its X-Amz-Date. */
  signedAt: string;
};

/** A proof that does not prove what it must: never retried, the message says what is wrong. */
const refuse = (message: string) =>
  ApplicationFailure.create({ type: FailureType.IdentityRefused, message, nonRetryable: true });

export function createIdentityActivities(fetchImpl: typeof fetch = fetch, env: NodeJS.ProcessEnv = process.env) {
  return {
    /**
     * Who signed `proof`, as STS says, once the proof is shown to be bound to `expect` and fresh. Refusals are
     * IdentityRefused (non-retryable); STS not answering (5xx, throttling, network) is an ordinary, retried error.
     */
    async verifyAwsProof(input: VerifyAwsProofInput): Promise<VerifiedProof> {
      const { proof, expect } = input;
      const endpoint = new URL(stsEndpoint(env));
      const checked = checkProof(proof, expect, endpoint);
      const principal = await askSts(fetchImpl, endpoint, proof, checked.signedHeaders);
      return { ...principal, nonce: checked.nonce, signedAt: checked.signedAt.toISOString() };
    },
  };
}

interface CheckedProof {
  signedHeaders: string[];
  nonce: string;
  signedAt: Date;
}

/** Every check that needs no call: throws IdentityRefused naming what is wrong. Exported for the unit tests. */
export function checkProof(
  proof: AwsProof,
  expect: VerifyAwsProofInput['expect'],
  endpoint: URL,
  now: number = Date.now(),
): CheckedProof {
  const redo = 'make a new one with the runbook CLI (--aws)';

  // Where it was signed for: this worker's STS endpoint, and nothing else.
  let url: URL;
  try {
    url = new URL(proof.url);
  } catch {
    throw refuse(`the proof's URL ${JSON.stringify(proof.url)} is not a URL; ${redo}`);
  }
  if (url.host.toLowerCase() !== endpoint.host.toLowerCase()) {
    throw refuse(
      `the proof was signed for ${url.host}; this worker verifies at ${endpoint.host}: run the CLI with the same ` +
        `AWS_ENDPOINT_URL/region as the worker (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, AWS_REGION)`,
    );
  }
  const path = endpoint.pathname || '/';
  if (url.pathname !== path || url.search !== '') {
    throw refuse(`the proof was signed for ${url.pathname}${url.search}, not ${path}: it is not an STS call; ${redo}`);
  }

  // What it calls: GetCallerIdentity and nothing else.
  if (proof.method !== 'POST' || !isGetCallerIdentity(proof.body)) {
    throw refuse(
      `the proof is not an sts:GetCallerIdentity call (body ${JSON.stringify(proof.body.slice(0, 100))}); ${redo}`,
    );
  }

  // Headers, case-insensitively, each once.
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(proof.headers)) {
    const key = name.toLowerCase();
    if (headers.has(key)) throw refuse(`the proof gives the header ${key} twice; ${redo}`);
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key) || !/^[\x20-\x7e]*$/.test(value)) {
      throw refuse(`the proof's header ${JSON.stringify(key.slice(0, 100))} is not a valid HTTP header; ${redo}`);
    }
    headers.set(key, value);
  }

  // How it is signed: SigV4, over the host, the date and the binding.
  const authorization = headers.get('authorization') ?? '';
  const auth = /^AWS4-HMAC-SHA256 +Credential=([^,\s]+), *SignedHeaders=([^,\s]+), *Signature=([0-9a-f]{64})$/.exec(
    authorization.trim(),
  );
  if (!auth) {
    throw refuse(
      authorization
        ? `the proof's Authorization is not an AWS4-HMAC-SHA256 signature; ${redo}`
        : `the proof has no Authorization header: it is not signed; ${redo}`,
    );
  }
  const [, credential = '', signedList = ''] = auth;
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[3] !== 'sts' || scope[4] !== 'aws4_request') {
    throw refuse(`the proof is not signed for STS (credential scope ${scope.slice(1).join('/')}); ${redo}`);
  }
  const signedHeaders = signedList.split(';');
  for (const required of ['host', 'x-amz-date', BINDING_HEADER]) {
    if (!signedHeaders.includes(required)) {
      throw refuse(`the proof's signature does not cover the ${required} header; ${redo}`);
    }
  }
  for (const name of signedHeaders) {
    if (!headers.has(name)) throw refuse(`the proof signs a header it does not carry (${name}); ${redo}`);
  }
  if (headers.has('x-amz-security-token') && !signedHeaders.includes('x-amz-security-token')) {
    throw refuse(`the proof's session token (x-amz-security-token) is not signed; ${redo}`);
  }
  const signedHost = headers.get('host') ?? '';
  if (signedHost.toLowerCase() !== url.host.toLowerCase()) {
    throw refuse(`the proof's Host header (${signedHost}) is not its URL's host (${url.host}); ${redo}`);
  }

  // What it is bound to: this decision, on this run, with this text.
  const binding = decodeBinding(headers.get(BINDING_HEADER) ?? '');
  if (!binding) throw refuse(`the proof's ${BINDING_HEADER} header is not a binding the runbook CLI made; ${redo}`);
  if (binding.workflowId !== expect.workflowId) {
    throw refuse(`the proof was signed for workflow ${binding.workflowId}, not ${expect.workflowId}`);
  }
  if (expect.runId !== undefined && binding.runId !== expect.runId) {
    throw refuse(
      binding.runId
        ? `the proof was signed for run ${binding.runId}, not run ${expect.runId} of ${expect.workflowId}`
        : `the proof names no run; it must be signed for run ${expect.runId} of ${expect.workflowId}`,
    );
  }
  if (binding.decision !== expect.decision) {
    throw refuse(`the proof was signed for decision ${binding.decision}, not ${expect.decision}`);
  }
  if (binding.digest !== proofDigest(expect.text)) {
    throw refuse(
      `the proof was signed for another text: the comment or reason sent is not the one signed ` +
        `(sha256 ${binding.digest.slice(0, 12)}…, sent ${proofDigest(expect.text).slice(0, 12)}…)`,
    );
  }

  // When it was signed: within the last PROOF_MAX_AGE_SECONDS, allowing for a clock somewhat ahead.
  const amzDate = headers.get('x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt) throw refuse(`the proof's X-Amz-Date ${JSON.stringify(amzDate)} is not a date; ${redo}`);
  if (scope[1] !== amzDate.slice(0, 8)) {
    throw refuse(`the proof's credential date ${scope[1]} is not its X-Amz-Date ${amzDate}; ${redo}`);
  }
  const ageSeconds = Math.floor((now - signedAt.getTime()) / 1000);
  if (ageSeconds > PROOF_MAX_AGE_SECONDS) {
    throw refuse(
      `the proof has expired: signed ${seconds(ageSeconds)} ago (a proof counts for ${seconds(PROOF_MAX_AGE_SECONDS)}); ${redo}`,
    );
  }
  if (-ageSeconds > PROOF_MAX_SKEW_SECONDS) {
    throw refuse(
      `the proof was signed ${seconds(-ageSeconds)} in the future (at most ${seconds(PROOF_MAX_SKEW_SECONDS)} of ` +
        `clock skew is accepted): set the signing machine's clock right`,
    );
  }
  return { signedHeaders, nonce: binding.nonce, signedAt };
}

/** Exactly `Action=GetCallerIdentity&Version=2011-06-15`, in either order, nothing else. */
function isGetCallerIdentity(body: string): boolean {
  const params = [...new URLSearchParams(body)];
  if (params.length !== 2) return false;
  const map = new Map(params);
  return map.size === 2 && map.get('Action') === 'GetCallerIdentity' && map.get('Version') === '2011-06-15';
}

/** `20240131T235959Z` → a Date, or undefined. */
function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h, mi, s));
  return Number.isNaN(date.getTime()) || date.getUTCDate() !== d ? undefined : date;
}

/** 420 → "7m", 45 → "45s", 90 → "1m30s". */
function seconds(total: number): string {
  if (total < 60) return `${total}s`;
  const m = Math.floor(total / 60);
  const s = total % 60;
  if (m >= 120) return `${Math.floor(m / 60)}h`;
  return s ? `${m}m${s}s` : `${m}m`;
}

/** POSTs the proof, as signed, to STS at `endpoint`; STS's answer → the principal, or a refusal quoting STS. */
async function askSts(
  fetchImpl: typeof fetch,
  endpoint: URL,
  proof: AwsProof,
  signedHeaders: string[],
): Promise<VerifiedPrincipal> {
  // Exactly the signed headers (fetch sets Host from the URL: the endpoint's host, which the proof was signed for).
  const lower = Object.fromEntries(Object.entries(proof.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) if (name !== 'host') headers[name] = lower[name]!;
  headers.authorization = lower.authorization!;
  const target = new URL(endpoint.pathname || '/', endpoint);
  const ctx = activityContext();
  const signal = AbortSignal.any([AbortSignal.timeout(STS_TIMEOUT_MS), ...(ctx ? [ctx.cancellationSignal] : [])]);
  let status: number;
  let text: string;
  try {
    const res = await fetchImpl(target, { method: 'POST', headers, body: proof.body, signal, redirect: 'manual' });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const cause = (err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message;
    throw new Error(`cannot reach STS at ${target.origin} to verify the proof: ${cause}`);
  }
  if (status >= 200 && status < 300) {
    const arn = xmlText(text, 'Arn');
    const userId = xmlText(text, 'UserId');
    if (!arn || !userId) {
      throw ApplicationFailure.create({
        type: FailureType.IdentityRefused,
        nonRetryable: true,
        message:
          `STS at ${target.origin} answered ${status} without a caller identity: is this worker's ` +
          `AWS_ENDPOINT_URL_STS an STS endpoint?`,
      });
    }
    const principal = principalOf(arn, userId);
    const account = xmlText(text, 'Account');
    return account && !principal.account ? { ...principal, account } : principal;
  }
  const code = xmlText(text, 'Code');
  const message = xmlText(text, 'Message');
  const quoted = `${code ?? `HTTP ${status}`}${message ? `: ${message}` : ''}`;
  // Throttling and STS's own trouble pass; anything else it says about the request is final.
  if (status >= 500 || status === 429 || /^Throttl/i.test(code ?? '')) {
    throw new Error(`STS at ${target.origin} could not verify the proof now (${quoted}); will retry`);
  }
  throw refuse(`STS refused the proof: ${quoted}${stsHint(code)}`);
}

/** What a person does about STS's refusal. */
function stsHint(code: string | undefined): string {
  switch (code) {
    case 'ExpiredToken':
    case 'ExpiredTokenException':
      return ' (the signer’s session has expired: sign in again, e.g. aws sso login, and send a new proof)';
    case 'SignatureDoesNotMatch':
      return ' (the request was changed after it was signed, or signed for another region: send a new proof with --aws)';
    case 'InvalidClientTokenId':
    case 'UnrecognizedClientException':
      return ' (AWS does not know the signer’s access key: check the profile or credentials the CLI uses)';
    default:
      return '';
  }
}

/** The text of the first `<tag>` in an XML document, entities decoded. */
function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (!m) return undefined;
  return m[1]!
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}
