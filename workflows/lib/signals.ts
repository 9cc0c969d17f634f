// The one way an operator signal is handled: its payload is validated with its schema (api/common.ts), the sender is
// checked against the run's steering rules (the organisation policy's `steering`: who, and whether their AWS
// identity must be verified — a proof is verified first), the handler takes it or says why not, and either way the
// signal is recorded in `status.signals` — a signal gets no answer, so that record (shown with the decisions in the
// Temporal UI and the CLI) is where its sender sees whether it counted. Approve/reject go through the approval gate
// (approval.ts), which records its decisions the same way.
import { setHandler, type SignalDefinition } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeZodError } from '../../api/common';
import type { AwsProof, VerifiedPrincipal } from '../../api/identity';
import type { SignalRecord } from '../../api/status';
import { verifiedSender, type Governance } from './governance';
import type { Tracker } from './tracker';

/** The run's rules, set by the frame before any handler is registered (one per workflow run). */
let governance: Governance | undefined;

export function governSignals(g: Governance): void {
  governance = g;
}

type Sent = { by: string; reason?: string | undefined; proof?: AwsProof | undefined };

/**
 * Register `signal`'s handler: `take` gets the validated payload and returns undefined when it took it, or why it
 * did not (e.g. "not paused"). A payload that does not match `schema` is refused naming the field; a sender the
 * steering rules do not allow is refused saying who may.
 */
export function onSignal<S extends z.ZodType<Sent>>(
  tracker: Tracker,
  signal: SignalDefinition<[z.input<S>]>,
  schema: S,
  take: (payload: z.output<S>) => string | undefined,
  description: string,
): void {
  const record = (r: SignalRecord) => {
    (tracker.status.signals ??= []).push(r);
    tracker.refresh();
  };
  const decide = (payload: z.output<S>, verified: VerifiedPrincipal | undefined, refused?: string) => {
    const refusal =
      refused ?? governance?.steeringRefusal(signal.name, { declared: payload.by, verified }) ?? take(payload);
    record({
      at: new Date().toISOString(),
      signal: signal.name,
      by: payload.by,
      accepted: refusal === undefined,
      ...(refusal !== undefined ? { refusal } : {}),
      ...(payload.reason ? { reason: payload.reason } : {}),
      ...(verified ? { verified: verifiedSender(verified) } : {}),
    });
  };
  setHandler(
    signal,
    (raw: unknown): void | Promise<void> => {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        const by = (raw as { by?: unknown } | undefined)?.by;
        record({
          at: new Date().toISOString(),
          signal: signal.name,
          by: typeof by === 'string' && by.trim() ? by : '(unknown)',
          accepted: false,
          refusal: `malformed ${signal.name}: ${describeZodError(parsed.error, signal.name)}`,
        });
        return;
      }
      const payload = parsed.data;
      const g = governance;
      // Runs recorded before policies settle at once, and a signal without a proof is taken as it arrives.
      if (!g || (g.isSettled && !payload.proof)) return decide(payload, undefined);
      return (async () => {
        await g.whenSettled();
        if (!payload.proof) return decide(payload, undefined);
        const v = await g.verify(payload.proof, signal.name, payload.reason ?? '');
        if ('refusal' in v) return decide(payload, undefined, v.refusal);
        return decide(payload, v.principal);
      })();
    },
    { description },
  );
}
