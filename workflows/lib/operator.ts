// Past a point of no return nothing is undone silently: a step that still fails after its retries puts the run in
// `needs-operator`, with what is done and what is not written out, until someone sends `retryStep` (try the step
// again) or `abandon` (finish as failed, leaving AWS as it is).
import { condition, isCancellation } from '@temporalio/workflow';
import { byPayload, byReasonPayload } from '../../api/common';
import { abandonSignal, retryStepSignal } from '../../api/definitions';
import { errorMessage, fail } from './errors';
import type { Notifier } from './notify';
import { needsOperator } from './metrics';
import { onSignal } from './signals';
import type { StepOptions, Tracker } from './tracker';

export interface Progress {
  done: string[];
  notDone: string[];
}

/**
 * What a run past its point of no return has done and what it has left, kept by step ID: the operator view's "done"
 * and "not done". A step counts as done once anything was recorded under its ID; notes are done items of no step.
 */
export class Checklist<Id extends string> {
  private readonly entries: { id?: Id; text: string }[] = [];

  constructor(private readonly steps: readonly { id: Id; label: string }[]) {}

  /** Step `id` did something, described as `detail`: shown as "<its label>: <detail>" (or its label alone). */
  did(id: Id, detail?: string): void {
    const label = this.steps.find((s) => s.id === id)?.label ?? id;
    this.entries.push({ id, text: detail === undefined ? label : `${label}: ${detail}` });
  }

  /** Something done outside the listed steps (e.g. writes paused before the point of no return). */
  note(text: string): void {
    this.entries.push({ text });
  }

  /** `show` may rewrite a done item for the moment (e.g. add what it still means for the users). */
  progress(show: (text: string) => string = (t) => t): Progress {
    return {
      done: this.entries.map((e) => show(e.text)),
      notDone: this.steps.filter((s) => !this.entries.some((e) => e.id === s.id)).map((s) => s.label),
    };
  }
}

const NOT_WAITING = 'the run is not waiting for an operator (only a failed step past the point of no return is)';

export class OperatorGate {
  private retries = 0;
  private abandoned?: { by: string; reason: string };

  constructor(
    private readonly tracker: Tracker,
    private readonly notifier?: Notifier,
  ) {
    onSignal(
      tracker,
      retryStepSignal,
      byPayload,
      ({ by }) => {
        if (!this.tracker.status.operator) return NOT_WAITING;
        this.retries++;
        this.tracker.warn(`retryStep by ${by} at ${new Date().toISOString()}`);
        return undefined;
      },
      'After a failure past the point of no return: try the failed step again. {"by": "<your name>"}',
    );
    onSignal(
      tracker,
      abandonSignal,
      byReasonPayload,
      (payload) => {
        if (!this.tracker.status.operator) return NOT_WAITING;
        if (this.abandoned) return `already abandoned by ${this.abandoned.by}`;
        this.abandoned = payload;
        return undefined;
      },
      'After a failure past the point of no return: stop here, leaving AWS as it is. {"by": "<your name>", "reason": "<why>"}',
    );
  }

  /** Run `fn` as step `name`; on failure wait for an operator. `progress` says what is done / not done right now. */
  async step<T>(name: string, fn: () => Promise<T>, progress: () => Progress, opts: StepOptions<T> = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.tracker.step(attempt === 1 ? name : `${name} (operator retry ${attempt - 1})`, fn, opts);
      } catch (err) {
        if (isCancellation(err)) throw err;
        const { done, notDone } = progress();
        const error = errorMessage(err);
        this.tracker.status.operator = {
          failedStep: name,
          error,
          since: new Date().toISOString(),
          done,
          notDone,
          how: {
            retrySignal: 'retryStep',
            retryExample: { by: '<your name>' },
            abandonSignal: 'abandon',
            abandonExample: { by: '<your name>', reason: '<why>' },
          },
          attempts: attempt,
        };
        this.tracker.setState('needs-operator');
        needsOperator(this.tracker.status.runbook, name);
        this.notifier?.send(
          'needs-operator',
          `needs-operator:${name}:${attempt}`,
          `🛑 NEEDS AN OPERATOR: ${this.tracker.status.runbook} on ${this.tracker.status.target}\n` +
            `Failed step: ${name} — ${error}\nDone: ${done.join('; ') || 'nothing'}\nNot done: ${notDone.join('; ') || 'nothing'}\n` +
            `Retry: npm run runbook -- retry ${this.tracker.status.workflowId} --by <your name>\n` +
            `Stop here: npm run runbook -- abandon ${this.tracker.status.workflowId} --by <your name> --reason <why>`,
        );
        const seen = this.retries;
        await condition(() => this.retries > seen || this.abandoned !== undefined);
        delete this.tracker.status.operator;
        this.tracker.setState('running');
        if (this.abandoned) {
          const { by, reason } = this.abandoned;
          throw fail(
            'Abandoned',
            `abandoned by ${by} (${reason}) after "${name}" failed: ${error}. Left as it is, nothing undone. ` +
              `Done: ${done.join('; ') || 'nothing'}. Not done: ${notDone.join('; ') || 'nothing'}`,
          );
        }
      }
    }
  }
}
