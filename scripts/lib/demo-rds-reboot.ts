// The demo environment's part for the rdsRebootFailover runbook (docs/examples/rds-reboot-failover.json): a Multi-AZ
// PostgreSQL instance `demo-multiaz` in us-east-1 (the other demo databases are Single-AZ: demo-db has a cross-region
// replica instead), serving from us-east-1a with its standby in us-east-1b (scripts/moto/server.py reports the
// standby and swaps the two on a reboot with failover), and the secret its SQL probe connects with — the demo
// PostgreSQL's credentials, as for demo-db. Idempotent: `npm run dev` seeds at every start; `reset` empties the
// emulator first, so the instance comes back serving from us-east-1a after a drill moved it.
import { CreateDBInstanceCommand, type DBInstance } from '@aws-sdk/client-rds';
import type { AwsClients } from '../../activities/aws-clients';
import { describeDb, ensureSecret } from './fixtures';

export const RDS_REBOOT_DEMO = {
  region: 'us-east-1',
  dbInstance: 'demo-multiaz',
  secret: 'demo/multiaz-db',
} as const;

export async function seedRdsRebootDemo(aws: AwsClients): Promise<{ dbInstance: string; endpoint: string }> {
  const { region, dbInstance, secret } = RDS_REBOOT_DEMO;
  let db: DBInstance | undefined = await describeDb(aws, region, dbInstance);
  if (!db) {
    const out = await aws.rds(region).send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: dbInstance,
        Engine: 'postgres',
        EngineVersion: '16.3',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'app',
        MasterUserPassword: 'demo-password-not-secret',
        DBName: 'app',
        BackupRetentionPeriod: 7,
        // AWS refuses an AvailabilityZone with MultiAZ: RDS places both (moto: the primary in <region>a).
        MultiAZ: true,
      }),
    );
    db = out.DBInstance!;
  }
  const endpoint = db.Endpoint?.Address ?? '';
  await ensureSecret(aws, region, secret, {
    engine: 'postgres',
    host: endpoint,
    port: 5432,
    username: 'app',
    password: 'demo-password-not-secret',
    dbname: 'app',
  });
  return { dbInstance, endpoint };
}
