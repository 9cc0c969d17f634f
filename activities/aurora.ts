// Aurora activities for the auroraFailover runbook: read a cluster (members, their instances, AuroraReplicaLag per
// reader, pending maintenance), FailoverDBCluster, wait until the asked-for writer serves and the cluster is available,
// and SQL sessions on the cluster endpoint (list / terminate idle connections, the post-failover probe). Credentials
// come from a Secrets Manager secret and stay inside these activities: only pids, users, application names and
// verdicts enter workflow history.
import { newestRdsMaximum } from './cloudwatch';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribePendingMaintenanceActionsCommand,
  FailoverDBClusterCommand,
  type DBCluster,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import type {
  AuroraClusterView,
  AuroraMember,
  IdleSession,
  IdleSessionsReading,
  PendingMaintenance,
  TerminatedSessions,
} from '../api/runbooks/aurora';
import type { AwsClients } from './aws-clients';
import { createDataCheckActivities, resolveEndpoint, type DataCheck, type DataCheckReport } from './datachecks';
import type { EndpointOverrides } from './datachecks';
import { DbInstanceFailed, NotStable, PreconditionFailed, ResourceNotFound } from './errors';
import { abortSignal, pollUntil, resumeWait } from './poll';

/** Instance states a failover does not leave by itself: the wait stops at once and names it. */
const DEAD_INSTANCE = new Set([
  'failed',
  'deleting',
  'inaccessible-encryption-credentials',
  'incompatible-parameters',
  'storage-full',
  'stopped',
  'stopping',
]);

/** How far back a reader's AuroraReplicaLag is read (Aurora publishes it every minute). */
const LAG_LOOKBACK_MINUTES = 10;

/** The check the post-failover probe always makes: the cluster endpoint's session is on a writer. */
export const WRITER_CHECK: DataCheck = {
  name: 'session on the writer (pg_is_in_recovery() = false)',
  sql: 'SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END',
  expect: { equals: 0 },
};

interface SqlTarget {
  region: string;
  endpoint: string;
  port: number;
  secretId: string;
  database?: string;
  timeoutMs?: number;
}

export function createAuroraActivities(aws: AwsClients, overrides: EndpointOverrides = {}) {
  const dataChecks = createDataCheckActivities(aws, overrides);

  async function describeCluster(region: string, cluster: string): Promise<DBCluster> {
    try {
      const out = await aws
        .rds(region)
        .send(new DescribeDBClustersCommand({ DBClusterIdentifier: cluster }), { abortSignal: abortSignal() });
      const found = out.DBClusters?.[0];
      if (!found) throw new ResourceNotFound(`Aurora cluster ${cluster} not found in ${region}`);
      return found;
    } catch (err) {
      if ((err as Error).name === 'DBClusterNotFoundFault') {
        throw new ResourceNotFound(
          `Aurora cluster ${cluster} not found in ${region} (input.cluster): check the name and the region ` +
            `(aws rds describe-db-clusters --region ${region} --query 'DBClusters[].DBClusterIdentifier')`,
        );
      }
      throw err;
    }
  }

  async function describeInstances(region: string, cluster: string): Promise<Map<string, DBInstance>> {
    const found = new Map<string, DBInstance>();
    let marker: string | undefined;
    do {
      const out = await aws.rds(region).send(
        new DescribeDBInstancesCommand({
          Filters: [{ Name: 'db-cluster-id', Values: [cluster] }],
          ...(marker ? { Marker: marker } : {}),
        }),
        { abortSignal: abortSignal() },
      );
      for (const db of out.DBInstances ?? []) {
        if (db.DBInstanceIdentifier) found.set(db.DBInstanceIdentifier.toLowerCase(), db);
      }
      marker = out.Marker;
    } while (marker);
    return found;
  }

  async function replicaLag(region: string, dbInstance: string): Promise<{ ms?: number; at?: string }> {
    const newest = await newestRdsMaximum(aws, {
      region,
      metric: 'AuroraReplicaLag',
      dimension: { name: 'DBInstanceIdentifier', value: dbInstance },
      lookbackMinutes: LAG_LOOKBACK_MINUTES,
    });
    return newest ? { ms: newest.value, at: newest.at } : {};
  }

  async function pendingMaintenance(region: string, cluster: string, instances: string[]) {
    const out: PendingMaintenance[] = [];
    const filters = [
      { Name: 'db-cluster-id', Values: [cluster] },
      ...(instances.length ? [{ Name: 'db-instance-id', Values: instances }] : []),
    ];
    for (const filter of filters) {
      let marker: string | undefined;
      do {
        const page = await aws
          .rds(region)
          .send(
            new DescribePendingMaintenanceActionsCommand({ Filters: [filter], ...(marker ? { Marker: marker } : {}) }),
            { abortSignal: abortSignal() },
          );
        for (const r of page.PendingMaintenanceActions ?? []) {
          const resource = (r.ResourceIdentifier ?? '').split(':').pop() ?? '';
          for (const a of r.PendingMaintenanceActionDetails ?? []) {
            out.push({
              resource,
              action: a.Action ?? 'unknown',
              ...(a.Description ? { description: a.Description } : {}),
              ...(a.AutoAppliedAfterDate ? { autoAppliedAfter: a.AutoAppliedAfterDate.toISOString() } : {}),
              ...(a.ForcedApplyDate ? { forcedApplyDate: a.ForcedApplyDate.toISOString() } : {}),
              ...(a.CurrentApplyDate ? { currentApplyDate: a.CurrentApplyDate.toISOString() } : {}),
            });
          }
        }
        marker = page.Marker;
      } while (marker);
    }
    return out;
  }

  /** The cluster as the runbook reads it; `full` adds replica lag and pending maintenance (the preflight). */
  async function readCluster(region: string, cluster: string, full: boolean): Promise<AuroraClusterView> {
    const c = await describeCluster(region, cluster);
    const instances = await describeInstances(region, cluster);
    const members: AuroraMember[] = [];
    for (const m of c.DBClusterMembers ?? []) {
      const id = m.DBInstanceIdentifier ?? '';
      const db = instances.get(id.toLowerCase());
      const writer = m.IsClusterWriter === true;
      const lag = full && !writer ? await replicaLag(region, id) : {};
      members.push({
        id,
        writer,
        status: db?.DBInstanceStatus ?? 'unknown',
        ...(db?.AvailabilityZone ? { az: db.AvailabilityZone } : {}),
        tier: m.PromotionTier ?? db?.PromotionTier ?? 1,
        ...(db?.DBInstanceClass ? { instanceClass: db.DBInstanceClass } : {}),
        ...(lag.ms !== undefined ? { lagMs: lag.ms, lagAt: lag.at } : {}),
      });
    }
    members.sort((a, b) => Number(b.writer) - Number(a.writer) || a.id.localeCompare(b.id));
    const pending = Object.entries(c.PendingModifiedValues ?? {})
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    const id = c.DBClusterIdentifier ?? cluster;
    return {
      id,
      region,
      status: c.Status ?? 'unknown',
      engine: c.Engine ?? 'unknown',
      ...(c.EngineVersion ? { engineVersion: c.EngineVersion } : {}),
      ...(c.Endpoint ? { endpoint: c.Endpoint } : {}),
      ...(c.ReaderEndpoint ? { readerEndpoint: c.ReaderEndpoint } : {}),
      ...(c.Port ? { port: c.Port } : {}),
      ...(members.find((m) => m.writer) ? { writer: members.find((m) => m.writer)!.id } : {}),
      members,
      pendingModified: pending,
      pendingMaintenance: full
        ? await pendingMaintenance(
            region,
            id,
            members.map((m) => m.id),
          )
        : [],
    };
  }

  /** A SQL session on the cluster with the secret's credentials (which never leave this function). */
  async function connect(t: SqlTarget): Promise<{ client: Client; target: string }> {
    const secret = await aws
      .secrets(t.region)
      .send(new GetSecretValueCommand({ SecretId: t.secretId }), { abortSignal: abortSignal() });
    let creds: { username?: string; password?: string; dbname?: string };
    try {
      creds = JSON.parse(secret.SecretString ?? '{}') as typeof creds;
    } catch {
      throw new PreconditionFailed(`secret ${t.secretId} is not JSON with username/password`);
    }
    if (!creds.username || !creds.password) {
      throw new PreconditionFailed(`secret ${t.secretId} has no username/password fields`);
    }
    const where = resolveEndpoint(t.endpoint, t.port, overrides);
    const target = `${where.host}:${where.port}${where.overridden ? ` (override for ${t.endpoint})` : ''}`;
    const timeoutMs = t.timeoutMs ?? 30_000;
    const client = new Client({
      host: where.host,
      port: where.port,
      user: creds.username,
      password: creds.password,
      database: t.database ?? creds.dbname ?? 'postgres',
      connectionTimeoutMillis: Math.min(timeoutMs, 15_000),
      statement_timeout: timeoutMs,
      application_name: 'durable-runbooks',
      ssl: where.overridden ? false : tlsOptions(),
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new PreconditionFailed(`could not connect to ${target} as ${creds.username}: ${(err as Error).message}`);
    }
    return { client, target };
  }

  /** Client sessions idle longer than `olderThanSeconds`, other than this one, narrowed by users/applications. */
  const IDLE_SQL = `
    SELECT pid, usename, coalesce(application_name, '') AS app, host(client_addr) AS client,
           floor(extract(epoch FROM now() - state_change))::bigint AS idle_seconds,
           to_char(backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS backend_start
      FROM pg_stat_activity
     WHERE state = 'idle'
       AND backend_type = 'client backend'
       AND pid <> pg_backend_pid()
       AND usename IS DISTINCT FROM 'rdsadmin'
       AND state_change < now() - make_interval(secs => $1)
       AND ($2::text[] IS NULL OR usename = ANY($2))
       AND ($3::text[] IS NULL OR application_name = ANY($3))
     ORDER BY state_change, pid`;

  const toSession = (r: Record<string, unknown>): IdleSession => ({
    pid: Number(r.pid),
    user: String(r.usename ?? ''),
    application: String(r.app ?? ''),
    ...(r.client ? { client: String(r.client) } : {}),
    idleSeconds: Number(r.idle_seconds),
    backendStart: String(r.backend_start),
  });

  return {
    /** Preflight: the cluster, its members' instances, each reader's AuroraReplicaLag, pending maintenance. */
    async describeAuroraCluster(input: { region: string; cluster: string }): Promise<AuroraClusterView> {
      return readCluster(input.region, input.cluster, true);
    },

    /**
     * The cluster's status, writer and members only (no lag, no maintenance): what a failed run reports, read through
     * the short-timeout `probes` proxy so that a region that stopped answering is told in seconds.
     */
    async probeAuroraCluster(input: { region: string; cluster: string }): Promise<AuroraClusterView> {
      return readCluster(input.region, input.cluster, false);
    },

    /**
     * FailoverDBCluster to `target`. Idempotent: when the target already is the writer, or the cluster is already
     * failing over (a retry after the answer to the first call was lost), nothing is sent again.
     */
    async failoverAuroraCluster(input: {
      region: string;
      cluster: string;
      target: string;
    }): Promise<{ sent: boolean; status: string; note?: string }> {
      const now = await readCluster(input.region, input.cluster, false);
      if (now.writer?.toLowerCase() === input.target.toLowerCase()) {
        return { sent: false, status: now.status, note: `${input.target} is already the writer; nothing sent` };
      }
      if (now.status === 'failing-over') {
        return { sent: false, status: now.status, note: `${now.id} is already failing over; nothing sent again` };
      }
      try {
        const out = await aws.rds(input.region).send(
          new FailoverDBClusterCommand({
            DBClusterIdentifier: input.cluster,
            TargetDBInstanceIdentifier: input.target,
          }),
          { abortSignal: abortSignal() },
        );
        return { sent: true, status: out.DBCluster?.Status ?? 'unknown' };
      } catch (err) {
        const name = (err as Error).name;
        if (/^InvalidDB(Cluster|Instance)State/.test(name) || name === 'InvalidParameterValue') {
          throw new PreconditionFailed(`AWS refused the failover of ${input.cluster}: ${(err as Error).message}`);
        }
        if (name === 'DBClusterNotFoundFault') {
          throw new ResourceNotFound(`Aurora cluster ${input.cluster} not found in ${input.region}`);
        }
        throw err;
      }
    },

    /**
     * Wait until `target` is the cluster's writer, the cluster is `available` and every member is available.
     * Phases: the cluster's status and writer as they changed ("failing-over, writer a @0s → available, writer b @40s").
     */
    async waitForAuroraFailover(input: {
      region: string;
      cluster: string;
      target: string;
      timeoutMs: number;
    }): Promise<{ view: AuroraClusterView; waitedMs: number; phases: string }> {
      const { deadline, startedAt } = resumeWait(input.timeoutMs);
      const wanted = input.target.toLowerCase();
      const result = await pollUntil(
        async () => {
          const view = await readCluster(input.region, input.cluster, false);
          const target = view.members.find((m) => m.id.toLowerCase() === wanted);
          if (!target) {
            throw new DbInstanceFailed(
              `${input.target} is no longer a member of ${view.id} (members: ${view.members.map((m) => m.id).join(', ')})`,
            );
          }
          if (DEAD_INSTANCE.has(target.status)) {
            throw new DbInstanceFailed(`${input.target} is ${target.status}: it will not become the writer by itself`);
          }
          const busy = view.members.filter((m) => m.status !== 'available');
          const done = view.writer?.toLowerCase() === wanted && view.status === 'available' && busy.length === 0;
          return {
            done,
            value: view,
            phase:
              `${view.status}, writer ${view.writer ?? 'none'}` +
              (busy.length ? ` (${busy.map((m) => `${m.id} ${m.status}`).join(', ')})` : ''),
            progress: { status: view.status, writer: view.writer },
          };
        },
        { deadline, startedAt, region: input.region, initialDelayMs: 1_000, maxDelayMs: 10_000 },
      );
      if (!result.done) {
        const v = result.value;
        throw new NotStable(
          `${v.id} did not finish failing over to ${input.target} in ${Math.round(input.timeoutMs / 1000)}s: it is ` +
            `${v.status}, writer ${v.writer ?? 'none'}, members ${v.members.map((m) => `${m.id} ${m.status}`).join(', ')} ` +
            `(went through: ${result.phases})`,
        );
      }
      return { view: result.value, waitedMs: Date.now() - startedAt, phases: result.phases };
    },

    /** Seed 004: the client sessions idle longer than `olderThanSeconds` (read only). */
    async listIdleSessions(
      input: SqlTarget & { olderThanSeconds: number; users?: string[]; applications?: string[] },
    ): Promise<IdleSessionsReading> {
      const { client, target } = await connect(input);
      try {
        const out = await client.query(IDLE_SQL, [
          input.olderThanSeconds,
          input.users ?? null,
          input.applications ?? null,
        ]);
        return { target, sessions: (out.rows as Record<string, unknown>[]).map(toSession) };
      } finally {
        await client.end().catch(() => undefined);
      }
    },

    /**
     * pg_terminate_backend for each listed session that is still the same session (pid and backend_start) and still
     * idle longer than the limit: a session that became busy since the approval, or whose pid now belongs to a new
     * session, is skipped and said so. Idempotent: a session already gone is skipped.
     */
    async terminateIdleSessions(
      input: SqlTarget & { olderThanSeconds: number; sessions: { pid: number; backendStart: string }[] },
    ): Promise<TerminatedSessions> {
      const { client, target } = await connect(input);
      const terminated: IdleSession[] = [];
      const skipped: { pid: number; why: string }[] = [];
      try {
        for (const s of input.sessions) {
          const now = await client.query(`${IDLE_SQL.replace('ORDER BY state_change, pid', '')} AND pid = $4`, [
            input.olderThanSeconds,
            null,
            null,
            s.pid,
          ]);
          const row = (now.rows as Record<string, unknown>[])[0];
          if (!row) {
            skipped.push({ pid: s.pid, why: 'gone or no longer idle that long' });
            continue;
          }
          const session = toSession(row);
          if (session.backendStart !== s.backendStart) {
            skipped.push({ pid: s.pid, why: 'the pid belongs to a newer session now' });
            continue;
          }
          try {
            const out = await client.query('SELECT pg_terminate_backend($1) AS ok', [s.pid]);
            if ((out.rows[0] as { ok?: boolean } | undefined)?.ok) terminated.push(session);
            else skipped.push({ pid: s.pid, why: 'pg_terminate_backend returned false (already gone)' });
          } catch (err) {
            skipped.push({ pid: s.pid, why: `refused: ${(err as Error).message}` });
          }
        }
      } finally {
        await client.end().catch(() => undefined);
      }
      return { target, terminated, skipped };
    },

    /**
     * After the failover: the checks through the cluster endpoint, repeated until they pass or `timeoutMs` (the
     * endpoint's DNS follows the new writer within seconds to a minute; until then a session may land on the old
     * writer, now a reader). WRITER_CHECK always runs first.
     */
    async waitForClusterEndpoint(
      input: SqlTarget & { checks: DataCheck[]; timeoutMs: number },
    ): Promise<DataCheckReport> {
      const { deadline, startedAt } = resumeWait(input.timeoutMs);
      const checks = [WRITER_CHECK, ...input.checks];
      const result = await pollUntil(
        async () => {
          const report = await dataChecks.runDataChecks({
            region: input.region,
            endpoint: input.endpoint,
            port: input.port,
            secretId: input.secretId,
            ...(input.database ? { database: input.database } : {}),
            checks,
            timeoutMs: Math.min(input.timeoutMs, 30_000),
          });
          return {
            done: report.passed,
            value: report,
            phase: report.connected ? (report.passed ? 'passed' : 'checks failing') : 'not connecting',
          };
        },
        { deadline, startedAt, region: input.region, initialDelayMs: 1_000, maxDelayMs: 5_000 },
      );
      return result.value;
    },
  };
}

function tlsOptions(): { rejectUnauthorized: boolean; ca?: string } {
  const caFile = process.env.RUNBOOKS_DB_CA_FILE;
  return caFile ? { rejectUnauthorized: true, ca: readFileSync(caFile, 'utf8') } : { rejectUnauthorized: false };
}
