// `--aws`: proof of who sends a decision, built from the sender's standard AWS credential chain (SSO, profiles,
// environment). It is an `sts:GetCallerIdentity` request, SigV4-signed, whose signature covers a header binding it to
// one decision on one run (api/identity.ts); the worker forwards it to STS, which answers with the signer's ARN
// (activities/identity.ts). The request carries a signature and, for temporary credentials, the session token —
// never the secret key.
import { createHash, createHmac, randomUUID, type Hash as NodeHash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import { BINDING_HEADER, encodeBinding, type AwsProof } from '../api/identity';
import { GET_CALLER_IDENTITY_BODY, proofDigest, stsEndpoint, stsSigningRegion } from '../activities/identity';
import { UserError } from './errors';

/** What a proof is bound to: the decision (`approve`, `reject`, a signal's name, `start`) on one run, with its text. */
export interface ProofTarget {
  workflowId: string;
  /** The run acted on; absent for `start` (the run does not exist yet). */
  runId?: string;
  decision: string;
  /** The comment (approve) or reason (reject, abort, rollback, abandon, keepScaled, start); '' when none. */
  text: string;
}

export interface ProofOptions {
  /** Sign with these instead of the default credential chain (tests: one IAM user's access key). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Sign as of this time instead of now (tests: an expired proof). */
  signingDate?: Date;
  /** The environment the STS endpoint and region are read from (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** Builds a signed proof for `target` (see the file's comment). A missing or unusable credential is a UserError. */
export async function makeAwsProof(target: ProofTarget, options: ProofOptions = {}): Promise<AwsProof> {
  const env = options.env ?? process.env;
  const endpoint = stsEndpoint(env);
  const url = new URL(endpoint);
  const path = url.pathname || '/';
  const credentials = await resolveCredentials(options.credentials);
  const binding = encodeBinding({
    workflowId: target.workflowId,
    ...(target.runId ? { runId: target.runId } : {}),
    decision: target.decision,
    digest: proofDigest(target.text),
    nonce: randomUUID(),
  });
  const request = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    method: 'POST',
    path,
    headers: {
      host: url.host,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      [BINDING_HEADER]: binding,
    },
    body: GET_CALLER_IDENTITY_BODY,
  });
  const signer = new SignatureV4({
    service: 'sts',
    region: stsSigningRegion(endpoint, env),
    credentials,
    sha256: Sha256,
    // No x-amz-content-sha256 header: STS does not need one (the SDK's own STS client sends none either).
    applyChecksum: false,
  });
  const signed = await signer.sign(request, options.signingDate ? { signingDate: options.signingDate } : {});
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = String(value);
  return { url: `${url.protocol}//${url.host}${path}`, method: 'POST', headers, body: GET_CALLER_IDENTITY_BODY };
}

async function resolveCredentials(given: ProofOptions['credentials']): Promise<AwsCredentialIdentity> {
  let credentials: AwsCredentialIdentity;
  try {
    credentials = typeof given === 'function' ? await given() : (given ?? (await defaultProvider()()));
  } catch (err) {
    throw new UserError(
      `--aws: no AWS credentials found (AWS_PROFILE, aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): ` +
        firstLine((err as Error).message),
    );
  }
  if (!credentials.accessKeyId || !credentials.secretAccessKey) {
    throw new UserError('--aws: the AWS credentials found have no access key (check AWS_PROFILE or run aws sso login)');
  }
  if (credentials.expiration && credentials.expiration.getTime() <= Date.now()) {
    throw new UserError(
      `--aws: the AWS credentials expired at ${credentials.expiration.toISOString()}: sign in again (aws sso login)`,
    );
  }
  return credentials;
}

const firstLine = (text: string) => text.split('\n')[0]!.trim();

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer takes (@smithy/hash-node is not installed). */
export class Sha256 implements Checksum {
  private hash: NodeHash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  update(data: Uint8Array | string): void {
    this.hash.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): NodeHash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.secret));
  }
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** The `--aws` option's help: `boundTo` says what the proof covers. */
export const awsOptionHelp = (boundTo: string) =>
  `prove it is you: an sts:GetCallerIdentity request signed with your AWS credentials (SSO, profile, env), ` +
  `bound to ${boundTo}; the worker has STS verify it (docs/identity.md)`;

/** `{ proof }` for a payload when `--aws` was given, else nothing. */
export async function proofField(aws: boolean | undefined, target: ProofTarget): Promise<{ proof?: AwsProof }> {
  return aws ? { proof: await makeAwsProof(target) } : {};
}
