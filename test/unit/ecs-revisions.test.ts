// listActiveRevisions with a stubbed ECS client: the paths the emulator cannot reach (it always answers in ascending
// order on one page): pages, descending answers, other families that share the prefix.
import { ECSClient, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../activities/aws-clients';
import { createEcsActivities } from '../../activities/ecs';

const client = new ECSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const ecsMock = mockClient(client);
const aws = { ecs: () => client } as unknown as AwsClients;
const arn = (family: string, revision: number) =>
  `arn:aws:ecs:eu-west-1:123456789012:task-definition/${family}:${revision}`;

afterEach(() => {
  ecsMock.reset();
});

describe('listActiveRevisions (stubbed client)', () => {
  it('follows nextToken, sorts by revision number (not as text) and drops families that only share the prefix', async () => {
    ecsMock
      .on(ListTaskDefinitionsCommand, { familyPrefix: 'web', status: 'ACTIVE', nextToken: undefined })
      .resolves({ taskDefinitionArns: [arn('web', 10), arn('web-worker', 4), arn('web', 9)], nextToken: 'page-2' })
      .on(ListTaskDefinitionsCommand, { familyPrefix: 'web', status: 'ACTIVE', nextToken: 'page-2' })
      .resolves({ taskDefinitionArns: [arn('web', 2), arn('webapp', 1), arn('web', 11)] });

    const revisions = await createEcsActivities(aws).listActiveRevisions({ region: 'eu-west-1', family: 'web' });

    expect(revisions).toEqual([
      { arn: arn('web', 2), family: 'web', revision: 2 },
      { arn: arn('web', 9), family: 'web', revision: 9 },
      { arn: arn('web', 10), family: 'web', revision: 10 },
      { arn: arn('web', 11), family: 'web', revision: 11 },
    ]);
    expect(ecsMock.commandCalls(ListTaskDefinitionsCommand)).toHaveLength(2);
  });
});
