// Activity proxies, one per timeout class. Workflow code imports activity *types* only.
import { patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
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

const CALL_RETRY = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 6,
  nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
};

const remoteCalls = proxyActivities<Pick<Activities, CallActivity>>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10s',
  retry: CALL_RETRY,
});

/**
 * The same calls as local activities: run by the worker that runs the workflow task, their results recorded as
 * markers, with no round trip through the server's task queue per call (P1 in docs/performance.md: a failover's
 * preflight is seven reads in a row). Only reads: a read repeated after a worker died changes nothing, so the local
 * activity's weaker guarantees (no heartbeat, re-run when the workflow task is retried) cost nothing; every change
 * stays an activity of its own, visible in the history and never repeated by a workflow task retry.
 */
const localCalls = proxyLocalActivities<Pick<Activities, CallActivity>>({
  startToCloseTimeout: '30s',
  retry: CALL_RETRY,
});

/** What counts as a read: describe…, get…, list…, find…, resolve…, probe… — activities that only read. */
const READ_ACTIVITY = /^(describe|get|list|find|resolve|probe)[A-Z]/;

/** Runs recorded before it made their reads as (remote) activities. */
export const LOCAL_READS_PATCH = 'local-reads-v1';

/** `remote`, whose reads go to `local` instead in runs that have LOCAL_READS_PATCH. */
function readsLocally<T extends object>(remote: T, local: T): T {
  return new Proxy(remote, {
    get(target, name, receiver) {
      if (typeof name === 'string' && READ_ACTIVITY.test(name) && patched(LOCAL_READS_PATCH)) {
        return Reflect.get(local, name, receiver);
      }
      return Reflect.get(target, name, receiver);
    },
  });
}

/**
 * One AWS API call (describe, update, change). Short timeout: a call that hangs is retried; exponential backoff
 * rides out throttling and 5xx (the SDK retries too). Gives up after ~2 minutes and fails the step. The worker
 * heartbeats while a change runs (activities/heartbeat.ts), so a worker that dies mid-call is noticed in 10 s.
 * Reads run as local activities (see localCalls).
 */
export const aws = readsLocally(remoteCalls, localCalls);

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
const PROBE_RETRY = { initialInterval: '1s', maximumAttempts: 2, nonRetryableErrorTypes: NON_RETRYABLE_ERRORS };
const remoteProbes = proxyActivities<Pick<Activities, ProbeActivity>>({
  startToCloseTimeout: '15s',
  heartbeatTimeout: '10s',
  retry: PROBE_RETRY,
});
const localProbes = proxyLocalActivities<Pick<Activities, ProbeActivity>>({
  startToCloseTimeout: '15s',
  retry: PROBE_RETRY,
});
/** The probes are reads too: local activities like the others (LOCAL_READS_PATCH). */
export const probes = readsLocally(remoteProbes, localProbes);

/** What the worker itself knows (the organisation policy): local activities, answered at once by the worker. */
export const local = proxyLocalActivities<Pick<Activities, LocalActivity>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3 },
});
