// Domain errors raised by activities. Their `name` becomes the Temporal failure type, which the workflows'
// retry policies match on (see workflows/lib/proxies.ts NON_RETRYABLE_ERRORS); api/failures.ts lists them.
import { FailureType } from '../api/failures';

/** A resource named in the input does not exist (or is not in a usable state). */
export class ResourceNotFound extends Error {
  override readonly name = FailureType.ResourceNotFound;
}

/** The world is not as the runbook requires (e.g. no earlier revision to roll back to). */
export class PreconditionFailed extends Error {
  override readonly name = FailureType.PreconditionFailed;
}

/** A wait ran out of time (service not stable, change not INSYNC). */
export class NotStable extends Error {
  override readonly name = FailureType.NotStable;
}

/**
 * An RDS instance a wait watches is in a state it does not leave by itself (`failed`, `incompatible-restore`,
 * `storage-full`, `deleting`, gone …): waiting longer cannot help, so the wait stops at once and names the state.
 */
export class DbInstanceFailed extends Error {
  override readonly name = FailureType.DbInstanceFailed;
}

/**
 * An ECS deployment a wait watches has failed: its rolloutState is FAILED, the deployment circuit breaker rolled the
 * service back to another task definition, or the new tasks keep stopping. The message quotes AWS's reason.
 */
export class ServiceDeploymentFailed extends Error {
  override readonly name = FailureType.ServiceDeploymentFailed;
}

/** A Route 53 change still PENDING when its wait ran out (the change was accepted; it may still be applied). */
export class ChangeStillPending extends Error {
  override readonly name = FailureType.ChangeStillPending;
}

/**
 * The region a wait reads stopped answering (several polls in a row got a 5xx, a timeout or no connection): an outage,
 * not a blip. What the wait waited for may still happen; the run decides (compensate, or needs-operator).
 */
export class RegionUnavailable extends Error {
  override readonly name = FailureType.RegionUnavailable;
}

/** An RDS snapshot a wait watches ended `failed` (or is being deleted): it will not become available. */
export class SnapshotFailed extends Error {
  override readonly name = FailureType.SnapshotFailed;
}
