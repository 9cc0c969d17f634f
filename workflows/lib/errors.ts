// Failure helpers for workflow code: find the message a person should read, fail without retries.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TemporalFailure } from '@temporalio/workflow';
import { FailureType } from '../../api/failures';
import { NON_RETRYABLE_ERRORS } from './proxies';

/** The innermost useful message of a failure chain (activity → application failure → cause). */
export function errorMessage(err: unknown): string {
  return rootFailure(err).message;
}

/** Walk ActivityFailure/ChildWorkflowFailure wrappers down to the failure that says what went wrong. */
export function rootFailure(err: unknown): { message: string; type?: string } {
  let current: unknown = err;
  for (let depth = 0; depth < 10; depth++) {
    if ((current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) && current.cause) {
      current = current.cause;
      continue;
    }
    break;
  }
  if (current instanceof ApplicationFailure) return { message: current.message, type: current.type ?? undefined };
  if (current instanceof TemporalFailure) return { message: current.message, type: current.name };
  if (current instanceof Error) return { message: current.message, type: current.name };
  return { message: String(current) };
}

/** A failure that ends the run at once (no retry of the workflow task). Only a listed type: scripts match on it. */
export function fail(type: FailureType, message: string, details: unknown[] = []): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details });
}

/** Non-retryable outcomes of a wait: what AWS showed, not a refused call. */
const WAIT_OUTCOMES: readonly string[] = [
  FailureType.NotStable,
  FailureType.DbInstanceFailed,
  FailureType.ServiceDeploymentFailed,
  FailureType.ChangeStillPending,
  FailureType.RegionUnavailable,
  FailureType.SnapshotFailed,
];

/**
 * A failure that says the call itself was refused (permissions, bad parameters, missing resource) as opposed to a
 * region that did not answer. The activity retry policy lists these types as non-retryable.
 */
export function isClientError(err: unknown): boolean {
  const type = rootFailure(err).type;
  return type !== undefined && NON_RETRYABLE_ERRORS.includes(type) && !WAIT_OUTCOMES.includes(type);
}
