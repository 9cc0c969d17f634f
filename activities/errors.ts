// Domain errors raised by activities. Their `name` becomes the Temporal failure type, which the workflows'
// retry policies match on (see workflows/lib/activities.ts NON_RETRYABLE_ERRORS).

/** A resource named in the input does not exist (or is not in a usable state). */
export class ResourceNotFound extends Error {
  override readonly name = 'ResourceNotFound';
}

/** The world is not as the runbook requires (e.g. no earlier revision to roll back to). */
export class PreconditionFailed extends Error {
  override readonly name = 'PreconditionFailed';
}

/** A wait ran out of time (service not stable, change not INSYNC). */
export class NotStable extends Error {
  override readonly name = 'NotStable';
}
