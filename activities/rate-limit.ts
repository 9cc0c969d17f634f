// Per-service AWS API rate limits in the worker: a token bucket per (service, region), applied to every attempt of
// every SDK call the activities make (an SDK middleware, added in aws-clients.ts). AWS throttles each account per
// service and region with token buckets of its own (RDS: a burst of 300, then 12 requests a second); a runbook
// that fans out over a big fleet waits here, in the worker, instead of spending the account's quota and making
// every other tool of the account (console, IaC, monitoring) see ThrottlingException.
//
// RUNBOOKS_AWS_RATE_LIMITS overrides the defaults: `rds=6/100,ecs=10` — calls a second, then optionally `/burst`
// (default: the service's default burst, or one second's worth of calls); `rds=off` lifts the limit of one service,
// `off` all of them.

/** One service's limit: `rate` calls a second sustained, up to `burst` at once after a quiet spell. */
export interface RateLimit {
  rate: number;
  burst: number;
}

/** Limits by service name (as aws-clients.ts names its clients: rds, ecs, route53, …); a missing service is free. */
export type RateLimits = Record<string, RateLimit>;

/**
 * Defaults: AWS's own default limits for an account where AWS documents them (RDS: a burst of 300, then 12 a second;
 * Route 53: 5 a second), and as much elsewhere as a runbook run could want, so that the worker on its own never
 * throttles the account. Lower them (RUNBOOKS_AWS_RATE_LIMITS) to leave part of the account's quota to the other
 * tools that use it.
 */
export const DEFAULT_AWS_RATE_LIMITS: RateLimits = {
  rds: { rate: 12, burst: 300 },
  ecs: { rate: 20, burst: 100 },
  elbv2: { rate: 20, burst: 100 },
  route53: { rate: 5, burst: 20 },
  cloudwatch: { rate: 50, burst: 200 },
  logs: { rate: 10, burst: 50 },
  secretsmanager: { rate: 100, burst: 500 },
  'application-autoscaling': { rate: 20, burst: 100 },
  codedeploy: { rate: 20, burst: 100 },
  s3: { rate: 500, burst: 1000 },
};

export const RATE_LIMITS_ENV = 'RUNBOOKS_AWS_RATE_LIMITS';

/**
 * The limits `spec` (RUNBOOKS_AWS_RATE_LIMITS) gives over `defaults`: comma-separated `service=rate[/burst]` or
 * `service=off`, or just `off`. Throws on anything else: a typo must not leave a fleet unthrottled.
 */
export function parseRateLimits(spec: string | undefined, defaults: RateLimits = DEFAULT_AWS_RATE_LIMITS): RateLimits {
  const limits: RateLimits = { ...defaults };
  const text = spec?.trim();
  if (!text) return limits;
  if (text === 'off') return {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const m = /^([a-z0-9-]+)\s*=\s*(?:(off)|(\d+(?:\.\d+)?)(?:\s*\/\s*(\d+))?)$/.exec(item);
    if (!m) {
      throw new Error(
        `${RATE_LIMITS_ENV}: "${item}" is not service=rate[/burst] or service=off (e.g. "rds=6/100,ecs=10")`,
      );
    }
    const service = m[1]!;
    if (m[2]) {
      delete limits[service];
      continue;
    }
    const rate = Number(m[3]);
    if (!(rate > 0)) throw new Error(`${RATE_LIMITS_ENV}: ${service}'s rate must be above 0 (or "off")`);
    const burst = m[4] !== undefined ? Number(m[4]) : (defaults[service]?.burst ?? Math.max(1, Math.ceil(rate)));
    if (burst < 1) throw new Error(`${RATE_LIMITS_ENV}: ${service}'s burst must be at least 1`);
    limits[service] = { rate, burst };
  }
  return limits;
}

/**
 * A token bucket as pure logic, on a clock it is given (milliseconds). It starts full; `reserve(now)` takes one
 * token and says how long to wait before the call may go. Tokens may go below zero: each caller reserves its place
 * in line at once, so callers go in the order they came, at `rate` a second, however many wait.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = limit.burst;
    this.at = now;
  }

  /** Milliseconds to wait before the call that takes this token may be made (0: at once). */
  reserve(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.limit.rate);
  }

  /** Gives back a token reserved by a call that was then not made (it was cancelled while it waited). */
  release(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.limit.burst, this.tokens + 1);
  }

  /** Tokens there are now (negative: reserved ahead by waiting callers). */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.at) * this.limit.rate) / 1000);
      this.at = now;
    }
  }
}

/** Waits its turn in a bucket: resolves when the call may go; rejects (and gives the token back) when aborted. */
export async function acquire(bucket: TokenBucket, signal?: AbortSignal, now: () => number = Date.now): Promise<void> {
  const wait = bucket.reserve(now());
  if (wait <= 0) return;
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      bucket.release(now());
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted while waiting for the rate limit'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, wait);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
