// The one way an operator signal is handled: its payload is validated with its schema (api/common.ts), the handler
// takes it or says why not, and either way the signal is recorded in `status.signals` — a signal gets no answer, so
// that record (shown with the decisions in the Temporal UI and the CLI) is where its sender sees whether it counted.
// Approve/reject go through the approval gate (approval.ts), which records its decisions the same way.
import { setHandler, type SignalDefinition } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeZodError } from '../../api/common';
import type { SignalRecord } from '../../api/status';
import type { Tracker } from './tracker';

/**
 * Register `signal`'s handler: `take` gets the validated payload and returns undefined when it took it, or why it
 * did not (e.g. "not paused"). A payload that does not match `schema` is refused naming the field.
 */
export function onSignal<S extends z.ZodType<{ by: string; reason?: string | undefined }>>(
  tracker: Tracker,
  signal: SignalDefinition<[z.input<S>]>,
  schema: S,
  take: (payload: z.output<S>) => string | undefined,
  description: string,
): void {
  setHandler(
    signal,
    (raw: unknown) => {
      const at = new Date().toISOString();
      const parsed = schema.safeParse(raw);
      let record: SignalRecord;
      if (!parsed.success) {
        const by = (raw as { by?: unknown } | undefined)?.by;
        record = {
          at,
          signal: signal.name,
          by: typeof by === 'string' && by.trim() ? by : '(unknown)',
          accepted: false,
          refusal: `malformed ${signal.name}: ${describeZodError(parsed.error, signal.name)}`,
        };
      } else {
        const refusal = take(parsed.data);
        record = {
          at,
          signal: signal.name,
          by: parsed.data.by,
          accepted: refusal === undefined,
          ...(refusal !== undefined ? { refusal } : {}),
          ...(parsed.data.reason ? { reason: parsed.data.reason } : {}),
        };
      }
      (tracker.status.signals ??= []).push(record);
      tracker.refresh();
    },
    { description },
  );
}
