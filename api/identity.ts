// Verified identity: a decision (approve, reject, a steering signal, a start) can carry a proof of who sent it — an
// `sts:GetCallerIdentity` request signed (SigV4) with the sender's own AWS credentials, never the credentials
// themselves. The signature covers a header binding it to one decision on one run; the worker forwards the request
// to STS at the endpoint it is configured with, and STS answers with the caller's ARN (activities/identity.ts).
// Here: the proof's shape, the binding's format and the ARN patterns approver lists are written in. Pure code: the
// workflows use it too.
import { z } from 'zod';

/** The header that binds a proof to one decision; it must be among the request's signed headers. */
export const BINDING_HEADER = 'x-runbooks-binding';

/** How long a proof counts after it was signed (STS itself accepts a signature for 15 minutes). */
export const PROOF_MAX_AGE_SECONDS = 300;

/** A signed `sts:GetCallerIdentity` request, as the CLI built it. */
export const awsProof = z
  .object({
    /** Where it was signed for: the worker refuses a proof signed for another STS endpoint than its own. */
    url: z.url({ protocol: /^https?$/ }),
    method: z.literal('POST'),
    headers: z.record(z.string().max(100), z.string().max(8000)),
    body: z.string().max(1000),
  })
  .strict();
export type AwsProof = z.infer<typeof awsProof>;

/** What a proof is bound to. `digest`: sha256 (hex) of the decision's comment or reason ('' when none). */
export interface ProofBinding {
  workflowId: string;
  /** The run's ID; absent for a start (the run does not exist yet). */
  runId?: string;
  /** `approve`, `reject`, a steering signal's name, or `start`. */
  decision: string;
  digest: string;
  /** Random, so two proofs for the same decision differ (a proof is counted once). */
  nonce: string;
}

/** The binding header's value: base64url of its JSON, keys in a fixed order. */
export function encodeBinding(b: ProofBinding): string {
  const ordered = {
    workflowId: b.workflowId,
    ...(b.runId ? { runId: b.runId } : {}),
    decision: b.decision,
    digest: b.digest,
    nonce: b.nonce,
  };
  return base64url(JSON.stringify(ordered));
}

export function decodeBinding(value: string): ProofBinding | undefined {
  try {
    const parsed = JSON.parse(fromBase64url(value)) as Partial<ProofBinding>;
    if (
      typeof parsed.workflowId !== 'string' ||
      typeof parsed.decision !== 'string' ||
      typeof parsed.digest !== 'string' ||
      typeof parsed.nonce !== 'string' ||
      (parsed.runId !== undefined && typeof parsed.runId !== 'string')
    ) {
      return undefined;
    }
    return parsed as ProofBinding;
  } catch {
    return undefined;
  }
}

/** Who STS says signed a proof. */
export interface VerifiedPrincipal {
  /** As STS returns it, e.g. `arn:aws:iam::123456789012:user/sre-bob` or `arn:aws:sts::…:assumed-role/Role/session`. */
  arn: string;
  account: string;
  userId: string;
  kind: 'user' | 'assumed-role' | 'root' | 'other';
  /** The user's name, or the role's name for an assumed role. */
  name: string;
  /** An assumed role's session name (with AWS SSO: the person's user name or e-mail). */
  session?: string;
}

/** Reads an ARN STS returned. */
export function principalOf(arn: string, userId: string): VerifiedPrincipal {
  const [, , service, , account = '', resource = ''] = arn.split(':');
  const base = { arn, account, userId };
  if (service === 'iam' && resource === 'root') return { ...base, kind: 'root', name: 'root' };
  if (service === 'iam' && resource.startsWith('user/')) {
    return { ...base, kind: 'user', name: resource.split('/').pop() ?? resource };
  }
  if (service === 'sts' && resource.startsWith('assumed-role/')) {
    const [, role = '', session = ''] = resource.split('/');
    return { ...base, kind: 'assumed-role', name: role, session };
  }
  return { ...base, kind: 'other', name: resource };
}

/**
 * One person, whatever the session: an IAM user's ARN, or an assumed role with its session name (two people signed
 * in through one SSO role are two sessions). Used for "distinct approvers" and "not the initiator".
 */
export const principalKey = (p: Pick<VerifiedPrincipal, 'arn'>): string => p.arn.toLowerCase();

/** An approver list entry that is an ARN pattern (the rest are declared names). */
export const isArnPattern = (entry: string): boolean => entry.startsWith('arn:');

/**
 * Whether `arn` matches the glob `pattern` (`*` is any run of characters, `?` one). An assumed role matches as a
 * role: `arn:aws:sts::*:assumed-role/AWSReservedSSO_SRE_*` followed by `/*` matches every session of those roles;
 * a pattern for the role itself (`arn:aws:iam::123:role/Name`) matches its sessions too.
 */
export function arnMatches(pattern: string, arn: string): boolean {
  if (globMatches(pattern, arn)) return true;
  const assumed = /^arn:(aws[\w-]*):sts::(\d+):assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (assumed) {
    const [, partition, account, role] = assumed;
    return globMatches(pattern, `arn:${partition}:iam::${account}:role/${role}`);
  }
  return false;
}

function globMatches(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
    'i',
  );
  return re.test(text);
}

// base64url without Node's Buffer (this module is bundled into the workflows).
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a = 0, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    const chars = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63].map((k) => ALPHABET.charAt(k));
    out += chars.slice(0, Math.min(4, bytes.length - i + 1)).join('');
  }
  return out;
}

function fromBase64url(text: string): string {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new Error('not base64url');
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
}
