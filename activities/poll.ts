// Polling with backoff for long waits inside activities: heartbeats each attempt (so a lost worker is noticed and
// a retry resumes from the recorded deadline), stops on cancellation, never spins. A probe ends the wait at once by
// throwing (a terminal state it recognised, a refused call); throttling and 5xx answers are ridden out.
import { Context } from '@temporalio/activity';
import { formatDuration } from '../api/duration';
import { RegionUnavailable } from './errors';
import { beat } from './heartbeat';

export interface PollOptions {
  /** Absolute deadline (ms since epoch). */
  deadline: number;
  /** The shortest delay between probes (default 1 s): the whole delay while the wait is young. */
  initialDelayMs?: number;
  /** The longest delay between probes (default 15 s): one probe per this once the wait is long. */
  maxDelayMs?: number;
  /** When the wait began (ms since epoch): heartbeated with the deadline, so that a retry resumes it (resumeWait). */
  startedAt?: number;
  /** The region the probe reads, named when it stops answering (RegionUnavailable). */
  region?: string;
  /**
   * How many probes in a row that got no answer (5xx, timeouts, refused connections — not throttling) make the region
   * count as down: the wait then stops with RegionUnavailable instead of polling until its deadline. After a probe
   * without an answer the next one comes after the initial delay, so an outage is told from a blip within seconds.
   */
  outageAfter?: number;
}

/**
 * The deadline for this wait: now + timeout, or — when this is a retry of a wait that heartbeated — its deadline,
 * moved on by the time since its last heartbeat (`at`): while no worker was watching (one died, the next one had not
 * taken over yet) the wait's time does not run out, so a retry after a crash still gets the time the first attempt
 * had left, instead of finding its deadline passed.
 */
export function resumeDeadline(timeoutMs: number): number {
  const ctx = activityContext();
  const previous = ctx?.info.heartbeatDetails as { deadline?: number; at?: number } | undefined;
  if (typeof previous?.deadline !== 'number') return Date.now() + timeoutMs;
  const unwatched = typeof previous.at === 'number' ? Math.max(0, Date.now() - previous.at) : 0;
  return previous.deadline + unwatched;
}

/** The deadline and the start of this wait: both from the last heartbeat if this is a retry, else now (+ timeout). */
export function resumeWait(timeoutMs: number): { deadline: number; startedAt: number } {
  const previous = activityContext()?.info.heartbeatDetails as { startedAt?: number } | undefined;
  return {
    deadline: resumeDeadline(timeoutMs),
    startedAt: typeof previous?.startedAt === 'number' ? previous.startedAt : Date.now(),
  };
}

/** AWS's throttling error codes (the SDK has already retried each call a few times when one reaches a poll). */
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);

/** Network-level failures: no answer at all from the endpoint. */
const NO_ANSWER = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** A failure that means the service did not answer: a 5xx, a timeout, a refused or reset connection. */
export function isUnanswered(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (typeof status === 'number') return status >= 500;
  const code = (err as { code?: string }).code;
  return NO_ANSWER.has(err.name) || (code !== undefined && NO_ANSWER.has(code));
}

/**
 * An answer that says "not now" rather than "no": throttling, a server-side (5xx) failure or no answer at all. A
 * poll keeps going after one; anything else a probe throws ends the wait.
 */
export function isTransientAwsError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return THROTTLING.has(err.name) || isUnanswered(err);
}

/** Probes in a row without an answer that make a region count as down (PollOptions.outageAfter). */
export const OUTAGE_AFTER_PROBES = 3;

/** The share of the time waited so far that the next probe waits at most (nextPollDelay). */
export const POLL_LATENESS = 0.1;

/**
 * The delay before the next probe of a wait that has run `waitedMs`: a tenth of the time waited so far, at least
 * `initialDelayMs` and at most `maxDelayMs`. What the wait is for becomes ready at some unknown time T; a probe at t
 * after it waited t − delay(t) sees it at most delay(t) ≤ max(initialDelayMs, T / 10) late (capped by maxDelayMs).
 * Doubling the delay instead is up to half of T late (ready just after a probe at T/2 … T). The cost: probes grow with
 * log(T) — a delay 10 % longer each time, about 7 probes per doubling of T, from 10 × initialDelayMs on — then one per
 * maxDelayMs. With the defaults (1 s, 15 s): 11 probes for 10 s, 30 for a minute, 50 for five minutes.
 */
export function nextPollDelay(waitedMs: number, opts: { initialDelayMs: number; maxDelayMs: number }): number {
  const proportional = Math.round(Math.max(0, waitedMs) * POLL_LATENESS);
  return Math.min(opts.maxDelayMs, Math.max(opts.initialDelayMs, proportional));
}

/**
 * Calls `probe` until it returns `{ done: true }` or the deadline passes. Returns the last value a probe returned and
 * whether it finished in time. A probe that throws ends the wait with its error (that is how a probe reports a
 * terminal state), unless the error is transient (throttling, 5xx, no answer): then the poll goes on, and
 * `transientErrors` counts them. `outageAfter` probes in a row without an answer end the wait with RegionUnavailable
 * (a region outage is not waited out until the deadline); with no answer at all before the deadline, the last
 * transient error is thrown.
 */
export async function pollUntil<T>(
  probe: () => Promise<{ done: boolean; value: T; progress?: unknown; phase?: string }>,
  options: PollOptions,
): Promise<{ done: boolean; value: T; attempts: number; transientErrors: number; phases: string }> {
  const ctx = activityContext();
  // The phases the resource went through (`phase` of each probe, when it changed), heartbeated so a resumed wait
  // keeps them: "modifying @0s → backing-up @12s → available @31s".
  const previous = ctx?.info.heartbeatDetails as { phases?: [string, number][] } | undefined;
  const phases: [string, number][] = Array.isArray(previous?.phases) ? previous.phases : [];
  const since = options.startedAt ?? Date.now();
  const phaseText = () => phases.map(([p, at]) => `${p} @${formatDuration(Math.max(0, at))}`).join(' → ');
  const schedule = { initialDelayMs: options.initialDelayMs ?? 1_000, maxDelayMs: options.maxDelayMs ?? 15_000 };
  // The schedule runs from the start of this wait on this worker (not from a resumed wait's first start: after a
  // worker change the state is unknown again, so it looks closely first).
  const waitStarted = Date.now();
  let last: { value: T } | undefined;
  let lastError: unknown;
  let transientErrors = 0;
  const outageAfter = options.outageAfter ?? OUTAGE_AFTER_PROBES;
  let unanswered: { since: number; count: number } | undefined;
  for (let attempts = 1; ; attempts++) {
    let result: { done: boolean; value: T; progress?: unknown; phase?: string } | undefined;
    try {
      result = await probe();
      unanswered = undefined;
      if (result.phase !== undefined && phases.at(-1)?.[0] !== result.phase) {
        phases.push([result.phase, Date.now() - since]);
        if (phases.length > 40) phases.splice(1, 1); // keep the first and the latest
      }
    } catch (err) {
      if (!isTransientAwsError(err)) throw err;
      lastError = err;
      transientErrors++;
      if (isUnanswered(err)) {
        unanswered = unanswered ? { ...unanswered, count: unanswered.count + 1 } : { since: Date.now(), count: 1 };
        if (unanswered.count >= outageAfter) {
          const where = options.region ?? 'the region';
          throw new RegionUnavailable(
            `${where} is not answering: ${unanswered.count} polls in a row over ` +
              `${Math.round((Date.now() - unanswered.since) / 1000)}s got no answer (last: ${(err as Error).name}: ` +
              `${(err as Error).message}). The wait stopped instead of polling until its deadline; what it waited ` +
              `for may still happen once ${where} answers again`,
          );
        }
      } else {
        unanswered = undefined;
      }
    }
    beat(ctx, {
      deadline: options.deadline,
      at: Date.now(),
      ...(options.startedAt !== undefined ? { startedAt: options.startedAt } : {}),
      attempts,
      phases,
      progress: result
        ? result.progress
        : { transientError: `${(lastError as Error).name}: ${(lastError as Error).message}` },
    });
    if (result?.done) return { done: true, value: result.value, attempts, transientErrors, phases: phaseText() };
    if (result) last = { value: result.value };
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) {
      if (!last) throw lastError;
      return { done: false, value: last.value, attempts, transientErrors, phases: phaseText() };
    }
    // After a probe without an answer, look again soon: an outage is told from a blip within a few probes.
    const delay = unanswered ? schedule.initialDelayMs : nextPollDelay(Date.now() - waitStarted, schedule);
    await sleepCancellable(Math.min(delay, remaining));
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
