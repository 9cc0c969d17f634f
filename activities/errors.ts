// Domain errors raised by activities. Their `name` becomes the Temporal failure type, which the workflows' retry
// policies match on (see workflows/lib/proxies.ts NON_RETRYABLE_ERRORS); api/failures.ts lists and describes them.
import { FailureType } from '../api/failures';

/** The base of a domain error: an Error whose `name` is the failure type `type`. */
function domainError<T extends FailureType>(type: T) {
  return class extends Error {
    override readonly name = type;
  };
}

/** A resource named in the input does not exist (or is not in a usable state). */
export class ResourceNotFound extends domainError(FailureType.ResourceNotFound) {}

/** The world is not as the runbook requires (e.g. no earlier revision to roll back to). */
export class PreconditionFailed extends domainError(FailureType.PreconditionFailed) {}

/**
 * A wait ran out of time (ECS service not stable, RDS instance or snapshot not available, no replica lag reported).
 * A Route 53 change still PENDING is ChangeStillPending.
 */
export class NotStable extends domainError(FailureType.NotStable) {}

/**
 * An RDS instance a wait watches is in a state it does not leave by itself (`failed`, `incompatible-restore`,
 * `storage-full`, `deleting`, gone …): waiting longer cannot help, so the wait stops at once and names the state.
 */
export class DbInstanceFailed extends domainError(FailureType.DbInstanceFailed) {}

/**
 * An ECS deployment a wait watches has failed: its rolloutState is FAILED, the deployment circuit breaker rolled the
 * service back to another task definition, or the new tasks keep stopping. The message quotes AWS's reason.
 */
export class ServiceDeploymentFailed extends domainError(FailureType.ServiceDeploymentFailed) {}

/** A Route 53 change still PENDING when its wait ran out (the change was accepted; it may still be applied). */
export class ChangeStillPending extends domainError(FailureType.ChangeStillPending) {}

/**
 * The region a wait reads stopped answering (several polls in a row got a 5xx, a timeout or no connection): an outage,
 * not a blip. What the wait waited for may still happen; the run decides (compensate, or needs-operator).
 */
export class RegionUnavailable extends domainError(FailureType.RegionUnavailable) {}

/** An RDS snapshot a wait watches ended `failed` (or is being deleted): it will not become available. */
export class SnapshotFailed extends domainError(FailureType.SnapshotFailed) {}
