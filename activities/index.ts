// createActivities(deps): the one factory the worker and the tests use. Each dependency is built once by the
// caller (AWS clients per region, a Temporal client, fetch) and shared by every activity.
import type { Client } from '@temporalio/client';
import type { AwsClients } from './aws-clients';
import { createCloudWatchActivities } from './cloudwatch';
import { createEcsActivities } from './ecs';
import { createHealthActivities } from './health';
import { createRdsActivities } from './rds';
import { createRoute53Activities } from './route53';
import { createSecretsActivities } from './secrets';
import { createTemporalActivities } from './temporal';

export interface ActivityDeps {
  aws: AwsClients;
  temporal?: Client;
  fetch?: typeof fetch;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createEcsActivities(deps.aws),
    ...createRoute53Activities(deps.aws),
    ...createRdsActivities(deps.aws),
    ...createCloudWatchActivities(deps.aws),
    ...createSecretsActivities(deps.aws),
    ...createHealthActivities(deps.fetch),
    ...createTemporalActivities(deps.temporal),
  };
}

export type Activities = ReturnType<typeof createActivities>;
