// auroraFailover — seed 004 "P0 INCIDENT: DATABASE UNAVAILABLE" for an Aurora cluster (check the cluster, relieve
// connections, fail over to a reader) with seed 000's RTO: read the cluster (status, writer, readers with their
// promotion tiers and replica lag, pending maintenance), choose the reader, optionally list the idle sessions older
// than N, approve, terminate those sessions, FailoverDBCluster, wait until the chosen reader is the writer and the
// cluster is available, verify the endpoint (health check, SQL probe on the writer), report the RTO.
//
// A failover is not undone: once the call is made, AWS demotes the old writer and promotes the target, and an
// automatic failback would be a second outage on an uncertain cluster. When the wait or the verification fails, the
// run fails without compensation and its report says what the cluster shows and what to do next.
import { formatDuration, parseDuration } from '../api/duration';
import { auroraFailoverEntry } from '../api/runbooks/aurora';
import {
  auroraClusterKey,
  chooseTarget,
  clusterCautions,
  clusterRefusal,
  describeCluster,
  describeMember,
  describeSessions,
  formatLag,
  type AuroraClusterView,
  type AuroraFailoverInput,
  type AuroraFailoverResult,
  type TerminatedSessions,
} from '../api/runbooks/aurora';
import type { RunbookReport } from '../api/status';
import type { HealthResult } from '../api/common';
import type { DataCheckSummary } from '../api/status';
import { describeChecks, failedChecks } from './lib/datachecks';
import { errorMessage, fail } from './lib/errors';
import { describeHealth, healthStep, verifyHealth } from './lib/health';
import { lockable } from './lib/lock';
import { aws, probes, waits } from './lib/proxies';
import { describeRto } from './lib/rto';
import { DRY_RUN, runRunbook } from './lib/runbook';

export async function auroraFailover(input: AuroraFailoverInput): Promise<RunbookReport<AuroraFailoverResult>> {
  return runRunbook(auroraFailoverEntry, input, {
    target: (p) => auroraClusterKey(p),
    async execute(ctx) {
      const p = ctx.params;
      const ref = { region: p.region, cluster: p.cluster };
      const idle = p.terminateIdleConnections;
      const olderThanSeconds = idle ? Math.floor(parseDuration(idle.olderThan) / 1000) : 0;

      // 1. Preflight (read only): the cluster, its members, replica lag, pending maintenance; refuse what AWS would
      //    refuse or an SRE would not do (no reader, a target that is not an available reader, too much lag).
      const before = await ctx.step(
        'Preflight: the cluster, its readers and their replica lag',
        () => aws.describeAuroraCluster(ref),
        {
          details: (c) => ({
            status: c.status,
            engine: c.engine,
            writer: c.writer,
            members: c.members.map(describeMember),
            pendingMaintenance: c.pendingMaintenance.length,
            summary: describeCluster(c),
          }),
        },
      );
      const refused = clusterRefusal(before);
      if (refused) throw fail('PreconditionFailed', refused);
      const choice = chooseTarget(before, p);
      if ('refusal' in choice) {
        throw fail(choice.lag ? 'ReplicaLagRefused' : 'PreconditionFailed', choice.refusal);
      }
      const target = choice.member;
      const writerBefore = before.writer ?? ''; // clusterRefusal: there is one
      ctx.tracker.mark('Choose the reader to promote', 'succeeded', {
        target: describeMember(target),
        why: choice.why,
      });
      for (const caution of clusterCautions(before)) ctx.warn(caution);
      const endpoint = { address: before.endpoint ?? '', port: before.port ?? 5432 };
      if (!before.endpoint && (idle || p.sqlProbe)) {
        throw fail('PreconditionFailed', `${before.id} shows no cluster endpoint: no SQL session can be opened`);
      }

      // 2. Seed 004 "if too many connections - kill idle ones": which sessions (read only; terminated after approval).
      const idleSessions = idle
        ? await ctx.step(
            `List idle connections older than ${idle.olderThan}`,
            () =>
              aws.listIdleSessions({
                region: p.region,
                endpoint: endpoint.address,
                port: endpoint.port,
                secretId: idle.secretId,
                ...(idle.database ? { database: idle.database } : {}),
                olderThanSeconds,
                ...(idle.users ? { users: idle.users } : {}),
                ...(idle.applications ? { applications: idle.applications } : {}),
              }),
            { details: (r) => ({ count: r.sessions.length, sessions: describeSessions(r.sessions, 50) }) },
          )
        : undefined;
      if (idle && idleSessions && idleSessions.sessions.length > idle.max) {
        throw fail(
          'PreconditionFailed',
          `input.terminateIdleConnections.max: ${idleSessions.sessions.length} sessions idle for longer than ` +
            `${idle.olderThan} match, more than max ${idle.max}: narrow it with users/applications or raise max`,
        );
      }
      const toTerminate = idleSessions?.sessions ?? [];

      if (
        ctx.planned([
          ...(toTerminate.length
            ? [
                {
                  step: 'Terminate idle connections',
                  action: 'sql:pg_terminate_backend',
                  params: {
                    count: toTerminate.length,
                    pids: toTerminate.map((s) => s.pid),
                    olderThan: idle?.olderThan,
                  },
                },
              ]
            : []),
          {
            step: `Fail over to ${target.id}`,
            action: 'rds:FailoverDBCluster',
            params: { ...ref, targetDBInstanceIdentifier: target.id, from: writerBefore },
          },
        ]) === 'dry-run'
      )
        return DRY_RUN;

      // 3. Take the cluster and both instances whose roles change; then approval with the choice and its lag.
      await ctx.lockResources([
        lockable.dbCluster({ region: p.region, dbCluster: before.id }),
        lockable.dbInstance({ region: p.region, dbInstance: writerBefore }),
        lockable.dbInstance({ region: p.region, dbInstance: target.id }),
      ]);
      await ctx.approval(
        `fail Aurora cluster ${before.id} (${p.region}) over from writer ${writerBefore} to reader ${target.id}: ` +
          `tier ${target.tier}${target.az ? `, ${target.az}` : ''}, replica lag ` +
          `${target.lagMs !== undefined ? formatLag(target.lagMs) : 'unknown'} — chosen: ${choice.why}` +
          (idle
            ? ` — first terminate ${toTerminate.length} connection(s) idle for longer than ${idle.olderThan}` +
              (toTerminate.length ? `: ${describeSessions(toTerminate)}` : '')
            : '') +
          ` — the writer is unavailable for about 30-60 s; a failover is not undone automatically` +
          (p.reason ? ` — reason: ${p.reason}` : ''),
      );

      // 4. Relieve connections (seed 004). A terminated session cannot be brought back: nothing to compensate.
      let terminated: TerminatedSessions | undefined;
      if (idle && toTerminate.length) {
        terminated = await ctx.change(
          'Terminate idle connections',
          () =>
            aws.terminateIdleSessions({
              region: p.region,
              endpoint: endpoint.address,
              port: endpoint.port,
              secretId: idle.secretId,
              ...(idle.database ? { database: idle.database } : {}),
              olderThanSeconds,
              sessions: toTerminate.map((s) => ({ pid: s.pid, backendStart: s.backendStart })),
            }),
          {
            details: (t) => ({
              terminated: t.terminated.length,
              sessions: describeSessions(t.terminated, 50),
              skipped: t.skipped.map((s) => `pid ${s.pid}: ${s.why}`),
            }),
          },
        );
        ctx.noteOnFailure(
          `${terminated.terminated.length} idle connection(s) were terminated before the failover (their clients ` +
            `reconnect on their own; a terminated session cannot be restored).`,
        );
      } else if (idle) {
        ctx.tracker.skipped('Terminate idle connections', `no session idle for longer than ${idle.olderThan}`);
        terminated = { target: idleSessions?.target ?? '', terminated: [], skipped: [] };
      }

      // 5. The failover. From here nothing is undone: the report says what the cluster shows instead.
      const failoverAt = Date.now();
      const sent = await ctx.change(
        `Fail over to ${target.id}`,
        () => aws.failoverAuroraCluster({ ...ref, target: target.id }),
        {
          params: { targetDBInstanceIdentifier: target.id, from: writerBefore },
          details: (r) => ({ sent: r.sent, status: r.status, ...(r.note ? { note: r.note } : {}) }),
        },
      );
      if (!sent.sent && sent.note) ctx.warn(sent.note);

      try {
        // 6. Wait until the target is the writer, the cluster available, every member available.
        const waited = await ctx.step(
          `Wait until ${target.id} is the writer and the cluster available`,
          () => waits.waitForAuroraFailover({ ...ref, target: target.id, timeoutMs: parseDuration(p.failoverTimeout) }),
          {
            details: (w) => ({ writer: w.view.writer, status: w.view.status, waitedMs: w.waitedMs, phases: w.phases }),
          },
        );

        // 7. Verify the endpoint answers: the app's health, and SQL through the cluster endpoint on the new writer.
        let health: HealthResult | undefined;
        const check = p.health;
        if (check) {
          health = await ctx.step('Verify health', () => verifyHealth(check), healthStep);
          if (!health.healthy)
            throw fail('HealthCheckFailed', `health check failed after the failover: ${describeHealth(health)}`);
        } else {
          ctx.tracker.skipped('Verify health', 'no health check in the input');
        }
        let probe: DataCheckSummary | undefined;
        if (p.sqlProbe) {
          const sql = p.sqlProbe;
          probe = await ctx.step(
            'SQL probe through the cluster endpoint',
            () =>
              waits.waitForClusterEndpoint({
                region: p.region,
                endpoint: endpoint.address,
                port: endpoint.port,
                secretId: sql.secretId,
                ...(sql.database ? { database: sql.database } : {}),
                checks: sql.checks,
                timeoutMs: parseDuration(sql.timeout),
              }),
            {
              details: (c) => ({ target: c.target, passed: c.passed, summary: describeChecks(c) }),
              outcome: (c) => (c.passed ? 'succeeded' : 'failed'),
              failure: (c) => failedChecks(c),
            },
          );
          if (!probe.passed) {
            throw fail(
              'DataCheckFailed',
              `SQL probe through ${endpoint.address} failed after the failover: ${failedChecks(probe)}`,
            );
          }
        } else {
          ctx.tracker.skipped('SQL probe through the cluster endpoint', 'no sqlProbe in the input');
        }

        // 8. Report: RTO from the failover call to the new writer verified, before/after writer.
        // (A missed target is a warning, from the frame: ctx.incident with rtoTargetSeconds.)
        const measuredMs = Date.now() - failoverAt;
        const targetMs = p.rtoTarget !== undefined ? parseDuration(p.rtoTarget) : undefined;
        const rto = describeRto(measuredMs, targetMs);
        const after = waited.view;
        ctx.incident({
          title: `Aurora failover of ${before.id}`,
          resolvedAs: `${target.id} serving as the writer of ${before.id}`,
          rtoSeconds: Math.round(measuredMs / 1000),
          ...(targetMs !== undefined ? { rtoTargetSeconds: Math.round(targetMs / 1000) } : {}),
          impact: [
            ['RTO (failover call → new writer verified)', formatDuration(measuredMs)],
            ['Writer before', describeWriter(before)],
            ['Writer after', describeWriter(after)],
            ['Cluster phases', waited.phases],
            ...(terminated
              ? ([
                  [
                    'Idle connections terminated',
                    `${terminated.terminated.length}: ${describeSessions(terminated.terminated)}`,
                  ],
                ] as [string, string][])
              : []),
          ],
          resolution:
            `${before.id} (${p.region}) failed over from ${writerBefore} to ${target.id} (${choice.why}); the ` +
            `cluster is ${after.status} with ${after.writer} as writer` +
            (health ? `; ${describeHealth(health)}` : '') +
            (probe ? `; SQL probe: ${describeChecks(probe)}` : '') +
            `. RTO ${rto.text}.`,
        });
        return {
          cluster: before.id,
          region: p.region,
          writerBefore,
          writerAfter: after.writer ?? target.id,
          target: {
            id: target.id,
            tier: target.tier,
            ...(target.az ? { az: target.az } : {}),
            ...(target.lagMs !== undefined ? { lagMs: target.lagMs } : {}),
            why: choice.why,
          },
          rto,
          phases: waited.phases,
          members: after.members,
          pendingMaintenance: before.pendingMaintenance,
          ...(terminated ? { idleConnections: terminated } : {}),
          ...(health ? { health } : {}),
          ...(probe ? { sqlProbe: probe } : {}),
        };
      } catch (err) {
        // No automatic failback (see the header): say what the cluster shows now and what the operator does next.
        ctx.noteOnFailure(await stateAfterFailure(ref, before.id, writerBefore, target.id, failoverAt));
        throw err;
      }
    },
  });
}

/** The writer in words, or "none". */
function describeWriter(c: AuroraClusterView): string {
  const w = c.members.find((m) => m.writer);
  return w ? describeMember(w) : 'none';
}

/**
 * The sentence a failed run ends with once the failover call was made: the cluster's state as read now, that nothing
 * was failed back, and what to do.
 */
async function stateAfterFailure(
  ref: { region: string; cluster: string },
  cluster: string,
  writerBefore: string,
  target: string,
  failoverAt: number,
): Promise<string> {
  let now: AuroraClusterView | undefined;
  let unreadable = '';
  try {
    now = await probes.probeAuroraCluster(ref);
  } catch (err) {
    unreadable = errorMessage(err);
  }
  const since = formatDuration(Date.now() - failoverAt);
  const state = now ? `${cluster} now shows: ${describeCluster(now)}` : `${cluster} could not be read (${unreadable})`;
  const moved = now?.writer?.toLowerCase() === target.toLowerCase();
  return (
    `FailoverDBCluster to ${target} was sent ${since} ago and was NOT undone (no automatic failback). ${state}. ` +
    (moved
      ? `The failover itself completed: ${target} is the writer; look at why the verification failed (the app's ` +
        `connection settings, DNS caching of the cluster endpoint) before anything else. `
      : `Watch the cluster (aws rds describe-db-clusters --region ${ref.region} --db-cluster-identifier ${cluster}) ` +
        `and its events; once it is available, run auroraFailover again (targetReader ${target}, or ${writerBefore} ` +
        `to go back). `) +
    `Do not fail back while the cluster is failing-over.`
  );
}
