// HTTP health checks: N consecutive healthy answers within a deadline.
import type { HealthResult } from '../api/common';
import { beat } from './heartbeat';
import { activityContext, resumeDeadline, sleepCancellable } from './poll';

export interface HealthCheckInput {
  url: string;
  expectStatus: number;
  consecutive: number;
  intervalMs: number;
  timeoutMs: number;
}

export function createHealthActivities(fetchImpl: typeof fetch = fetch) {
  return {
    /**
     * Probe `url` until `consecutive` answers in a row have the expected status, or the deadline passes.
     * Returns the verdict (it does not throw for an unhealthy target: the runbook decides what that means).
     */
    async checkHealth(input: HealthCheckInput): Promise<HealthResult> {
      const started = Date.now();
      const deadline = resumeDeadline(input.timeoutMs);
      const ctx = activityContext();
      let attempts = 0;
      let consecutiveOk = 0;
      let lastStatus: number | undefined;
      let lastError: string | undefined;
      for (;;) {
        attempts++;
        const perRequest = Math.max(500, Math.min(10_000, deadline - Date.now()));
        const signals = [AbortSignal.timeout(perRequest), ...(ctx ? [ctx.cancellationSignal] : [])];
        try {
          const res = await fetchImpl(input.url, { signal: AbortSignal.any(signals), redirect: 'manual' });
          await res.body?.cancel();
          lastStatus = res.status;
          lastError = undefined;
          consecutiveOk = res.status === input.expectStatus ? consecutiveOk + 1 : 0;
        } catch (err) {
          if (ctx?.cancellationSignal.aborted) throw err;
          lastStatus = undefined;
          lastError = (err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message;
          consecutiveOk = 0;
        }
        beat(ctx, { deadline, at: Date.now(), attempts, consecutiveOk, lastStatus });
        const base = { url: input.url, attempts, consecutiveOk, elapsedMs: Date.now() - started };
        const last = { ...(lastStatus !== undefined ? { lastStatus } : {}), ...(lastError ? { lastError } : {}) };
        if (consecutiveOk >= input.consecutive) return { ...base, ...last, healthy: true };
        if (Date.now() + input.intervalMs > deadline) return { ...base, ...last, healthy: false };
        await sleepCancellable(input.intervalMs);
      }
    },
  };
}
