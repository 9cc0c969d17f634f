// backupVerification's pg_dump entries: the input a user writes (accepted with its defaults, or refused naming the
// field), existing RDS inputs unchanged, and the temporary database's name.
import { describe, expect, it } from 'vitest';
import { describeZodError } from '../../api/common';
import { backupVerificationInput, targetName } from '../../api/runbooks/restore';
import { scratchConnection } from '../../activities/pgdump';
import { scratchDatabaseName } from '../../workflows/verifyPgDump';

const checks = [{ name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 1000 } }];
const pgDump = { kind: 'pg_dump', bucket: 'acme-backups', prefix: 'backups/app/', rpo: '26h', checks };
const base = { region: 'us-east-1', reason: 'restore test' };

function refusal(input: unknown): string {
  const parsed = backupVerificationInput.safeParse(input);
  if (parsed.success) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.data)}`);
  return describeZodError(parsed.error);
}

describe('backupVerification input with pg_dump archives', () => {
  it('accepts a pg_dump entry next to an RDS one, which parses exactly as before', () => {
    const rds = { dbInstance: 'app-db', dataChecks: { secretId: 'db/app', checks } };
    const parsed = backupVerificationInput.parse({ ...base, databases: [rds, pgDump] });
    expect(parsed.databases![0]).toEqual({
      dbInstance: 'app-db',
      dataChecks: { secretId: 'db/app', checks, timeout: '2m' },
    });
    expect(parsed.databases![1]).toEqual(pgDump);
    expect(parsed.databases!.map(targetName)).toEqual(['app-db', 'acme-backups/backups/app']);
  });

  it('refuses a bad pg_dump entry naming the field, and an unknown kind naming both kinds', () => {
    expect(refusal({ ...base, databases: [{ ...pgDump, bucket: 'Acme_Backups' }] })).toBe(
      'input.databases.0.bucket: expected an S3 bucket name such as "acme-backups"',
    );
    expect(refusal({ ...base, databases: [{ ...pgDump, rpo: 'soon' }] })).toMatch(/^input\.databases\.0\.rpo: /);
    expect(refusal({ ...base, databases: [{ ...pgDump, format: 'tar' }] })).toMatch(/^input\.databases\.0\.format: /);
    expect(refusal({ ...base, databases: [{ ...pgDump, kind: 'mysqldump' }] })).toMatch(
      /^input\.databases\.0\.kind: expected kind "rds-snapshot" .* or "pg_dump"/,
    );
    // Snapshot fields on a pg_dump entry: refused, not ignored.
    expect(refusal({ ...base, databases: [{ ...pgDump, dbInstance: 'app-db' }] })).toMatch(
      /^input\.databases\.0: .*dbInstance/,
    );
  });

  it('needs checks (its own or the input’s) and one name per entry', () => {
    const { checks: _none, ...noChecks } = pgDump;
    expect(refusal({ ...base, databases: [noChecks] })).toBe(
      'input.databases.0.checks: expected checks (here or in the input’s dataChecks.checks)',
    );
    expect(refusal({ ...base, databases: [pgDump, { ...pgDump, rpo: '2h' }] })).toMatch(
      /^input\.databases\.1\.name: listed twice \(acme-backups\/backups\/app is also input\.databases\.0; give each a name\)/,
    );
    expect(
      backupVerificationInput.safeParse({ ...base, databases: [pgDump, { ...pgDump, name: 'second' }] }).success,
    ).toBe(true);
    const rds = { dbInstance: 'App', dataChecks: { secretId: 'db/app', checks } };
    expect(refusal({ ...base, databases: [rds, { ...pgDump, name: 'app' }] })).toMatch(
      /^input\.databases\.1\.name: listed twice \(app is also input\.databases\.0/,
    );
  });
});

describe('the scratch database and server', () => {
  it('names each run’s database verify_pgdump_<minute>_<hash>, unique per child even when started together', () => {
    const at = new Date('2026-12-01T09:30:45Z');
    // Two children of one run, started at once: their time-ordered run IDs share their first digits.
    const a = scratchDatabaseName('verify:x/verify-pgdump-a', '019ad99b-1f2e-7000-8000-000000000001', at);
    const b = scratchDatabaseName('verify:x/verify-pgdump-b', '019ad99b-1f2e-7000-8000-000000000002', at);
    expect(a).toMatch(/^verify_pgdump_202612010930_[0-9a-f]{8}$/);
    expect(b).toMatch(/^verify_pgdump_202612010930_[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(63);
  });

  it('reads RUNBOOKS_SCRATCH_PG_URL, and says what to set when it is missing', () => {
    expect(scratchConnection('postgres://scratch:p%40ss@db.local:6543/postgres?sslmode=require')).toMatchObject({
      host: 'db.local',
      port: 6543,
      user: 'scratch',
      password: 'p@ss',
      database: 'postgres',
      ssl: { rejectUnauthorized: false },
    });
    expect(() => scratchConnection('')).toThrow(/set RUNBOOKS_SCRATCH_PG_URL/);
  });
});
