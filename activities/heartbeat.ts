// Heartbeats that tell Temporal within seconds that a worker died, for every activity with a heartbeat timeout — a
// ten-second AWS call as much as a three-hour wait. The worker keeps each such activity alive on a timer (keepAlive,
// wrapped round every activity in activities/index.ts); an activity that records its progress in heartbeat details
// (a wait's deadline and phases, resumed by the next attempt) hands them to `beat`, and the timer re-sends the latest.
import type { Context } from '@temporalio/activity';

/** The details each running activity last heartbeated itself (re-sent by its keep-alive timer). */
const latest = new WeakMap<Context, Record<string, unknown>>();

/** Heartbeat `details` now, and have the keep-alive re-send them (with a fresh `at`) until the next call. */
export function beat(ctx: Context | undefined, details: Record<string, unknown>): void {
  if (!ctx) return;
  latest.set(ctx, details);
  ctx.heartbeat(details);
}

/**
 * While `ctx`'s activity runs: heartbeat every quarter of its heartbeat timeout, so a worker that dies is noticed
 * after that timeout instead of the activity's whole start-to-close timeout. Re-sends what the activity last gave
 * `beat` — with `at` moved to now, since the wait was watched until now (activities/poll.ts resumeDeadline) — or,
 * before its first own heartbeat, the previous attempt's details unchanged, so a retry that dies at once does not
 * lose what the attempts before it recorded. Returns the function that stops the timer.
 */
export function keepAlive(ctx: Context | undefined): () => void {
  const timeoutMs = ctx?.info.heartbeatTimeoutMs;
  if (!ctx || !timeoutMs) return () => undefined;
  const timer = setInterval(
    () => {
      const own = latest.get(ctx);
      if (own) ctx.heartbeat(typeof own.at === 'number' ? { ...own, at: Date.now() } : own);
      else ctx.heartbeat(ctx.info.heartbeatDetails);
    },
    Math.max(250, Math.floor(timeoutMs / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}
