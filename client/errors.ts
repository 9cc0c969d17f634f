// One readable line for any error the CLI meets: walks WorkflowFailedError → ActivityFailure → ApplicationFailure
// (and update / connection errors) down to the message a person needs.
import {
  ServiceError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { TemporalFailure } from '@temporalio/common';

/** An error whose message is already what the user should read. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof UserError) return err.message;
  if (err instanceof WorkflowNotFoundError) return `no run with workflow ID ${err.workflowId ?? '(unknown)'}`;
  if (err instanceof WorkflowFailedError || err instanceof WorkflowUpdateFailedError) {
    return innermost(err.cause) ?? err.message;
  }
  if (err instanceof ServiceError) {
    const text = `${err.message} ${String(err.cause ?? '')}`;
    if (/UNAVAILABLE|ECONNREFUSED|connect|deadline/i.test(text)) {
      return `cannot reach Temporal (${firstLine(text)}); is the stack up (npm run dev) or TEMPORAL_ADDRESS set?`;
    }
    return firstLine(err.cause instanceof Error ? err.cause.message : err.message);
  }
  if (err instanceof TemporalFailure) return innermost(err) ?? err.message;
  if (err instanceof Error) {
    if (/connect|ECONNREFUSED|transport/i.test(err.message)) {
      return `cannot reach Temporal (${firstLine(err.message)}); is the stack up (npm run dev) or TEMPORAL_ADDRESS set?`;
    }
    return firstLine(err.message);
  }
  return String(err);
}

/** The deepest failure message in a cause chain, prefixed by nothing: it is the sentence that says what happened. */
function innermost(failure: unknown): string | undefined {
  let current = failure;
  let message: string | undefined;
  for (let depth = 0; depth < 20 && current; depth++) {
    if (current instanceof Error && current.message) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return message ? firstLine(message) : undefined;
}

const firstLine = (text: string) => text.split('\n')[0]!.trim();
