// Acting in other AWS accounts: which account an input's `account` names, which role the worker assumes there, the
// session name that tells CloudTrail which run acted, the partition a region belongs to, and the cache of the
// assumed role's credentials. The AWS clients use it (activities/aws-clients.ts); the activity interceptor resolves
// the run's account with it before the activity runs (activities/account-context.ts). See docs/accounts.md.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { ACCOUNT_ID, ACCOUNT_NAME } from '../api/accounts';
import type { AccountEntry } from '../api/policy';

// ——— Partitions ———

export type Partition =
  | 'aws'
  | 'aws-us-gov'
  | 'aws-cn'
  | 'aws-iso'
  | 'aws-iso-b'
  | 'aws-iso-e'
  | 'aws-iso-f'
  | 'aws-eusc';

/**
 * Each partition by the prefix of its region names, with the region its global services (Route 53, IAM) are signed
 * in — as the AWS SDK's endpoint rules have them. Longest prefixes first (`us-isob-` before `us-iso-`); the
 * commercial partition takes the rest.
 */
const PARTITIONS: { prefix: string; partition: Partition; globalRegion: string }[] = [
  { prefix: 'us-gov-', partition: 'aws-us-gov', globalRegion: 'us-gov-west-1' },
  { prefix: 'cn-', partition: 'aws-cn', globalRegion: 'cn-northwest-1' },
  { prefix: 'us-isob-', partition: 'aws-iso-b', globalRegion: 'us-isob-east-1' },
  { prefix: 'us-isof-', partition: 'aws-iso-f', globalRegion: 'us-isof-south-1' },
  { prefix: 'us-iso-', partition: 'aws-iso', globalRegion: 'us-iso-east-1' },
  { prefix: 'eu-isoe-', partition: 'aws-iso-e', globalRegion: 'eu-isoe-west-1' },
  { prefix: 'eusc-', partition: 'aws-eusc', globalRegion: 'eusc-de-east-1' },
];

/** The partition of a region: `us-gov-west-1` → aws-us-gov, `cn-north-1` → aws-cn, `eu-west-1` → aws. */
export function partitionOf(region: string): Partition {
  return PARTITIONS.find((p) => region.startsWith(p.prefix))?.partition ?? 'aws';
}

/** Where a partition's global services are signed: aws us-east-1, aws-us-gov us-gov-west-1, aws-cn cn-northwest-1. */
export function globalRegion(partition: Partition): string {
  return PARTITIONS.find((p) => p.partition === partition)?.globalRegion ?? 'us-east-1';
}

/**
 * The worker's own partition, for the global services whose calls name no region (Route 53): from the region the
 * worker is configured with (AWS_REGION, else AWS_DEFAULT_REGION); the commercial partition when none is set.
 */
export function workerPartition(env: NodeJS.ProcessEnv = process.env): Partition {
  const region = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim();
  return region ? partitionOf(region) : 'aws';
}

// ——— Which account, which role ———

/** The worker's settings for other accounts: the policy's named accounts and the defaults from the environment. */
export interface AccountsConfig {
  /** The organisation policy's `accounts` (name → id, roleArn?, externalId?). */
  named: Record<string, AccountEntry>;
  /**
   * RUNBOOKS_ACCOUNT_ROLE: the role's name (optionally with its path, `ops/runbooks-target`) in any target account
   * that the policy does not give a roleArn for.
   */
  roleName?: string | undefined;
  /** RUNBOOKS_ACCOUNT_EXTERNAL_ID: the external ID where the policy gives none. */
  externalId?: string | undefined;
}

export const ACCOUNT_ROLE_ENV = 'RUNBOOKS_ACCOUNT_ROLE';
export const ACCOUNT_EXTERNAL_ID_ENV = 'RUNBOOKS_ACCOUNT_EXTERNAL_ID';

/** Checks the environment's part of the configuration; errors name the variable. */
export function accountsConfig(
  named: Record<string, AccountEntry> | undefined,
  env: NodeJS.ProcessEnv,
): AccountsConfig {
  const roleName = env[ACCOUNT_ROLE_ENV]?.trim() || undefined;
  const externalId = env[ACCOUNT_EXTERNAL_ID_ENV]?.trim() || undefined;
  if (roleName !== undefined && !/^([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/.test(roleName)) {
    throw new Error(
      `${ACCOUNT_ROLE_ENV}: expected an IAM role name, optionally with its path (e.g. "runbooks-target" or ` +
        `"ops/runbooks-target"), got "${roleName}"`,
    );
  }
  if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
    throw new Error(`${ACCOUNT_EXTERNAL_ID_ENV}: expected 2 to 1224 characters of letters, digits and +=,.@:/-`);
  }
  return { named: named ?? {}, roleName, externalId };
}

/** The account a run acts in, resolved from its input's `account`. The role ARN needs the partition: see roleArn. */
export interface TargetAccount {
  /** What the input said (an ID or a name), for messages. */
  ref: string;
  id: string;
  /** The policy's role ARN, or the role name (with path) to use in the account's partition. */
  role: { arn: string } | { name: string };
  externalId?: string | undefined;
}

/** How a target account is named in messages: `prod (111122223333)` or `111122223333`. */
export const describeAccount = (t: Pick<TargetAccount, 'ref' | 'id'>) => (t.ref === t.id ? t.id : `${t.ref} (${t.id})`);

/**
 * Resolve an input's `account`: a name from the policy, or an ID (the policy's entry with that ID when there is one,
 * else RUNBOOKS_ACCOUNT_ROLE). Throws a non-retryable InvalidInput naming `input.account` when it cannot: the
 * activity interceptor does this before the run's first activity (the organisation policy), so a run that names an
 * unknown account fails at its start, before it changes anything (the run's failure says "Nothing was changed.").
 */
export function resolveAccount(ref: string, config: AccountsConfig): TargetAccount {
  const invalid = (why: string) =>
    ApplicationFailure.create({
      type: 'InvalidInput',
      message: `invalid input: input.account: ${why}`,
      nonRetryable: true,
    });
  let id: string;
  let entry: AccountEntry | undefined;
  if (ACCOUNT_ID.test(ref)) {
    id = ref;
    entry = Object.values(config.named).find((a) => a.id === ref);
  } else if (ACCOUNT_NAME.test(ref)) {
    entry = config.named[ref];
    if (!entry) {
      const known = Object.keys(config.named);
      throw invalid(
        `no account named "${ref}" in the organisation policy (` +
          (known.length
            ? `its accounts: ${known.join(', ')}`
            : 'it names no accounts: RUNBOOKS_POLICY_FILE, accounts') +
          '); give a known name or a 12-digit account ID',
      );
    }
    id = entry.id;
  } else {
    throw invalid(`"${ref}" is neither a 12-digit account ID nor an account name`);
  }
  const externalId = entry?.externalId ?? config.externalId;
  if (entry?.roleArn) return { ref, id, role: { arn: entry.roleArn }, externalId };
  if (!config.roleName) {
    throw invalid(
      `the worker has no role to assume in account ${describeAccount({ ref, id })}: give the account a roleArn in ` +
        `the organisation policy's accounts, or set ${ACCOUNT_ROLE_ENV} on the worker`,
    );
  }
  return { ref, id, role: { name: config.roleName }, externalId };
}

/** The role to assume for `target` in `partition` (`arn:aws-us-gov:iam::<id>:role/<name>` in GovCloud). */
export function roleArn(target: TargetAccount, partition: Partition): string {
  return 'arn' in target.role ? target.role.arn : `arn:${partition}:iam::${target.id}:role/${target.role.name}`;
}

// ——— Session names ———

const SESSION_MAX = 64;

/**
 * The RoleSessionName of a run's assumed role: its workflow ID, so CloudTrail in the target account says which run
 * acted. STS allows 2 to 64 characters of [\w+=,.@-]: every other character becomes `.` (`emergency-scale:us-east-1/
 * demo/api` → `emergency-scale.us-east-1.demo.api`); a longer ID keeps its start and ends with a hash of the whole,
 * so two long IDs that differ only at the end still get different session names.
 */
export function sessionName(workflowId: string | undefined): string {
  const clean = (workflowId ?? '').replace(/[^\w+=,.@-]/g, '.');
  if (clean.length < 2) return 'runbooks';
  if (clean.length <= SESSION_MAX) return clean;
  const hash = createHash('sha256')
    .update(workflowId ?? '')
    .digest('hex')
    .slice(0, 8);
  return `${clean.slice(0, SESSION_MAX - hash.length - 1)}-${hash}`;
}

// ——— The assumed role's credentials ———

export interface AssumedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** One sts:AssumeRole call (a real STS client in the worker, a fake in unit tests). */
export type AssumeRole = (request: {
  region: string;
  roleArn: string;
  sessionName: string;
  externalId?: string | undefined;
}) => Promise<AssumedCredentials>;

/** Credentials are renewed this long before they expire: a call signed just before expiry must still get through. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/** STS errors a retry cannot fix: the role or its trust policy refuses the worker, or the request itself is wrong. */
const REFUSALS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'InvalidClientTokenId',
  'MalformedPolicyDocument',
  'RegionDisabledException',
  'ValidationError',
]);

/**
 * The assumed roles' credentials, one entry per role, external ID and session (= run): a run's calls reuse its
 * credentials until 5 minutes before they expire, then the next call assumes the role again. Calls that need the
 * same credentials at once share one AssumeRole. A refusal is non-retryable, typed by STS's error name (AccessDenied)
 * and naming the account and the role; other failures (throttling, the network) stay retryable.
 */
export class CredentialCache {
  private readonly entries = new Map<string, { value?: AssumedCredentials; pending?: Promise<AssumedCredentials> }>();

  constructor(
    private readonly assumeRole: AssumeRole,
    private readonly now: () => number = Date.now,
  ) {}

  async get(o: {
    target: TargetAccount;
    roleArn: string;
    sessionName: string;
    region: string;
  }): Promise<AssumedCredentials> {
    const key = `${o.roleArn}\n${o.target.externalId ?? ''}\n${o.sessionName}`;
    const entry = this.entries.get(key) ?? {};
    if (entry.value && entry.value.expiration.getTime() - REFRESH_BEFORE_MS > this.now()) return entry.value;
    if (entry.pending) return entry.pending;
    this.evictExpired();
    const pending = this.assume(o).then(
      (value) => {
        this.entries.set(key, { value });
        return value;
      },
      (err: unknown) => {
        this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, { ...entry, pending });
    return pending;
  }

  /** How many sessions are cached (for tests). */
  get size(): number {
    return this.entries.size;
  }

  private async assume(o: {
    target: TargetAccount;
    roleArn: string;
    sessionName: string;
    region: string;
  }): Promise<AssumedCredentials> {
    try {
      return await this.assumeRole({
        region: o.region,
        roleArn: o.roleArn,
        sessionName: o.sessionName,
        externalId: o.target.externalId,
      });
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (!REFUSALS.has(name)) throw err;
      throw ApplicationFailure.create({
        // AWS's own error name (AccessDenied, …): non-retryable in every activity proxy already, and what a script
        // that reads a run's failure type expects of a refused call.
        type: name,
        message:
          `cannot act in account ${describeAccount(o.target)}: sts:AssumeRole on ${o.roleArn} was refused ` +
          `(${name}: ${(err as Error).message}). Check that the role exists, that its trust policy lets this ` +
          `worker's role assume it${o.target.externalId ? ' with the configured external ID' : ''}, and that the ` +
          `worker's role may call sts:AssumeRole on it (docs/accounts.md).`,
        nonRetryable: true,
        cause: err as Error,
      });
    }
  }

  /** Sessions of runs that ended are forgotten once their credentials expire. */
  private evictExpired(): void {
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (!e.pending && e.value && e.value.expiration.getTime() <= now) this.entries.delete(key);
    }
  }
}
