// The operator's controls of a progressive deployment — abort, rollback, pause, resume, promote — as one small state
// object with thin handlers (each signal validated and recorded: signals.ts). The runbook reads the state between its
// steps; the handlers only record what was asked.
import { byPayload, byReasonPayload } from '../../api/common';
import { abortDeploySignal, pauseSignal, promoteSignal, resumeSignal, rollbackSignal } from '../../api/definitions';
import { fail } from './errors';
import { onSignal } from './signals';
import type { Tracker } from './tracker';

export class DeployControls {
  /** Set by `abort` (any time) or `rollback` (meant for the blue standby; earlier the same as abort). */
  aborted?: { by: string; reason: string; kind: 'abort' | 'rollback' };
  /** Set by `pause`, cleared by `resume`: the progression holds (the gates are still checked). */
  paused?: { by: string; since: number };
  /** How many `promote`s arrived: a bake that sees the count grow ends early (its gates checked once more). */
  promotions = 0;
  /** Who paused, resumed or promoted, and when: written into the timeline as the run goes (flush). */
  private events: { at: string; what: string }[] = [];

  constructor(private readonly tracker: Tracker) {
    onSignal(
      tracker,
      abortDeploySignal,
      byReasonPayload,
      (p) => this.abort(p, 'abort'),
      'Roll back now: traffic to blue first, then green scaled back. {"by": "<your name>", "reason": "<why>"}',
    );
    onSignal(
      tracker,
      rollbackSignal,
      byReasonPayload,
      (p) => this.abort(p, 'rollback'),
      'During the blue standby: all traffic back to blue at once (earlier: same as abort). {"by", "reason"}',
    );
    onSignal(
      tracker,
      pauseSignal,
      byPayload,
      ({ by }) => this.pause(by),
      'Hold the progression; gates are still checked (a pause longer than maxPause rolls back). {"by"}',
    );
    onSignal(tracker, resumeSignal, byPayload, ({ by }) => this.resume(by), 'Let a paused deployment go on. {"by"}');
    onSignal(
      tracker,
      promoteSignal,
      byPayload,
      ({ by }) => this.promote(by),
      'Skip the rest of the current bake (gates are checked once more). {"by"}',
    );
  }

  /** Each returns why it refused, or undefined when it took the request. */
  private abort(p: { by: string; reason: string }, kind: 'abort' | 'rollback'): string | undefined {
    if (this.aborted) return `already rolling back (${this.aborted.kind} by ${this.aborted.by})`;
    this.aborted = { ...p, kind };
    return undefined;
  }

  private pause(by: string): string | undefined {
    if (this.paused) return `already paused by ${this.paused.by}`;
    this.paused = { by, since: Date.now() };
    this.events.push({ at: new Date().toISOString(), what: `paused by ${by}` });
    return undefined;
  }

  private resume(by: string): string | undefined {
    if (!this.paused) return 'not paused';
    this.paused = undefined;
    this.events.push({ at: new Date().toISOString(), what: `resumed by ${by}` });
    return undefined;
  }

  private promote(by: string): string | undefined {
    this.promotions++;
    this.events.push({ at: new Date().toISOString(), what: `promote by ${by}` });
    return undefined;
  }

  /** Write the pauses, resumes and promotions received so far into the timeline, at the times they arrived. */
  flush(): void {
    for (const e of this.events.splice(0)) this.tracker.mark(e.what, 'succeeded', { at: e.at });
  }

  /** The failure that ends the run when an operator asked for a rollback (`why`: where the run was). */
  rolledBack(why: string): Error {
    this.flush();
    const a = this.aborted;
    return fail('RolledBack', `rolled back ${why}: ${a ? `${a.kind} by ${a.by} (${a.reason})` : 'requested'}`);
  }
}
