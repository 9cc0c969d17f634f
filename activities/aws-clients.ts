// AWS SDK v3 clients, built once per region from the standard credential chain. The endpoint comes from the
// standard AWS_ENDPOINT_URL(_<SERVICE>) variables, so the same code reaches real AWS or an emulator.
//
// A run that targets another AWS account (input `account`) gets clients of that account: built once per account,
// service and region, signing with the credentials of the role the worker assumes there (activities/accounts.ts),
// found through the activity's account context (activities/account-context.ts). Without that context — the
// worker's own account — the clients are the same as ever.
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { CodeDeployClient } from '@aws-sdk/client-codedeploy';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { currentAccount, type AccountContext } from './account-context';
import {
  CredentialCache,
  globalRegion,
  partitionOf,
  roleArn,
  workerPartition,
  type AssumeRole,
  type AssumedCredentials,
} from './accounts';
import { abortSignal } from './poll';
import { RATE_LIMITS_ENV, TokenBucket, acquire, parseRateLimits, type RateLimits } from './rate-limit';

export interface AwsClients {
  ecs(region: string): ECSClient;
  /**
   * Route 53 is global: signed in its partition's home region (us-east-1, us-gov-west-1, cn-northwest-1), the
   * partition of `region` when given, else the worker's own (AWS_REGION).
   */
  route53(region?: string): Route53Client;
  rds(region: string): RDSClient;
  cloudwatch(region: string): CloudWatchClient;
  secrets(region: string): SecretsManagerClient;
  elbv2(region: string): ElasticLoadBalancingV2Client;
  autoscaling(region: string): ApplicationAutoScalingClient;
  codedeploy(region: string): CodeDeployClient;
  logs(region: string): CloudWatchLogsClient;
  s3(region: string): S3Client;
}

/** Explicit static credentials (e.g. one IAM user's access key in a test); normally the standard chain is used. */
export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A client whose middleware stack the rate limit joins (every SDK v3 client). */
interface MiddlewareClient {
  destroy(): void;
  middlewareStack: { identify(): string[] };
}

/** The part of an SDK middleware stack limitRate uses, on the loose types of its own middleware. */
type Middleware = (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>;
interface LooseStack {
  identify(): string[];
  addRelativeTo(mw: Middleware, options: { relation: 'before'; toMiddleware: string; name: string }): void;
  add(mw: Middleware, options: { step: 'finalizeRequest'; priority: 'low'; name: string }): void;
}

/**
 * The credentials of another account: a function the SDK calls for each request. `memoized` tells the SDK not to
 * memoize it itself (it would keep the first run's session for every run); the CredentialCache does that per run.
 */
type CredentialProvider = (() => Promise<AssumedCredentials>) & { memoized: true };

type Ctor<C> = new (config: {
  region: string;
  maxAttempts?: number;
  endpoint?: string;
  credentials?: StaticCredentials | CredentialProvider;
}) => C;

/**
 * Lazily builds and caches one client per service and region. `endpoint` overrides AWS_ENDPOINT_URL for every
 * service (e.g. a fault-injecting proxy in tests); normally leave it unset. `credentials` replaces the standard
 * credential chain (e.g. a least-privilege IAM user in tests); normally leave it unset too.
 *
 * Every call of every client waits its turn in a token bucket of its service and region (activities/rate-limit.ts):
 * `rateLimits` when given, else RUNBOOKS_AWS_RATE_LIMITS over the defaults. The buckets are this object's: one
 * worker process, one set of buckets. Each attempt takes a token (a retry is a call AWS counts too).
 */
export function createAwsClients(
  options: {
    maxAttempts?: number;
    endpoint?: string;
    credentials?: StaticCredentials;
    rateLimits?: RateLimits;
    /** How another account's role is assumed (tests: a fake); default: STS with the worker's own credentials. */
    assumeRole?: AssumeRole;
  } = {},
): AwsClients & { destroy(): void } {
  const cache = new Map<string, { destroy(): void }>();
  const limits = options.rateLimits ?? parseRateLimits(process.env[RATE_LIMITS_ENV]);
  const base = {
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };

  // STS, for the roles of other accounts: the worker's own credentials, and the regional endpoint of the region the
  // credentials are first needed in — its partition's STS, and no dependence on us-east-1 (nor on STS in a region
  // the run is failing away from, once it holds credentials).
  const sts = new Map<string, STSClient>();
  const assumeRole: AssumeRole =
    options.assumeRole ??
    (async ({ region, roleArn: arn, sessionName, externalId }) => {
      let client = sts.get(region);
      if (!client) {
        client = new STSClient({
          region,
          ...base,
          ...(options.credentials ? { credentials: options.credentials } : {}),
        });
        sts.set(region, client);
      }
      const out = await client.send(
        new AssumeRoleCommand({
          RoleArn: arn,
          RoleSessionName: sessionName,
          ...(externalId ? { ExternalId: externalId } : {}),
          DurationSeconds: 3600,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new Error(`sts:AssumeRole on ${arn} returned no credentials`);
      }
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
    });
  const credentialCache = new CredentialCache(assumeRole);

  /** The credentials of `account`'s role in `region`'s partition, for the run the calling activity belongs to. */
  function accountCredentials(account: AccountContext, region: string): CredentialProvider {
    const arn = roleArn(account.target, partitionOf(region));
    const provider = async () => {
      // The session of the run making this call (one client serves every run in the account).
      const now = currentAccount();
      const session = now && now.target.id === account.target.id ? now.sessionName : account.sessionName;
      return credentialCache.get({ target: account.target, roleArn: arn, sessionName: session, region });
    };
    return Object.assign(provider, { memoized: true as const });
  }

  function get<C extends MiddlewareClient>(ctor: Ctor<C>, service: string, region: string): C {
    const account = currentAccount();
    const t = account?.target;
    // One client per account (and its role and external ID), service and region; the bucket is the client's, so
    // each account has its own rate limits, as AWS counts them.
    const key = t
      ? `${t.id}|${roleArn(t, partitionOf(region))}|${t.externalId ?? ''}/${service}/${region}`
      : `${service}/${region}`;
    let client = cache.get(key) as C | undefined;
    if (!client) {
      client = new ctor({
        region,
        ...base,
        ...(account
          ? { credentials: accountCredentials(account, region) }
          : options.credentials
            ? { credentials: options.credentials }
            : {}),
      });
      const limit = limits[service];
      if (limit) limitRate(client, new TokenBucket(limit, Date.now()));
      cache.set(key, client);
    }
    return client;
  }
  return {
    ecs: (region) => get(ECSClient, 'ecs', region),
    route53: (region) => get(Route53Client, 'route53', globalRegion(region ? partitionOf(region) : workerPartition())),
    rds: (region) => get(RDSClient, 'rds', region),
    cloudwatch: (region) => get(CloudWatchClient, 'cloudwatch', region),
    secrets: (region) => get(SecretsManagerClient, 'secretsmanager', region),
    elbv2: (region) => get(ElasticLoadBalancingV2Client, 'elbv2', region),
    autoscaling: (region) => get(ApplicationAutoScalingClient, 'application-autoscaling', region),
    codedeploy: (region) => get(CodeDeployClient, 'codedeploy', region),
    logs: (region) => get(CloudWatchLogsClient, 'logs', region),
    s3: (region) => get(S3Client, 's3', region),
    destroy: () => {
      for (const c of [...cache.values(), ...sts.values()]) c.destroy();
      cache.clear();
      sts.clear();
    },
  };
}

const RATE_LIMIT_MIDDLEWARE = 'runbooksRateLimit';

/**
 * Each attempt of each call waits for a token: inside the SDK's retry loop (a retry is a call too) and before the
 * request is signed (a signature made before a long wait could expire). An activity cancelled while its call waits
 * gives the token back and fails at once.
 */
function limitRate(client: MiddlewareClient, bucket: TokenBucket): void {
  const middleware: Middleware = (next) => async (args) => {
    await acquire(bucket, abortSignal());
    return next(args);
  };
  const stack = client.middlewareStack as unknown as LooseStack;
  if (stack.identify().some((m) => m.startsWith('httpSigningMiddleware'))) {
    stack.addRelativeTo(middleware, {
      relation: 'before',
      toMiddleware: 'httpSigningMiddleware',
      name: RATE_LIMIT_MIDDLEWARE,
    });
  } else {
    stack.add(middleware, { step: 'finalizeRequest', priority: 'low', name: RATE_LIMIT_MIDDLEWARE });
  }
}
