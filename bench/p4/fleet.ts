// P4's helpers: the fleet it verifies (N tagged RDS instances with a manual snapshot each, in a region of their own),
// AWS clients with the worker's rate limits that also count every call they make, and readers of what a run left.
import type { Client } from '@temporalio/client';
import { createAwsClients, type AwsClients } from '../../activities/aws-clients';
import type { RateLimits } from '../../activities/rate-limit';
import { ensureDbInstance, ensureDbSnapshot, ensureSecret } from '../../scripts/lib/fixtures';
import { DEMO_DB } from '../../scripts/lib/postgres';

export const FLEET_TAG = { key: 'bench-p4', value: 'fleet' };

export interface Fleet {
  region: string;
  ids: string[];
  secretId: string;
}

/** Runs `fn` over `items`, `width` at a time. */
export async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}

/** `n` PostgreSQL instances tagged FLEET_TAG, one manual snapshot each, and the DB secret the checks read. */
export async function makeFleet(aws: AwsClients, region: string, n: number): Promise<Fleet> {
  const ids = Array.from({ length: n }, (_, i) => `p4-db-${String(i + 1).padStart(3, '0')}`);
  await inBatches(ids, 8, async (id) => {
    await ensureDbInstance(aws, region, id, {
      masterPassword: DEMO_DB.password,
      tags: [{ Key: FLEET_TAG.key, Value: FLEET_TAG.value }],
    });
    await ensureDbSnapshot(aws, region, id, `${id}-manual`);
  });
  const secretId = 'bench/p4/db';
  await ensureSecret(aws, region, secretId, {
    username: DEMO_DB.user,
    password: DEMO_DB.password,
    dbname: DEMO_DB.database,
  });
  return { region, ids, secretId };
}

/** The service name of each AwsClients accessor (as the rate limits name them). */
const SERVICE_OF: Record<string, string> = {
  ecs: 'ecs',
  route53: 'route53',
  rds: 'rds',
  cloudwatch: 'cloudwatch',
  secrets: 'secretsmanager',
  elbv2: 'elbv2',
  autoscaling: 'application-autoscaling',
  codedeploy: 'codedeploy',
  logs: 'logs',
  s3: 's3',
};

type Middleware = (next: (args: unknown) => Promise<unknown>) => (args: unknown) => Promise<unknown>;
interface Stack {
  addRelativeTo(mw: Middleware, options: { relation: 'before'; toMiddleware: string; name: string }): void;
}

export interface CountedClients {
  aws: AwsClients & { destroy(): void };
  /** Calls sent since the last reset, by service. */
  calls: Map<string, number>;
  reset(): void;
}

/**
 * The worker's clients (createAwsClients with `limits`), each of which also counts the calls it sends: a middleware
 * right after the rate limit's, so it counts each attempt that got its token and went to AWS.
 */
export function countedClients(limits: RateLimits): CountedClients {
  const inner = createAwsClients({ rateLimits: limits });
  const calls = new Map<string, number>();
  const seen = new WeakSet<object>();
  const wrapped: Record<string, unknown> = { destroy: () => inner.destroy() };
  for (const [accessor, service] of Object.entries(SERVICE_OF)) {
    const get = (inner as unknown as Record<string, (region?: string) => { middlewareStack: unknown }>)[accessor]!;
    wrapped[accessor] = (region?: string) => {
      const client = get(region);
      if (!seen.has(client)) {
        seen.add(client);
        (client.middlewareStack as Stack).addRelativeTo(
          (next) => async (args) => {
            calls.set(service, (calls.get(service) ?? 0) + 1);
            return next(args);
          },
          { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'benchCallCounter' },
        );
      }
      return client;
    };
  }
  return { aws: wrapped as unknown as CountedClients['aws'], calls, reset: () => calls.clear() };
}

/** The rate-limit bound of a run: the slowest service's (calls − burst) / rate, in ms, with each service's. */
export function rateBound(
  calls: Map<string, number>,
  limits: RateLimits,
): { ms: number; service: string; perService: Record<string, { calls: number; ms: number }> } {
  let worst = { ms: 0, service: '—' };
  const perService: Record<string, { calls: number; ms: number }> = {};
  for (const [service, n] of calls) {
    const limit = limits[service];
    const ms = limit ? (Math.max(0, n - limit.burst) * 1000) / limit.rate : 0;
    perService[service] = { calls: n, ms };
    if (ms > worst.ms) worst = { ms, service };
  }
  return { ...worst, perService };
}

/** Events and bytes of a workflow's history (what Temporal holds against its 51,200-event / 50 MB limits). */
export async function historySize(client: Client, workflowId: string): Promise<{ events: number; bytes: number }> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return { events: d.historyLength, bytes: d.historySize ?? 0 };
}
