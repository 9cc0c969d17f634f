// Activity proxies, one per timeout class. Workflow code imports activity *types* only.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities, CallActivity, LocalActivity, ProbeActivity, WaitActivity } from '../../activities';

/** AWS and Temporal errors that a retry cannot fix: bad names, missing resources, denied permissions. */
export const NON_RETRYABLE_ERRORS = [
  // our own domain errors (activities/errors.ts)
  'ResourceNotFound',
  'PreconditionFailed',
  'NotStable',
  'DbInstanceFailed',
  'ServiceDeploymentFailed',
  'ChangeStillPending',
  'RegionUnavailable',
  'SnapshotFailed',
  // AWS: client-side mistakes and permissions
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ValidationError',
  'ValidationException',
  'InvalidParameterException',
  'InvalidParameterValue',
  'ClientException',
  'ClusterNotFoundException',
  'ServiceNotFoundException',
  'ServiceNotActiveException',
  'NoSuchHostedZone',
  'InvalidChangeBatch',
  'InvalidInput',
  'NoSuchChange',
  'DBInstanceNotFoundFault',
  'DBSnapshotNotFoundFault',
  'DBClusterNotFoundFault',
  'GlobalClusterNotFoundFault',
  'NoSuchBucket', // S3
  'ResourceNotFoundException',
  'ObjectNotFoundException', // Application Auto Scaling
];

/**
 * One AWS API call (describe, update, change). Short timeout: a call that hangs is retried; exponential backoff
 * rides out throttling and 5xx (the SDK retries too). Gives up after ~2 minutes and fails the step. The worker
 * heartbeats while the call runs (activities/heartbeat.ts), so a worker that dies mid-call is noticed in 10 s.
 */
export const aws = proxyActivities<Pick<Activities, CallActivity>>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 6,
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
});

/**
 * Long polls (wait until stable / INSYNC / healthy). The activity bounds its own wait with the deadline it is
 * given and heartbeats each poll (and the worker every few seconds between polls), so a dead worker is noticed
 * within the heartbeat timeout and the retry resumes from the heartbeat instead of starting the wait over.
 */
export const waits = proxyActivities<Pick<Activities, WaitActivity>>({
  startToCloseTimeout: '3h',
  heartbeatTimeout: '20s',
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  },
});

/**
 * Reading a region that may be down (the primary, in a failover): a short timeout and two attempts, so an outage is
 * reported within seconds instead of after minutes of retries.
 */
export const probes = proxyActivities<Pick<Activities, ProbeActivity>>({
  startToCloseTimeout: '15s',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE_ERRORS },
});

/** What the worker itself knows (the organisation policy): local activities, answered at once by the worker. */
export const local = proxyLocalActivities<Pick<Activities, LocalActivity>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});
