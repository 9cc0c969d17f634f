// Building blocks for rdsRebootFailover's tests: a uniquely named PostgreSQL instance, Multi-AZ or not (the emulator
// places it in <region>a with, when Multi-AZ, a standby in <region>b: scripts/moto/server.py), and its zones as
// `aws rds describe-db-instances` shows them.
import { CreateDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../../activities/aws-clients';
import { DEMO_DB } from '../../../scripts/lib/postgres';
import { uid } from '../temporal';

export async function makeDbInstance(aws: AwsClients, region: string, opts: { multiAz: boolean }): Promise<string> {
  const id = uid(opts.multiAz ? 'maz' : 'saz');
  await aws.rds(region).send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: DEMO_DB.user,
      MasterUserPassword: DEMO_DB.password,
      DBName: DEMO_DB.database,
      MultiAZ: opts.multiAz,
    }),
  );
  return id;
}

/** Its status, the zone it serves from and its standby's. */
export async function dbZones(
  aws: AwsClients,
  region: string,
  id: string,
): Promise<{ status?: string; az?: string; standby?: string }> {
  const db = (await aws.rds(region).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))
    .DBInstances![0]!;
  return { status: db.DBInstanceStatus, az: db.AvailabilityZone, standby: db.SecondaryAvailabilityZone };
}
