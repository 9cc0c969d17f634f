// regionalFailover's Aurora Global Database side (input `database: {kind: "aurora-global"}`): the same runbook as the
// instance path (workflows/regionalFailover.ts) with a global cluster in place of a replica. Preflight reads (global
// cluster, target cluster, primary cluster, RPO lag), safety checks (membership, no move under way, RPO gate for a
// failover, a healthy primary for a switchover, a healthy primary refused for a failover unless planned), then
// SwitchoverGlobalCluster / FailoverGlobalCluster (the point of no return) and the wait until the target is the
// available writer, whose writer endpoint the app is repointed at.
import { parseDuration } from '../../api/duration';
import {
  globalRefusal,
  lagSeconds,
  memberNamed,
  parseClusterRef,
  primaryClusterHealth,
  writerOf,
  type AuroraGlobalDatabase,
  type MemberClusterView,
} from '../../api/runbooks/regional-failover-global';
import { enforceRpo, refuseStaleReplica } from './db-steps';
import { errorMessage, fail, isClientError } from './errors';
import { rpoOf, type FailoverContext, type FailoverDb, type FailoverDbRead } from './failover-db';
import { lockable } from './lock';
import { must } from './must';
import { aws, probes, waits } from './proxies';

type PrimaryReading = MemberClusterView | { status: 'not-found' | 'unreachable'; error?: string };

export function globalFailoverDb(ctx: FailoverContext, db: AuroraGlobalDatabase): FailoverDb {
  const p = ctx.params;
  const region = p.secondary.region; // global-cluster calls: the primary's region may be down
  const targetRef = { region, cluster: db.targetCluster };
  const targetId = parseClusterRef(db.targetCluster).id;
  const switchover = db.mode === 'switchover';
  const rpo = rpoOf(p, 'the global RPO lag');
  const noLagPoint = (minutes: number) =>
    `for ${targetId} (AuroraGlobalDBRPOLag or AuroraGlobalDBReplicationLag) in the last ${minutes} minutes`;
  return {
    names: {
      preflight: 'Preflight: global database, target cluster, RPO lag, primary cluster, secondary service, DNS',
      safety: 'Safety checks: global database, RPO, primary health',
      endpoint: 'the new writer endpoint',
      move: `the ${db.mode}`,
      checklist: `${db.mode} the global database`,
      repoint: {
        taskDefinition: 'Repoint the app: register a task definition with the new writer endpoint',
        secret: 'Repoint the app: write the new writer endpoint into the DB secret',
      },
      watch: `the ${db.mode}`,
    },
    async read(primaryService) {
      const global = await aws.describeGlobalCluster({ region, globalCluster: db.globalCluster });
      const target = await aws.describeGlobalMemberCluster(targetRef);
      const writerNow = writerOf(global);
      // The primary cluster's region may be down: that is reported, not fatal.
      let primary: PrimaryReading | undefined;
      if (writerNow && !memberNamed(global, db.targetCluster)?.isWriter) {
        try {
          primary =
            (await probes.findGlobalMemberCluster({ region: writerNow.region, cluster: writerNow.arn })) ??
            ({ status: 'not-found' } as const);
        } catch (err) {
          if (isClientError(err)) throw err;
          primary = { status: 'unreachable', error: errorMessage(err) };
        }
      }
      const primaryEcs = await primaryService();
      const lag = await aws.getGlobalDbLag(targetRef);
      const health = primaryClusterHealth(primary);
      const preLag = lagSeconds(lag);
      const writer = () => must(writerNow, 'the global writer');
      const read: FailoverDbRead = {
        details: () => ({
          globalStatus: global.status,
          writer: writerNow ? `${writerNow.id} (${writerNow.region})` : '(none)',
          ...(global.failoverState ? { failoverState: global.failoverState.status } : {}),
          target: `${target.id} (${target.region}) ${target.status}`,
          primaryStatus: health.status,
          globalLagMs: lag.ms ?? '(no datapoint)',
          ...(lag.metric ? { lagMetric: lag.metric, lagAt: lag.at } : {}),
        }),
        check() {
          const refusal = globalRefusal(global, db.targetCluster, target);
          if (refusal) throw fail('PreconditionFailed', refusal);
          const w = writer();
          if (w.region !== p.primary.region) {
            throw fail(
              'PreconditionFailed',
              `the global database ${global.id}'s writer ${w.id} is in ${w.region}, not in primary.region ` +
                `(${p.primary.region}): check the input`,
            );
          }
          if (switchover) {
            if (!health.healthy) {
              throw fail(
                'PreconditionFailed',
                `refusing to switch over: the primary cluster ${w.id} (${w.region}) is not healthy: ${health.why}. ` +
                  `A switchover needs a healthy primary; if its region is down, start again with "mode": "failover"`,
              );
            }
            return { mode: db.mode, primary: health.why, lagSeconds: preLag };
          }
          enforceRpo(ctx, {
            ...rpo(preLag, noLagPoint(lag.lookbackMinutes)),
            acceptDataLoss: p.acceptDataLoss,
            refusing: 'refusing to fail over',
            then: 'To proceed anyway, add "acceptDataLoss": {"reason": "…"}',
          });
          if (health.healthy) {
            if (!p.plannedSwitchover) {
              throw fail(
                'PrimaryHealthy',
                `refusing to fail over: the primary cluster ${w.id} is healthy (${health.why}). For a planned move use ` +
                  `"mode": "switchover" (no data loss); to drill the failover anyway, add "plannedSwitchover": {"reason": "…"}`,
              );
            }
            ctx.warn(`failover of a healthy primary cluster (${p.plannedSwitchover.reason})`);
          }
          return { mode: db.mode, primary: health.why, lagSeconds: preLag };
        },
        lagSeconds: preLag,
        endpoint: () => must(target.endpoint, "the target cluster's writer endpoint"),
        plan: () => ({
          preflight: { writer: writer().id, primaryStatus: health.status, globalLagMs: lag.ms ?? null },
          move: {
            step: `4. ${switchover ? 'Switch over' : 'Fail over'} the global database (point of no return)`,
            action: switchover ? 'rds:SwitchoverGlobalCluster' : 'rds:FailoverGlobalCluster',
            params: {
              globalCluster: global.id,
              from: `${writer().id} (${writer().region})`,
              to: `${target.id} (${region})`,
              ...(switchover ? {} : { allowDataLoss: true }),
            },
          },
        }),
        // Both clusters (the writer moves); the workflow ID already holds the global database itself.
        locks: () => [
          lockable.dbCluster({ region, dbCluster: target.id }),
          lockable.dbCluster({ region: writer().region, dbCluster: writer().id }),
        ],
        approval: () =>
          `${db.mode} the Aurora global database ${global.id}: writer ${writer().id} (${writer().region}, ${health.status}) → ` +
          `${target.id} (${region}); global lag ${lag.ms ?? 'unknown'} ms` +
          (switchover ? ' (a switchover loses no data)' : ` (limit ${p.maxReplicaLagSeconds}s)`),
        async move({ did, progress }) {
          const w = writer();
          // The lag read just before is a failover's data-loss estimate; a switchover loses nothing.
          const lagBefore = await ctx.step(
            `Measure the global lag before the ${db.mode}`,
            () => aws.getGlobalDbLag(targetRef),
            {
              details: (l) => ({
                globalLagMs: l.ms ?? '(no datapoint)',
                ...(l.metric ? { metric: l.metric, at: l.at } : {}),
              }),
            },
          );
          const dataLossEstimateSeconds = switchover ? 0 : (lagSeconds(lagBefore) ?? preLag);
          if (!switchover) {
            await refuseStaleReplica(ctx, {
              ...rpo(lagSeconds(lagBefore), noLagPoint(lagBefore.lookbackMinutes)),
              acceptDataLoss: p.acceptDataLoss,
              then: 'To proceed anyway, start again with "acceptDataLoss": {"reason": "…"}',
            });
          }
          await ctx.change(
            switchover
              ? 'Switch over the global database (SwitchoverGlobalCluster)'
              : 'Fail over the global database (FailoverGlobalCluster, AllowDataLoss)',
            () => aws.moveGlobalWriter({ region, globalCluster: global.id, targetArn: target.arn, mode: db.mode }),
            {
              params: {
                from: w.id,
                to: target.id,
                ...(dataLossEstimateSeconds !== undefined ? { dataLossEstimateSeconds } : {}),
              },
            },
          );
          ctx.pointOfNoReturn(
            `${db.mode} of ${global.id} to ${target.id} requested; from here nothing is undone silently`,
          );
          did(`${db.mode} to ${target.id} requested`);
          const moved = await ctx.critical(
            `Wait until ${target.id} is the global writer and available`,
            () =>
              waits.waitForGlobalWriter({
                region,
                globalCluster: global.id,
                targetArn: target.arn,
                timeoutMs: parseDuration(p.promoteTimeout),
              }),
            progress,
            {
              details: (d) => ({
                writer: d.writer,
                status: d.status,
                endpoint: d.endpoint,
                waitedMs: d.waitedMs,
                phases: d.phases,
              }),
            },
          );
          const endpoint = moved.endpoint;
          did(`${target.id} is the writer of ${global.id}, endpoint ${endpoint}`);
          const primaryEndpoint = primary && 'instances' in primary ? primary.endpoint : undefined;
          const lagMetric = lagBefore.metric ?? lag.metric;
          return {
            endpoint,
            dataLossEstimateSeconds,
            incident: {
              title: `regional ${db.mode} of the Aurora global database ${global.id}`,
              before: [['Writer', `${w.id} (${w.region}) → ${target.id} (${region})`]],
              dataLoss: switchover
                ? 'none (a switchover synchronises the secondary before the writer moves)'
                : dataLossEstimateSeconds === undefined
                  ? 'unknown (no global lag datapoint)'
                  : `up to ${dataLossEstimateSeconds}s of writes (${lagMetric ?? 'global lag'} just before the failover)`,
              resolution:
                `${switchover ? 'Switched' : 'Failed'} over ${global.id}: ${target.id} in ${region} is the writer ` +
                `(endpoint ${endpoint}); `,
            },
            primary: {
              region: p.primary.region,
              dbInstance: w.id,
              dbStatus: health.status,
              ...(primaryEndpoint ? { endpoint: primaryEndpoint } : {}),
            },
            secondary: { region, dbInstance: target.id },
            database: {
              kind: 'aurora-global',
              globalCluster: global.id,
              mode: db.mode,
              before: {
                region: w.region,
                cluster: w.id,
                arn: w.arn,
                ...(primaryEndpoint ? { endpoint: primaryEndpoint } : {}),
                status: health.status,
              },
              after: { region, cluster: target.id, arn: target.arn, endpoint },
              ...(lagMetric ? { lagMetric } : {}),
            },
          };
        },
      };
      return { db: read, primaryService: primaryEcs };
    },
  };
}
