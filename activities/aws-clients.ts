// AWS SDK v3 clients, built once per region from the standard credential chain. The endpoint comes from the
// standard AWS_ENDPOINT_URL(_<SERVICE>) variables, so the same code reaches real AWS or an emulator.
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
import { abortSignal } from './poll';
import { RATE_LIMITS_ENV, TokenBucket, acquire, parseRateLimits, type RateLimits } from './rate-limit';

export interface AwsClients {
  ecs(region: string): ECSClient;
  route53(): Route53Client;
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

type Ctor<C> = new (config: {
  region: string;
  maxAttempts?: number;
  endpoint?: string;
  credentials?: StaticCredentials;
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
  } = {},
): AwsClients & { destroy(): void } {
  const cache = new Map<string, { destroy(): void }>();
  const limits = options.rateLimits ?? parseRateLimits(process.env[RATE_LIMITS_ENV]);
  function get<C extends MiddlewareClient>(ctor: Ctor<C>, service: string, region: string): C {
    const key = `${service}/${region}`;
    let client = cache.get(key) as C | undefined;
    if (!client) {
      client = new ctor({
        region,
        ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      });
      const limit = limits[service];
      if (limit) limitRate(client, new TokenBucket(limit, Date.now()));
      cache.set(key, client);
    }
    return client;
  }
  return {
    ecs: (region) => get(ECSClient, 'ecs', region),
    // Route 53 is a global service signed in us-east-1.
    route53: () => get(Route53Client, 'route53', 'us-east-1'),
    rds: (region) => get(RDSClient, 'rds', region),
    cloudwatch: (region) => get(CloudWatchClient, 'cloudwatch', region),
    secrets: (region) => get(SecretsManagerClient, 'secretsmanager', region),
    elbv2: (region) => get(ElasticLoadBalancingV2Client, 'elbv2', region),
    autoscaling: (region) => get(ApplicationAutoScalingClient, 'application-autoscaling', region),
    codedeploy: (region) => get(CodeDeployClient, 'codedeploy', region),
    logs: (region) => get(CloudWatchLogsClient, 'logs', region),
    s3: (region) => get(S3Client, 's3', region),
    destroy: () => {
      for (const c of cache.values()) c.destroy();
      cache.clear();
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
