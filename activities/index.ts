// createActivities(deps): the one factory the worker and the tests use. Each dependency is built once by the
// caller (AWS clients per region, a Temporal client, fetch) and shared by every activity.
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { keepAlive } from './heartbeat';
import { activityContext } from './poll';
import type { AwsClients } from './aws-clients';
import { createAuroraActivities } from './aurora';
import { createAuroraGlobalActivities } from './aurora-global';
import { createAutoScalingActivities } from './autoscaling';
import { createCloudWatchActivities } from './cloudwatch';
import { createDataCheckActivities, type EndpointOverrides } from './datachecks';
import { createEcsActivities } from './ecs';
import { createEcsTaskActivities } from './ecs-tasks';
import { createHealthActivities } from './health';
import { createHttpCheckActivities } from './http-check';
import { createMetricSeriesActivities } from './metric-series';
import { createIdentityActivities } from './identity';
import { createNotifyActivities, type NotifierConfig } from './notify';
import { createPolicyActivities, type PolicyConfig } from './policy';
import { createRdsActivities } from './rds';
import { createRdsRebootActivities } from './rds-reboot';
import { createRoute53Activities } from './route53';
import { createSecretsActivities } from './secrets';
import { createTemporalActivities } from './temporal';
import { createTrafficActivities } from './traffic';
import { createTriageActivities } from './triage';
import { createCodeDeployActivities } from './codedeploy';
import { createPgDumpActivities } from './pgdump';

export interface ActivityDeps {
  aws: AwsClients;
  temporal?: Client;
  fetch?: typeof fetch;
  /** Local runs and tests: RDS endpoint → host:port for the data checks (see activities/datachecks.ts). */
  dbEndpointOverrides?: EndpointOverrides;
  /** Chat notifications (off without a webhook URL). */
  notifier?: NotifierConfig;
  /**
   * The organisation policy every run starts under (worker/policy-file.ts). The worker always passes one (the file,
   * or the built-in floors); absent — tests that exercise the input's own rules — a run follows its input alone.
   */
  policy?: PolicyConfig;
}

/**
 * What every activity gets from the worker:
 * - kept alive by heartbeats while it runs, when its proxy gives it a heartbeat timeout (activities/heartbeat.ts):
 *   a worker killed in the middle of an AWS call is noticed after 10 s, not after the call's 30 s timeout;
 * - errors typed by their AWS code. Temporal types an activity failure by the error's class name; the AWS SDK throws
 *   error codes its model does not define (e.g. RDS `AccessDenied`) as the service's base class
 *   (`RDSServiceException`), with the real code only in `name`; retry policies match on the code, so such errors
 *   are re-raised typed by their `name`.
 */
export function asActivities<T extends Record<string, unknown>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [key, fn] of Object.entries(activities)) {
    if (typeof fn !== 'function') {
      wrapped[key] = fn;
      continue;
    }
    wrapped[key] = async (...args: unknown[]) => {
      const stop = keepAlive(activityContext());
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        if (
          err instanceof Error &&
          !(err instanceof ApplicationFailure) &&
          err.name &&
          err.name !== err.constructor.name
        ) {
          throw ApplicationFailure.create({ type: err.name, message: err.message, cause: err });
        }
        throw err;
      } finally {
        stop();
      }
    };
  }
  return wrapped as T;
}

export function createActivities(deps: ActivityDeps) {
  return asActivities({
    ...createEcsActivities(deps.aws),
    ...createEcsTaskActivities(deps.aws),
    ...createAutoScalingActivities(deps.aws),
    ...createRoute53Activities(deps.aws),
    ...createRdsActivities(deps.aws),
    ...createRdsRebootActivities(deps.aws),
    ...createCloudWatchActivities(deps.aws),
    ...createMetricSeriesActivities(deps.aws),
    ...createHttpCheckActivities(deps.aws, deps.fetch),
    ...createSecretsActivities(deps.aws),
    ...createTrafficActivities(deps.aws),
    ...createCodeDeployActivities(deps.aws),
    ...createTriageActivities(deps.aws),
    ...createDataCheckActivities(deps.aws, deps.dbEndpointOverrides),
    ...createPgDumpActivities(deps.aws, deps.temporal),
    ...createAuroraActivities(deps.aws, deps.dbEndpointOverrides),
    ...createAuroraGlobalActivities(deps.aws),
    ...createNotifyActivities(deps.notifier, deps.fetch),
    ...createHealthActivities(deps.fetch),
    // verifyAwsProof: one call to STS at the worker's own endpoint (stsEndpoint()): a CallActivity.
    ...createIdentityActivities(deps.fetch),
    ...createTemporalActivities(deps.temporal),
    ...createPolicyActivities(deps.policy, { chat: !!deps.notifier?.webhookUrl }),
  });
}

export type Activities = ReturnType<typeof createActivities>;

/**
 * Each activity's timeout class, decided here beside the activities: a workflow reaches an activity only through its
 * class's proxy (workflows/lib/proxies.ts), typed with that class alone, so a long wait called through the 30-second
 * proxy — or a plain call through the three-hour one — does not compile.
 */
/** Polls until a state or a deadline (minutes to hours), heartbeating: the `waits` proxy. */
export type WaitActivity =
  | 'checkHealth'
  | 'waitForCodeDeployDeployment'
  | 'runDataChecks'
  | 'restorePgDumpArchive'
  | 'runScratchDataChecks'
  | 'waitForAuroraFailover'
  | 'waitForChangeInsync'
  | 'waitForClusterEndpoint'
  | 'waitForDbAvailable'
  | 'waitForDbFailover'
  | 'waitForDbStandalone'
  | 'waitForGlobalWriter'
  | 'waitForReplicaLag'
  | 'waitForServiceStable'
  | 'waitForSnapshotAvailable';
/** Reads of a region that may be down (short timeout, two attempts: an outage is told in seconds): `probes`. */
export type ProbeActivity = 'describeService' | 'findDbInstance' | 'findGlobalMemberCluster' | 'probeAuroraCluster';
/** Chat messages (never fail a run): the notifier's own proxy. */
export type NotifyActivity = 'notify';
/** The worker's own configuration, read when a run starts: a local activity (recorded in history as a marker). */
export type LocalActivity = 'organisationPolicy';
/** Everything else: one AWS (or Temporal) call, seconds at most: the `aws` proxy. */
export type CallActivity = Exclude<keyof Activities, WaitActivity | NotifyActivity | LocalActivity>;

// A new `waitFor…` activity that is not listed as a wait does not compile (the error names it).
type OnlyNever<T extends never> = T;
export type UnlistedWaits = OnlyNever<Exclude<Extract<keyof Activities, `waitFor${string}`>, WaitActivity>>;
