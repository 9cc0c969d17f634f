// regionalFailback's side for an Aurora global database failover (the failover's result has `database`): the writer
// goes back to the original cluster by SwitchoverGlobalCluster (planned, no data loss) once that cluster is an
// available secondary again. Preflight reads (the global database as the failover left it, the original cluster an
// available secondary, the global lag), then the switchover (the point of no return) and the wait until the original
// cluster is the available writer, whose writer endpoint the original region's app is repointed at. The rest of the
// failback is the runbook's own (workflows/regionalFailback.ts).
import { parseDuration } from '../../api/duration';
import type { RegionalFailoverResult } from '../../api/runbooks/regional-failover';
import {
  memberNamed,
  primaryClusterHealth,
  sameCluster,
  writerOf,
  type GlobalFailoverRecord,
} from '../../api/runbooks/regional-failover-global';
import { errorMessage, fail, isClientError } from './errors';
import type { FailbackContext, FailbackDb } from './failback-db';
import { lockable } from './lock';
import { aws, probes, waits } from './proxies';

export function globalFailbackDb(
  ctx: FailbackContext,
  fo: RegionalFailoverResult,
  db: GlobalFailoverRecord,
): FailbackDb {
  const p = ctx.params;
  const original = { region: db.before.region, cluster: db.before.cluster, arn: db.before.arn };
  const current = { region: db.after.region, cluster: db.after.cluster, arn: db.after.arn };
  const ignored = (
    [
      'newReplicaId',
      'replicaInstanceClass',
      'replicaKmsKeyId',
      'replicaSubnetGroup',
      'replicaSecurityGroupIds',
    ] as const
  ).filter((k) => p[k] !== undefined);
  if (ignored.length) {
    ctx.warn(
      `${ignored.join(', ')} ignored: an Aurora global database fails back by switchover, no replica is created`,
    );
  }
  return {
    regions: { original: original.region, secondary: current.region },
    names: {
      preflight: 'Preflight: global database, original cluster, services, DNS',
      endpoint: 'the original writer endpoint',
      move: 'the switchover',
      checklist: 'switch the global database back',
      repoint: {
        taskDefinition: 'Repoint the app: register the recorded revision with the original writer endpoint',
        secret: 'Repoint the app: write the original writer endpoint into the DB secret',
      },
    },
    // The global database as the failover left it, the original cluster an available secondary.
    async read() {
      const global = await aws.describeGlobalCluster({ region: original.region, globalCluster: db.globalCluster });
      const writer = writerOf(global);
      if (!writer || !sameCluster(current.arn, writer.arn)) {
        throw fail(
          'PreconditionFailed',
          `the writer of ${global.id} is ${writer ? `${writer.id} (${writer.region})` : 'none'}, not ${current.cluster} as ` +
            `the failover left it: it was moved since (or already failed back); check it by hand`,
        );
      }
      if (global.failoverState) {
        throw fail(
          'PreconditionFailed',
          `a ${global.failoverState.status} of ${global.id} is under way; fail back once it has finished`,
        );
      }
      if (!memberNamed(global, original.arn)) {
        throw fail(
          'PreconditionFailed',
          `${original.cluster} (${original.region}) is no longer a member of the global database ${global.id}: add it ` +
            `back as a secondary (or create a new secondary cluster there), then fail back`,
        );
      }
      let originalCluster;
      try {
        originalCluster = await probes.findGlobalMemberCluster({ region: original.region, cluster: original.arn });
      } catch (err) {
        if (isClientError(err)) throw err;
        throw fail(
          'PreconditionFailed',
          `the original region ${original.region} does not answer (${errorMessage(err)}); fail back once it does`,
        );
      }
      const health = primaryClusterHealth(originalCluster ?? { status: 'not-found' });
      if (!originalCluster || originalCluster.status !== 'available' || !originalCluster.endpoint) {
        throw fail(
          'PreconditionFailed',
          `${original.cluster} (${original.region}) is not an available secondary yet: ${health.why}. Fail back once ` +
            `it is (aws rds describe-db-clusters --region ${original.region} --db-cluster-identifier ${original.cluster})`,
        );
      }
      if (global.status !== 'available') {
        throw fail('PreconditionFailed', `the global database ${global.id} is ${global.status}, not available`);
      }
      const lag = await aws.getGlobalDbLag({ region: original.region, cluster: original.cluster });
      const cluster = originalCluster;
      return {
        details: () => ({
          writer: `${current.cluster} (${current.region})`,
          original: `${cluster.id} ${cluster.status} at ${cluster.endpoint}`,
          globalLagMs: lag.ms ?? '(no datapoint)',
        }),
        plan: () => ({
          before: [],
          move: {
            step: 'Switch the global database back (point of no return)',
            action: 'rds:SwitchoverGlobalCluster',
            params: {
              globalCluster: db.globalCluster,
              from: `${current.cluster} (${current.region})`,
              to: `${original.cluster} (${original.region})`,
            },
          },
          endpoint: cluster.endpoint ?? '',
        }),
        locks: () => [
          lockable.dbCluster({ region: original.region, dbCluster: original.cluster }),
          lockable.dbCluster({ region: current.region, dbCluster: current.cluster }),
        ],
        prepare: () =>
          Promise.resolve({
            approval:
              `fail back to ${original.region}: switch the Aurora global database ${db.globalCluster} over to ${original.cluster} ` +
              `(global lag ${lag.ms ?? 'unknown'} ms; a switchover loses no data), restore `,
            notes: [],
            async move({ did, progress }) {
              // The switchover back: the point of no return.
              await ctx.change('Switch the global database back (SwitchoverGlobalCluster)', () =>
                aws.moveGlobalWriter({
                  region: original.region,
                  globalCluster: db.globalCluster,
                  targetArn: original.arn,
                  mode: 'switchover',
                }),
              );
              ctx.pointOfNoReturn(
                `switchover of ${db.globalCluster} back to ${original.cluster} requested; from here nothing is undone silently`,
              );
              did('requested');
              const moved = await ctx.critical(
                `Wait until ${original.cluster} is the global writer and available`,
                () =>
                  waits.waitForGlobalWriter({
                    region: original.region,
                    globalCluster: db.globalCluster,
                    targetArn: original.arn,
                    timeoutMs: parseDuration(p.promoteTimeout),
                  }),
                progress,
                {
                  details: (d) => ({ writer: d.writer, endpoint: d.endpoint, waitedMs: d.waitedMs, phases: d.phases }),
                },
              );
              const endpoint = moved.endpoint;
              did(`${original.cluster} is the writer at ${endpoint}`);
              return {
                endpoint,
                warnings: [],
                incident: {
                  impact: [
                    ['Writer', `${current.cluster} (${current.region}) → ${original.cluster} (${original.region})`],
                    ['Data loss', 'none (a switchover synchronises the secondary before the writer moves)'],
                  ],
                  resolution:
                    `Switched ${db.globalCluster} back: ${original.cluster} in ${original.region} is the writer ` +
                    `(endpoint ${endpoint}); `,
                  tail: `${current.cluster} stays in the global database as a secondary.`,
                },
                newPrimary: { region: original.region, dbInstance: original.cluster, endpoint },
                lagSeconds: lag.ms !== undefined ? Math.round(lag.ms) / 1000 : undefined,
              };
            },
          }),
      };
    },
  };
}
