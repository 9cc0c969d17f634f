// Data checks against the real test PostgreSQL: values and verdicts, the endpoint override, and that a check can
// never write (read-only session, one statement per check).
import { Client } from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createAwsClients } from '../../activities/aws-clients';
import { createDataCheckActivities, resolveEndpoint } from '../../activities/datachecks';
import { ensureSecret } from '../../scripts/lib/fixtures';
import { DEMO_DB } from '../../scripts/lib/postgres';
import { uid } from '../helpers/temporal';

const aws = createAwsClients();
afterAll(() => aws.destroy());

const overrides = () => ({ '*.rds.amazonaws.com': `127.0.0.1:${inject('pgPort')}` });
const endpoint = 'some-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com';

async function secret(): Promise<string> {
  const name = uid('db-secret');
  await ensureSecret(aws, 'us-east-1', name, {
    username: DEMO_DB.user,
    password: DEMO_DB.password,
    dbname: DEMO_DB.database,
  });
  return name;
}

describe('runDataChecks', () => {
  it('reads numbers and judges them; the password stays out of the result', async () => {
    const secretId = await secret();
    const { runDataChecks } = createDataCheckActivities(aws, overrides());
    const r = await runDataChecks({
      region: 'us-east-1',
      endpoint,
      port: 5432,
      secretId,
      checks: [
        { name: 'users', sql: 'SELECT count(*) FROM users', expect: { min: 1000 } },
        { name: 'exact', sql: 'SELECT count(*) FROM users', expect: { equals: 5 } },
        { name: 'broken', sql: 'SELECT count(*) FROM no_such_table', expect: { min: 0 } },
        { name: 'after a broken one', sql: 'SELECT 7', expect: { equals: 7 } },
      ],
    });
    expect(r.connected).toBe(true);
    expect(r.target).toBe(`127.0.0.1:${inject('pgPort')} (override for ${endpoint})`);
    expect(r.results.map((x) => [x.name, x.value, x.pass])).toEqual([
      ['users', 1200, true],
      ['exact', 1200, false],
      ['broken', null, false],
      ['after a broken one', 7, true],
    ]);
    expect(r.passed).toBe(false);
    expect(JSON.stringify(r)).not.toContain(DEMO_DB.password);
  });

  it('cannot write: a second statement is refused and the session is read only', async () => {
    const secretId = await secret();
    const table = `evil_${uid('t').replace(/-/g, '_')}`;
    const { runDataChecks } = createDataCheckActivities(aws, overrides());
    const r = await runDataChecks({
      region: 'us-east-1',
      endpoint,
      port: 5432,
      secretId,
      checks: [
        { name: 'smuggled', sql: `COMMIT; CREATE TABLE ${table} (x int); SELECT 1`, expect: { equals: 1 } },
        { name: 'direct', sql: `CREATE TABLE ${table} (x int)`, expect: { min: 0 } },
      ],
    });
    expect(r.results.every((x) => !x.pass)).toBe(true);
    expect(r.results[1]?.error).toMatch(/read-only transaction/);
    const pg = new Client({ host: '127.0.0.1', port: inject('pgPort'), ...DEMO_DB });
    await pg.connect();
    const exists = await pg.query('SELECT to_regclass($1) AS t', [table]);
    await pg.end();
    expect(exists.rows[0].t).toBeNull();
  });

  it('an unreachable database is reported, not thrown', async () => {
    const secretId = await secret();
    const { runDataChecks } = createDataCheckActivities(aws, { [endpoint]: '127.0.0.1:1' });
    const r = await runDataChecks({ region: 'us-east-1', endpoint, port: 5432, secretId, checks: [], timeoutMs: 3000 });
    expect(r).toMatchObject({ connected: false, passed: false, target: `127.0.0.1:1 (override for ${endpoint})` });
    expect(r.connectError).toMatch(/ECONNREFUSED/);
  });

  it('overrides: exact endpoints and *.suffix wildcards; none means the endpoint itself', () => {
    expect(resolveEndpoint('a.x.rds.amazonaws.com', 5432, { 'a.x.rds.amazonaws.com': 'h:1' })).toEqual({
      host: 'h',
      port: 1,
      overridden: true,
    });
    expect(resolveEndpoint('b.x.rds.amazonaws.com', 5432, { '*.rds.amazonaws.com': 'h:2' })).toEqual({
      host: 'h',
      port: 2,
      overridden: true,
    });
    expect(resolveEndpoint('b.x.rds.amazonaws.com', 5432, {})).toEqual({
      host: 'b.x.rds.amazonaws.com',
      port: 5432,
      overridden: false,
    });
  });
});
