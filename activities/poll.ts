// Polling with backoff for long waits inside activities: heartbeats each attempt (so a lost worker is noticed and
// a retry resumes from the recorded deadline), stops on cancellation, never spins.
import { Context } from '@temporalio/activity';

export interface PollOptions {
  /** Absolute deadline (ms since epoch). */
  deadline: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** The deadline for this wait: from the last heartbeat if this is a retry, else now + timeout. */
export function resumeDeadline(timeoutMs: number): number {
  const ctx = activityContext();
  const previous = ctx?.info.heartbeatDetails as { deadline?: number } | undefined;
  return typeof previous?.deadline === 'number' ? previous.deadline : Date.now() + timeoutMs;
}

/**
 * Calls `probe` until it returns `{ done: true }` or the deadline passes. Returns the last probe's value and
 * whether it finished in time.
 */
export async function pollUntil<T>(
  probe: () => Promise<{ done: boolean; value: T; progress?: unknown }>,
  options: PollOptions,
): Promise<{ done: boolean; value: T; attempts: number }> {
  const ctx = activityContext();
  let delay = options.initialDelayMs ?? 1_000;
  const maxDelay = options.maxDelayMs ?? 15_000;
  for (let attempts = 1; ; attempts++) {
    const result = await probe();
    ctx?.heartbeat({ deadline: options.deadline, attempts, progress: result.progress });
    if (result.done) return { done: true, value: result.value, attempts };
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) return { done: false, value: result.value, attempts };
    await sleepCancellable(Math.min(delay, remaining));
    delay = Math.min(delay * 2, maxDelay);
  }
}

export async function sleepCancellable(ms: number): Promise<void> {
  const ctx = activityContext();
  if (ctx) return ctx.sleep(ms);
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The activity context, or undefined when called outside an activity (scripts, tests). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Abort signal for SDK calls: the activity's cancellation signal when running as an activity. */
export function abortSignal(): AbortSignal | undefined {
  return activityContext()?.cancellationSignal;
}
