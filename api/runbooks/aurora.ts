// auroraFailover input and result, and the pure decisions the runbook makes on what its preflight read: whether the
// cluster may be failed over at all, which reader becomes the writer (the input's, else the best by promotion tier,
// then replica lag, then name), and how a cluster and a member read in words. Seed 004 "Database unavailable" (check
// the cluster, relieve connections, fail over to a reader) and seed 000 (RTO 15 minutes).
import { z } from 'zod';
import { approvalPolicy, awsRegion, healthCheck, runbookInput, type HealthResult } from '../common';
import { durationString, formatDuration, parseDuration } from '../duration';
import type { DataCheckSummary } from '../status';
import { dataCheck } from './restore';
import { runbookEntry } from './entry';

/** An Aurora DB cluster or instance identifier (AWS stores them lower case; compared case-insensitively). */
const rdsIdentifier = (what: string) =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: `expected an ${what} identifier` });

/** Credentials for a SQL session: a Secrets Manager secret (username, password, dbname); they stay in the activity. */
const sqlSession = {
  secretId: z.string().min(1).describe('Secrets Manager secret with the DB credentials (username, password, dbname)'),
  database: z.string().min(1).optional().describe('Database to connect to (default: dbname in the secret)'),
};

export const idleConnections = z
  .object({
    ...sqlSession,
    olderThan: durationString({ min: '1s', max: '7d' })
      .default('10m')
      .describe('Terminate sessions idle for longer than this (pg_stat_activity state_change)'),
    users: z
      .array(z.string().min(1).max(63))
      .max(50)
      .optional()
      .describe('Only sessions of these database users (default: every user but the run’s own session)'),
    applications: z
      .array(z.string().min(1).max(64))
      .max(50)
      .optional()
      .describe('Only sessions with these application_name values (default: any)'),
    max: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(500)
      .describe('Refuse the run when more idle sessions than this match (a filter that is too wide)'),
  })
  .strict();
export type IdleConnectionsInput = z.output<typeof idleConnections>;

export const sqlProbe = z
  .object({
    ...sqlSession,
    checks: z
      .array(dataCheck)
      .max(20)
      .default([])
      .describe('Queries and their expected bounds, run on the new writer (a writable-session check always runs)'),
    timeout: durationString({ min: '5s', max: '30m' })
      .default('2m')
      .describe('How long the cluster endpoint may take to answer as the writer (DNS moves after a failover)'),
  })
  .strict();
export type SqlProbeInput = z.output<typeof sqlProbe>;

export const auroraFailoverInput = runbookInput(
  {
    region: awsRegion.describe('Region of the Aurora cluster'),
    cluster: rdsIdentifier('Aurora DB cluster').describe('The Aurora DB cluster identifier'),
    targetReader: rdsIdentifier('RDS DB instance')
      .optional()
      .describe('The reader to promote to writer (default: the best by promotion tier, then replica lag, then name)'),
    maxReplicaLag: durationString({ min: '1ms', max: '1h' })
      .optional()
      .describe('Refuse a target whose AuroraReplicaLag is above this (e.g. "1s"); default: no limit'),
    terminateIdleConnections: idleConnections
      .optional()
      .describe('Seed 004: before the failover, terminate sessions idle for longer than `olderThan` (approved first)'),
    health: healthCheck.optional().describe('Health check of the app on the cluster, after the failover'),
    sqlProbe: sqlProbe
      .optional()
      .describe('SQL through the cluster endpoint after the failover: it must reach the new writer'),
    rtoTarget: durationString({ min: '1s', max: '7d' })
      .optional()
      .describe('Recovery time objective (seed 000: "15m"): compared with the measured RTO in the report'),
    failoverTimeout: durationString({ min: '10s', max: '2h' })
      .default('15m')
      .describe('How long the cluster may take to show the new writer and be available again'),
  },
  approvalPolicy(true),
);
export type AuroraFailoverInput = z.input<typeof auroraFailoverInput>;
export type AuroraFailoverParams = z.output<typeof auroraFailoverInput>;

export const auroraClusterKey = (i: { region: string; cluster: string }) => `${i.region}/${i.cluster.toLowerCase()}`;
export const auroraFailoverWorkflowId = (i: { region: string; cluster: string }) =>
  `aurora-failover:${auroraClusterKey(i)}`;

// ——— What the preflight reads (activities/aurora.ts) ———

export interface AuroraMember {
  id: string;
  writer: boolean;
  /** DescribeDBInstances status (`available`, `rebooting`, …); `unknown` when the instance was not found. */
  status: string;
  az?: string;
  /** PromotionTier: 0 is promoted first, 15 last. */
  tier: number;
  instanceClass?: string;
  /** Newest AuroraReplicaLag (milliseconds) of a reader; absent without a recent datapoint (and for the writer). */
  lagMs?: number;
  lagAt?: string;
}

export interface PendingMaintenance {
  /** The cluster or instance it applies to. */
  resource: string;
  action: string;
  description?: string;
  autoAppliedAfter?: string;
  forcedApplyDate?: string;
  currentApplyDate?: string;
}

export interface AuroraClusterView {
  id: string;
  region: string;
  status: string;
  engine: string;
  engineVersion?: string;
  /** The cluster (writer) endpoint and the reader endpoint. */
  endpoint?: string;
  readerEndpoint?: string;
  port?: number;
  /** The member with IsClusterWriter, when there is one. */
  writer?: string;
  members: AuroraMember[];
  /** PendingModifiedValues, as AWS lists them (empty when none). */
  pendingModified: string[];
  pendingMaintenance: PendingMaintenance[];
}

/** One idle session from pg_stat_activity (never a password, never the query text of another user's session). */
export interface IdleSession {
  pid: number;
  user: string;
  application: string;
  client?: string;
  /** Seconds since the session's last state change (idle that long). */
  idleSeconds: number;
  /** backend_start, so the terminate step never signals a pid that was reused by a new session. */
  backendStart: string;
}

export interface IdleSessionsReading {
  target: string;
  sessions: IdleSession[];
}

export interface TerminatedSessions {
  target: string;
  terminated: IdleSession[];
  /** Listed at approval but gone, busy again or refused by the time of the terminate step. */
  skipped: { pid: number; why: string }[];
}

export interface AuroraFailoverResult {
  cluster: string;
  region: string;
  writerBefore: string;
  writerAfter: string;
  target: { id: string; tier: number; az?: string; lagMs?: number; why: string };
  /** From the FailoverDBCluster call to the new writer verified (health and SQL probe). */
  rto: { measuredMs: number; targetMs?: number; met?: boolean; verdict?: 'met' | 'missed'; text: string };
  /** The statuses the cluster went through during the wait: "failing-over @0s → available @41s". */
  phases: string;
  members: AuroraMember[];
  pendingMaintenance: PendingMaintenance[];
  idleConnections?: TerminatedSessions;
  health?: HealthResult;
  sqlProbe?: DataCheckSummary;
}

// ——— Pure decisions (unit-tested) ———

/** "demo-aurora-2 (tier 1, us-east-1b, lag 12ms, available)". */
export function describeMember(m: AuroraMember): string {
  const parts = [
    m.writer ? 'writer' : `tier ${m.tier}`,
    ...(m.writer ? [`tier ${m.tier}`] : []),
    ...(m.az ? [m.az] : []),
    ...(m.writer ? [] : [m.lagMs !== undefined ? `lag ${formatLag(m.lagMs)}` : 'lag unknown']),
    m.status,
  ];
  return `${m.id} (${parts.join(', ')})`;
}

/** Milliseconds as people read replica lag: "12ms", "1.5s", "2m3s". */
export function formatLag(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toString()}s`;
  return formatDuration(ms);
}

/** The cluster in one line: "demo-aurora available, aurora-postgresql; writer demo-aurora-1; readers …". */
export function describeCluster(c: AuroraClusterView): string {
  const readers = c.members.filter((m) => !m.writer);
  return (
    `${c.id} ${c.status}, ${c.engine}${c.engineVersion ? ` ${c.engineVersion}` : ''}; writer ` +
    `${c.writer ?? 'none'}; ${readers.length ? `readers ${readers.map(describeMember).join(', ')}` : 'no reader'}`
  );
}

/** Why the cluster cannot be failed over at all (before any target is looked at), or undefined. */
export function clusterRefusal(c: AuroraClusterView): string | undefined {
  const where = `Aurora cluster ${c.id} (${c.region})`;
  if (c.status !== 'available') {
    return (
      `${where} is ${c.status}, not available: AWS fails over only an available cluster (wait for the ` +
      `${c.status} to end, or look at the cluster's events: aws rds describe-events --region ${c.region} ` +
      `--source-type db-cluster --source-identifier ${c.id})`
    );
  }
  if (!c.engine.startsWith('aurora')) {
    return `${where} runs ${c.engine}, not Aurora: this runbook fails over Aurora clusters only`;
  }
  if (!c.writer) return `${where} shows no writer instance (no member has IsClusterWriter): nothing to fail over from`;
  if (!c.members.some((m) => !m.writer)) {
    return (
      `${where} has no reader: its only instance is the writer ${c.writer}, and a failover needs a reader to ` +
      `promote (add one with aws rds create-db-instance --db-cluster-identifier ${c.id} …, or reboot the writer)`
    );
  }
  return undefined;
}

export interface TargetChoice {
  member: AuroraMember;
  /** Why this reader: "named in the input" or "best promotion tier (1) …". */
  why: string;
}

/**
 * The reader to promote: the input's (which must be an available reader of this cluster within maxReplicaLag), else
 * the best available reader within the limit — lowest promotion tier (the order Aurora itself promotes in), then the
 * lowest replica lag (unknown lag last), then the name. Returns the choice, or the refusal naming the field.
 */
export function chooseTarget(
  c: AuroraClusterView,
  o: { targetReader?: string | undefined; maxReplicaLag?: string | undefined },
): TargetChoice | { refusal: string; lag: boolean } {
  const limitMs = o.maxReplicaLag !== undefined ? parseDuration(o.maxReplicaLag) : undefined;
  const readers = c.members.filter((m) => !m.writer);
  const tooFar = (m: AuroraMember) =>
    limitMs !== undefined && (m.lagMs === undefined || m.lagMs > limitMs)
      ? m.lagMs === undefined
        ? `no AuroraReplicaLag datapoint in the last minutes, so its lag cannot be shown within maxReplicaLag ${o.maxReplicaLag}`
        : `its replica lag ${formatLag(m.lagMs)} is above maxReplicaLag ${o.maxReplicaLag}`
      : undefined;
  if (o.targetReader !== undefined) {
    const wanted = o.targetReader.toLowerCase();
    const m = c.members.find((x) => x.id.toLowerCase() === wanted);
    const field = 'input.targetReader';
    if (!m) {
      return {
        refusal:
          `${field}: ${o.targetReader} is not a member of Aurora cluster ${c.id} (its members: ` +
          `${c.members.map((x) => x.id).join(', ')})`,
        lag: false,
      };
    }
    if (m.writer)
      return { refusal: `${field}: ${m.id} is already the writer of ${c.id}: name one of its readers`, lag: false };
    if (m.status !== 'available') {
      return {
        refusal: `${field}: ${m.id} is ${m.status}, not available: AWS promotes only an available reader`,
        lag: false,
      };
    }
    const far = tooFar(m);
    if (far) return { refusal: `input.maxReplicaLag: ${m.id} refused: ${far}`, lag: true };
    return { member: m, why: 'named in the input (targetReader)' };
  }
  const eligible = readers.filter((m) => m.status === 'available' && !tooFar(m));
  if (!eligible.length) {
    return {
      refusal:
        `no reader of ${c.id} can be promoted: ` +
        readers
          .map((m) => `${m.id}: ${m.status !== 'available' ? `${m.status}, not available` : (tooFar(m) ?? '')}`)
          .join('; ') +
        (limitMs !== undefined ? ' (input.maxReplicaLag)' : ''),
      // Refused for lag when lag is what kept an available reader out.
      lag: readers.some((m) => m.status === 'available' && tooFar(m) !== undefined),
    };
  }
  const ranked = [...eligible].sort(
    (a, b) =>
      a.tier - b.tier ||
      (a.lagMs ?? Number.POSITIVE_INFINITY) - (b.lagMs ?? Number.POSITIVE_INFINITY) ||
      a.id.localeCompare(b.id),
  );
  const best = ranked[0]!;
  const runnerUp = ranked[1];
  let why = `the best available reader: promotion tier ${best.tier}`;
  if (runnerUp && runnerUp.tier === best.tier) {
    why +=
      best.lagMs !== runnerUp.lagMs
        ? `, lowest replica lag among tier ${best.tier} (${best.lagMs !== undefined ? formatLag(best.lagMs) : 'unknown'} vs ${runnerUp.id} ${runnerUp.lagMs !== undefined ? formatLag(runnerUp.lagMs) : 'unknown'})`
        : `, same lag as ${runnerUp.id}: first by name`;
  } else if (runnerUp) {
    why += ` (next: ${runnerUp.id}, tier ${runnerUp.tier})`;
  }
  const excluded = readers.filter((m) => !eligible.includes(m));
  if (excluded.length) {
    why += `; not eligible: ${excluded.map((m) => `${m.id} (${m.status !== 'available' ? m.status : (tooFar(m) ?? '')})`).join(', ')}`;
  }
  return { member: best, why };
}

/** Things an SRE wants to know before failing over, which do not forbid it: pending maintenance and modifications. */
export function clusterCautions(c: AuroraClusterView): string[] {
  const out: string[] = [];
  if (c.pendingModified.length) {
    out.push(`${c.id} has pending modifications (${c.pendingModified.join(', ')}): they may apply during the failover`);
  }
  for (const p of c.pendingMaintenance) {
    out.push(
      `pending maintenance on ${p.resource}: ${p.action}${p.description ? ` (${p.description})` : ''}` +
        (p.forcedApplyDate ? `, forced after ${p.forcedApplyDate}` : '') +
        (p.autoAppliedAfter ? `, applied automatically after ${p.autoAppliedAfter}` : ''),
    );
  }
  return out;
}

/** Sessions as the approver and the report read them: "pid 4711 app/psql idle 12m3s (10.0.0.5)". */
export function describeSessions(sessions: IdleSession[], limit = 10): string {
  if (!sessions.length) return 'none';
  const shown = sessions
    .slice(0, limit)
    .map(
      (s) =>
        `pid ${s.pid} ${s.user}/${s.application || '(no application_name)'} idle ${formatDuration(s.idleSeconds * 1000)}` +
        (s.client ? ` (${s.client})` : ''),
    );
  return shown.join(', ') + (sessions.length > limit ? `, and ${sessions.length - limit} more` : '');
}

/** auroraFailover in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const auroraFailoverEntry = runbookEntry({
  type: 'auroraFailover',
  slug: 'aurora-failover',
  title: 'Fail an Aurora cluster over to a reader (by tier and lag), wait, verify the endpoint, report the RTO',
  schema: auroraFailoverInput,
  workflowId: auroraFailoverWorkflowId,
});
