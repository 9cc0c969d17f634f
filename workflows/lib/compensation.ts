// Compensation stack: each mutating step pushes its inverse once it has succeeded; on failure, rejection or
// cancellation the stack runs in reverse, shielded from cancellation. A compensation that fails is recorded
// and the rest still run; the run then fails with its original cause.
import { CancellationScope } from '@temporalio/workflow';
import type { CompensationRecord } from '../../api/status';
import { errorMessage } from './errors';

export interface Compensation {
  name: string;
  /** A string it resolves to is recorded as the compensation's note (what it found or did). */
  run: () => Promise<unknown>;
}

export interface CompensationSink {
  compensations: CompensationRecord[];
}

export class CompensationStack {
  private readonly stack: Compensation[] = [];

  constructor(
    private readonly sink: CompensationSink,
    private readonly onChange: () => void = () => undefined,
    /** Runs the unwinding; in workflows it is a non-cancellable scope (tests may pass the identity). */
    private readonly shield: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => CancellationScope.nonCancellable(fn),
  ) {}

  push(name: string, run: () => Promise<unknown>): void {
    this.stack.push({ name, run });
  }

  get size(): number {
    return this.stack.length;
  }

  /** Forget everything pushed so far (e.g. after a point of no return, or once a change is verified). */
  clear(): void {
    this.stack.length = 0;
  }

  /** Run every compensation, newest first. Never throws; returns what happened to each. */
  async unwind(): Promise<CompensationRecord[]> {
    const done: CompensationRecord[] = [];
    await this.shield(async () => {
      for (let next = this.stack.pop(); next; next = this.stack.pop()) {
        const startedAt = new Date().toISOString();
        let record: CompensationRecord;
        try {
          const said = await next.run();
          record = {
            name: next.name,
            startedAt,
            endedAt: new Date().toISOString(),
            outcome: 'succeeded',
            ...(typeof said === 'string' && said ? { note: said } : {}),
          };
        } catch (err) {
          record = {
            name: next.name,
            startedAt,
            endedAt: new Date().toISOString(),
            outcome: 'failed',
            error: errorMessage(err),
          };
        }
        this.sink.compensations.push(record);
        done.push(record);
        this.onChange();
      }
    });
    return done;
  }
}
