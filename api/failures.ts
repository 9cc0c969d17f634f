// The ApplicationFailure types a runbook run (or one of its updates) fails with: the workflows' own (`fail()` in
// workflows/lib/errors.ts) and the activities' domain errors (activities/errors.ts), which reach the run unchanged.
// Scripts and the Temporal UI match on these strings, and committed histories carry them: never change a value.
// A run can also fail with an AWS error's own name (AccessDenied, DBInstanceNotFoundFault, …): those are not listed.

export const FailureType = {
  // Refusals before anything changed
  /** The input does not match the runbook's schema; the message names the field. Nothing was changed. */
  InvalidInput: 'InvalidInput',
  /** Another run already holds this resource's lock; wait for it or stop it. Nothing was changed. */
  ResourceBusy: 'ResourceBusy',
  /** A resource named in the input does not exist (or no longer exists); check the names and the region. */
  ResourceNotFound: 'ResourceNotFound',
  /** AWS is not as the runbook requires (e.g. no earlier revision, replica not available); the message says what. */
  PreconditionFailed: 'PreconditionFailed',
  /** Replica lag above the limit (or unknown): failing over would lose writes; set acceptDataLoss to go on anyway. */
  ReplicaLagRefused: 'ReplicaLagRefused',
  /** The primary is healthy, so this is not a failover; set plannedSwitchover for a drill or planned move. */
  PrimaryHealthy: 'PrimaryHealthy',
  /**
   * The organisation policy does not allow this run as started: who may start it, a verified identity it needs
   * (start --aws), or a proof of identity that does not verify. Nothing was changed.
   */
  PolicyRefused: 'PolicyRefused',

  // Decisions by people
  /** Someone rejected the run at its approval gate; what it changed was undone. */
  ApprovalRejected: 'ApprovalRejected',
  /** No quorum of approvals before the gate's timeout, treated as a rejection; what it changed was undone. */
  ApprovalTimedOut: 'ApprovalTimedOut',
  /** An approve/reject update was refused (not an allowed approver, the initiator, gate closed …); the run goes on. */
  ApprovalRefused: 'ApprovalRefused',
  /** A decision's proof of identity (CLI --aws) was refused: bound to something else, too old, or refused by STS. */
  IdentityRefused: 'IdentityRefused',
  /** An operator abandoned a run in needs-operator: AWS was left as it was, nothing undone; the message lists both. */
  Abandoned: 'Abandoned',
  /** A blue-green deployment was aborted, rolled back or paused too long: traffic is back on blue. */
  RolledBack: 'RolledBack',

  // Checks that failed
  /** A blue-green gate (alarm, metric, target health, health probe) failed: traffic went back to blue. */
  GateFailed: 'GateFailed',
  /** An app or endpoint was not healthy after the change; see the message for what was undone. */
  HealthCheckFailed: 'HealthCheckFailed',
  /** The SQL data checks failed on a restored database; it was not switched to. */
  DataCheckFailed: 'DataCheckFailed',
  /** At least one database failed its backup verification; every database's result is in the failure's details. */
  BackupVerificationFailed: 'BackupVerificationFailed',

  // Waits on AWS that ended without the state they waited for (raised by activities)
  /** An ECS service did not become stable in time; look at its service events. */
  NotStable: 'NotStable',
  /** An RDS instance went into a state it does not leave by itself (failed, incompatible-restore, storage-full …). */
  DbInstanceFailed: 'DbInstanceFailed',
  /** An ECS deployment failed (rollout FAILED, circuit breaker rolled back, tasks keep stopping); AWS's reason is quoted. */
  ServiceDeploymentFailed: 'ServiceDeploymentFailed',
  /** A Route 53 change was still PENDING when its wait ran out; it was accepted and may still be applied. */
  ChangeStillPending: 'ChangeStillPending',
  /** A region stopped answering several polls in a row (an outage); what the wait waited for may still happen. */
  RegionUnavailable: 'RegionUnavailable',
  /** An RDS snapshot ended failed (or is being deleted): it will not become available. */
  SnapshotFailed: 'SnapshotFailed',

  /** A failure that carried no type of its own; read the message. */
  RunbookFailed: 'RunbookFailed',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
