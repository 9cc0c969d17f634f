// Every activity with a heartbeat timeout is kept alive by the worker while it runs, so a worker killed in the middle
// of a 30-second AWS call is noticed after the 10-second heartbeat timeout — and a wait's own details (its deadline,
// the phases it saw) are what the keep-alive re-sends, so a retry still resumes the wait.
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { beat } from '../../activities/heartbeat';
import { asActivities } from '../../activities';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function heartbeatsOf(env: MockActivityEnvironment): unknown[] {
  const seen: unknown[] = [];
  env.on('heartbeat', (d: unknown) => seen.push(d));
  return seen;
}

describe('keep-alive heartbeats', () => {
  it('an activity that never heartbeats itself is heartbeated while it runs, and not after', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000 });
    const seen = heartbeatsOf(env);
    const { call } = asActivities({ call: () => sleep(900).then(() => 'done') });
    expect(await env.run(call)).toBe('done');
    const during = seen.length;
    expect(during).toBeGreaterThanOrEqual(3); // every 250 ms (a quarter of the timeout) for 900 ms
    await sleep(300);
    expect(seen.length).toBe(during);
  });

  it("a wait's own details are re-sent, with `at` moved on, not replaced by empty ones", async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000 });
    const seen = heartbeatsOf(env);
    const at = Date.now();
    const { wait } = asActivities({
      wait: async () => {
        beat(Context.current(), { deadline: 123, at, phases: [['modifying', 0]] });
        await sleep(900);
      },
    });
    await env.run(wait);
    const resent = seen.slice(1) as { deadline: number; at: number; phases: unknown }[];
    expect(resent.length).toBeGreaterThanOrEqual(3);
    for (const d of resent) {
      expect(d.deadline).toBe(123);
      expect(d.phases).toEqual([['modifying', 0]]);
      expect(d.at).toBeGreaterThan(at);
    }
  });

  it("a retry that has not heartbeated yet re-sends the previous attempt's details unchanged", async () => {
    const previous = { deadline: 1_000, at: 500, phases: [] };
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatTimeoutMs: 1_000, heartbeatDetails: previous });
    const seen = heartbeatsOf(env);
    const { wait } = asActivities({ wait: () => sleep(600) });
    await env.run(wait);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    for (const d of seen) expect(d).toEqual(previous);
  });

  it('an activity without a heartbeat timeout is left alone', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: undefined });
    const seen = heartbeatsOf(env);
    const { call } = asActivities({ call: () => sleep(200) });
    await env.run(call);
    expect(seen).toEqual([]);
  });
});
