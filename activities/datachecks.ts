// Data checks: real SQL against a (restored) database. Credentials come from a Secrets Manager secret and stay
// inside this activity: only the check names, values and verdicts enter workflow history. Every query runs in a
// read-only transaction with a statement timeout.
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { Client, type ClientConfig } from 'pg';
import type { AwsClients } from './aws-clients';
import { PreconditionFailed } from './errors';
import { readFileSync } from 'node:fs';
import { abortSignal } from './poll';

export interface DataCheck {
  name: string;
  sql: string;
  expect: { min?: number | undefined; max?: number | undefined; equals?: number | undefined };
}

export interface DataCheckResult {
  name: string;
  value: number | null;
  expect: string;
  pass: boolean;
  error?: string;
}

export interface DataCheckReport {
  /** Where the checks connected (after any endpoint override). */
  target: string;
  connected: boolean;
  connectError?: string;
  results: DataCheckResult[];
  passed: boolean;
}

/**
 * Endpoint overrides (local runs and tests only; empty against AWS): exact RDS endpoint → "host:port", or a wildcard
 * suffix "*.rds.amazonaws.com" → "host:port". Read from RUNBOOKS_DB_ENDPOINT_OVERRIDES (JSON) by the worker.
 */
export type EndpointOverrides = Record<string, string>;

export function resolveEndpoint(
  endpoint: string,
  port: number,
  overrides: EndpointOverrides,
): { host: string; port: number; overridden: boolean } {
  const hit =
    overrides[endpoint] ??
    Object.entries(overrides).find(([k]) => k.startsWith('*.') && endpoint.endsWith(k.slice(1)))?.[1];
  if (!hit) return { host: endpoint, port, overridden: false };
  const [host, p] = hit.split(':');
  return { host: host!, port: p ? Number(p) : port, overridden: true };
}

export function describeExpect(e: DataCheck['expect']): string {
  const parts: string[] = [];
  if (e.equals !== undefined) parts.push(`= ${e.equals}`);
  if (e.min !== undefined) parts.push(`≥ ${e.min}`);
  if (e.max !== undefined) parts.push(`≤ ${e.max}`);
  return parts.join(' and ');
}

export function meets(value: number, e: DataCheck['expect']): boolean {
  return (
    (e.equals === undefined || value === e.equals) &&
    (e.min === undefined || value >= e.min) &&
    (e.max === undefined || value <= e.max)
  );
}

export function createDataCheckActivities(aws: AwsClients, overrides: EndpointOverrides = {}) {
  return {
    async runDataChecks(input: {
      region: string;
      endpoint: string;
      port: number;
      secretId: string;
      database?: string;
      checks: DataCheck[];
      timeoutMs?: number;
    }): Promise<DataCheckReport> {
      const secret = await aws
        .secrets(input.region)
        .send(new GetSecretValueCommand({ SecretId: input.secretId }), { abortSignal: abortSignal() });
      let creds: { username?: string; password?: string; dbname?: string };
      try {
        creds = JSON.parse(secret.SecretString ?? '{}') as typeof creds;
      } catch {
        throw new PreconditionFailed(`secret ${input.secretId} is not JSON with username/password`);
      }
      if (!creds.username || !creds.password) {
        throw new PreconditionFailed(`secret ${input.secretId} has no username/password fields`);
      }
      const where = resolveEndpoint(input.endpoint, input.port, overrides);
      const target = `${where.host}:${where.port}${where.overridden ? ` (override for ${input.endpoint})` : ''}`;
      const timeoutMs = input.timeoutMs ?? 30_000;
      // Against RDS: TLS, verified with the CA bundle in RUNBOOKS_DB_CA_FILE when given (Amazon's RDS CAs are not
      // in Node's default store); a local override is plain TCP.
      return checkDatabase(
        {
          host: where.host,
          port: where.port,
          user: creds.username,
          password: creds.password,
          database: input.database ?? creds.dbname ?? 'postgres',
          ssl: where.overridden ? false : tlsOptions(),
        },
        target,
        input.checks,
        timeoutMs,
      );
    },
  };
}

/**
 * Connects to one database and runs the checks, read-only, each with the statement timeout: the part of the data
 * checks that does not depend on where the credentials come from (backupVerification's pg_dump path runs it against
 * the worker's scratch PostgreSQL).
 */
export async function checkDatabase(
  conn: ClientConfig,
  target: string,
  checks: DataCheck[],
  timeoutMs: number,
  /** Cancellation: closes the connection, which ends the check running on it. */
  signal?: AbortSignal,
): Promise<DataCheckReport> {
  // A long query does not look like a dead worker: the worker heartbeats while the checks run (asActivities).
  const client = new Client({
    ...conn,
    connectionTimeoutMillis: Math.min(timeoutMs, 15_000),
    statement_timeout: timeoutMs,
  });
  // A connection that breaks (closed on cancellation, killed by a DROP … FORCE) rejects the query in progress; the
  // client's own 'error' event must not also crash the worker.
  client.on('error', () => undefined);
  const close = () => void client.end().catch(() => undefined);
  signal?.addEventListener('abort', close);
  try {
    await client.connect();
    // Read-only for the whole session, not just one transaction: a check cannot write even after a COMMIT.
    await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    await client.query('SELECT 1');
  } catch (err) {
    await client.end().catch(() => undefined);
    return { target, connected: false, connectError: (err as Error).message, results: [], passed: false };
  }
  const results: DataCheckResult[] = [];
  try {
    await client.query('BEGIN READ ONLY');
    for (const check of checks) {
      const expect = describeExpect(check.expect);
      try {
        // The extended protocol (values given) accepts exactly one statement: no "…; other statement" smuggling.
        const out = await client.query({ text: check.sql, values: [], rowMode: 'array' });
        const raw = (out.rows[0] as unknown[] | undefined)?.[0];
        const value = raw === null || raw === undefined ? null : Number(raw);
        if (value === null || Number.isNaN(value)) {
          results.push({ name: check.name, value: null, expect, pass: false, error: 'the query returned no number' });
        } else {
          results.push({ name: check.name, value, expect, pass: meets(value, check.expect) });
        }
      } catch (err) {
        results.push({ name: check.name, value: null, expect, pass: false, error: (err as Error).message });
        // A failed statement aborts the transaction: start a new one for the next check.
        await client.query('ROLLBACK').catch(() => undefined);
        await client.query('BEGIN READ ONLY');
      }
    }
    await client.query('ROLLBACK');
  } finally {
    signal?.removeEventListener('abort', close);
    await client.end().catch(() => undefined);
  }
  return { target, connected: true, results, passed: results.every((r) => r.pass) };
}

function tlsOptions(): { rejectUnauthorized: boolean; ca?: string } {
  const caFile = process.env.RUNBOOKS_DB_CA_FILE;
  return caFile ? { rejectUnauthorized: true, ca: readFileSync(caFile, 'utf8') } : { rejectUnauthorized: false };
}
