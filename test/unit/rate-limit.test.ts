// The worker's AWS rate limits as pure logic: the token bucket on an injected clock, and the
// RUNBOOKS_AWS_RATE_LIMITS syntax.
import { describe, expect, it } from 'vitest';
import { DEFAULT_AWS_RATE_LIMITS, TokenBucket, parseRateLimits } from '../../activities/rate-limit';

describe('TokenBucket', () => {
  it('lets a burst through at once, then one call per 1/rate seconds, in the order they came', () => {
    const bucket = new TokenBucket({ rate: 10, burst: 3 }, 0);
    expect([bucket.reserve(0), bucket.reserve(0), bucket.reserve(0)]).toEqual([0, 0, 0]);
    // The 4th, 5th and 6th at once wait 100, 200, 300 ms: ten a second.
    expect([bucket.reserve(0), bucket.reserve(0), bucket.reserve(0)]).toEqual([100, 200, 300]);
    // 300 ms later the line has drained: the next one goes 100 ms after.
    expect(bucket.reserve(300)).toBe(100);
  });

  it('refills at the rate, never above the burst', () => {
    const bucket = new TokenBucket({ rate: 2, burst: 4 }, 0);
    for (let i = 0; i < 4; i++) bucket.reserve(0);
    expect(bucket.available(0)).toBe(0);
    expect(bucket.available(1_000)).toBe(2);
    expect(bucket.available(60_000)).toBe(4);
  });

  it('n calls at once take (n - burst) / rate seconds: the bound a fan-out is held to', () => {
    const bucket = new TokenBucket({ rate: 20, burst: 10 }, 0);
    let last = 0;
    for (let i = 0; i < 210; i++) last = bucket.reserve(0);
    expect(last).toBe(10_000);
  });

  it('a released token (a call cancelled while it waited) goes back to the bucket', () => {
    const bucket = new TokenBucket({ rate: 1, burst: 1 }, 0);
    bucket.reserve(0);
    expect(bucket.reserve(0)).toBe(1_000);
    bucket.release(0);
    expect(bucket.reserve(0)).toBe(1_000);
  });
});

describe('parseRateLimits', () => {
  it('keeps the defaults when unset', () => {
    expect(parseRateLimits(undefined)).toEqual(DEFAULT_AWS_RATE_LIMITS);
    expect(parseRateLimits('  ')).toEqual(DEFAULT_AWS_RATE_LIMITS);
  });

  it('overrides rates and bursts per service, keeping the default burst when none is given', () => {
    const limits = parseRateLimits('rds=20/40, ecs=5,newsvc=3');
    expect(limits.rds).toEqual({ rate: 20, burst: 40 });
    expect(limits.ecs).toEqual({ rate: 5, burst: DEFAULT_AWS_RATE_LIMITS.ecs!.burst });
    expect(limits.newsvc).toEqual({ rate: 3, burst: 3 });
    expect(limits.route53).toEqual(DEFAULT_AWS_RATE_LIMITS.route53);
  });

  it('lifts one limit or all of them', () => {
    expect(parseRateLimits('rds=off').rds).toBeUndefined();
    expect(parseRateLimits('off')).toEqual({});
  });

  it('refuses what it cannot read rather than leave a fleet unthrottled', () => {
    expect(() => parseRateLimits('rds:20')).toThrow(/service=rate/);
    expect(() => parseRateLimits('rds=0')).toThrow(/above 0/);
    expect(() => parseRateLimits('rds=5/0')).toThrow(/at least 1/);
  });
});
