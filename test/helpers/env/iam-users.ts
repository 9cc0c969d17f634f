// People, for the tests of verified identity: IAM users in the emulator, each with an access key of its own (what an
// SSO or profile login gives a person). moto's STS answers GetCallerIdentity with the user who owns the key.
import { CreateAccessKeyCommand, CreateUserCommand, type IAMClient } from '@aws-sdk/client-iam';
import { uid } from '../temporal';

export interface IamUser {
  name: string;
  arn: string;
  keys: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** A new IAM user named `<prefix>-<random>`, with an access key. */
export async function makeIamUser(iam: IAMClient, prefix: string): Promise<IamUser> {
  const name = uid(prefix);
  const created = await iam.send(new CreateUserCommand({ UserName: name }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: name }));
  return {
    name,
    arn: created.User!.Arn!,
    keys: { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! },
  };
}
