// createActivities(deps): the one factory the worker and the tests use. Each dependency is built once by the
// caller (AWS clients per region, a Temporal client, fetch) and shared by every activity.
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { AwsClients } from './aws-clients';
import { createAutoScalingActivities } from './autoscaling';
import { createCloudWatchActivities } from './cloudwatch';
import { createDataCheckActivities, type EndpointOverrides } from './datachecks';
import { createEcsActivities } from './ecs';
import { createHealthActivities } from './health';
import { createNotifyActivities, type NotifierConfig } from './notify';
import { createRdsActivities } from './rds';
import { createRoute53Activities } from './route53';
import { createSecretsActivities } from './secrets';
import { createTemporalActivities } from './temporal';
import { createTrafficActivities } from './traffic';

export interface ActivityDeps {
  aws: AwsClients;
  temporal?: Client;
  fetch?: typeof fetch;
  /** Local runs and tests: RDS endpoint → host:port for the data checks (see activities/datachecks.ts). */
  dbEndpointOverrides?: EndpointOverrides;
  /** Chat notifications (off without a webhook URL). */
  notifier?: NotifierConfig;
}

/**
 * Temporal types an activity failure by the error's class name. The AWS SDK throws error codes its model does not
 * define (e.g. RDS `AccessDenied`) as the service's base class (`RDSServiceException`), with the real code only in
 * `name`; retry policies match on the code, so re-raise such errors typed by their `name`.
 */
export function typedByName<T extends Record<string, unknown>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [key, fn] of Object.entries(activities)) {
    if (typeof fn !== 'function') {
      wrapped[key] = fn;
      continue;
    }
    wrapped[key] = async (...args: unknown[]) => {
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
      }
    };
  }
  return wrapped as T;
}

export function createActivities(deps: ActivityDeps) {
  return typedByName({
    ...createEcsActivities(deps.aws),
    ...createAutoScalingActivities(deps.aws),
    ...createRoute53Activities(deps.aws),
    ...createRdsActivities(deps.aws),
    ...createCloudWatchActivities(deps.aws),
    ...createSecretsActivities(deps.aws),
    ...createTrafficActivities(deps.aws),
    ...createDataCheckActivities(deps.aws, deps.dbEndpointOverrides),
    ...createNotifyActivities(deps.notifier, deps.fetch),
    ...createHealthActivities(deps.fetch),
    ...createTemporalActivities(deps.temporal),
  });
}

export type Activities = ReturnType<typeof createActivities>;
