// The realistic layer's part for Aurora cluster failovers (FailoverDBCluster). AWS: the cluster shows `failing-over`
// for about half a minute to a minute, the writer flag (DBClusterMembers IsClusterWriter) stays on the old writer
// until the end, the target reader restarts as the writer and the old writer restarts as a reader (both `rebooting`,
// the old writer a little longer), then everything is `available`. moto moves the writer at once and shows no phase;
// this model holds the old view back for the phases below (AWS minutes), and remembers the writer it last saw so it
// knows which member was the writer before the call.
import { phaseAt, type Phase } from './machines';
import { withXmlValue, xmlBlocks, xmlValue } from './wire';

/** The cluster's phases after FailoverDBCluster, before moto's end state (writer moved, `available`). */
export const AURORA_FAILOVER: Phase[] = [{ status: 'failing-over', minutes: 0.75 }];
/** The promoted reader restarts during the failover; the old writer restarts as a reader and takes a little longer. */
export const AURORA_TARGET_REBOOT: Phase[] = [{ status: 'rebooting', minutes: 0.6 }];
export const AURORA_OLD_WRITER_REBOOT: Phase[] = [{ status: 'rebooting', minutes: 1 }];

interface ClusterFailover {
  startedAt: number;
  /** The member that was the writer when the call came (shown as writer until the phases end). */
  oldWriter?: string;
  target: string;
}

export function createAuroraModel(minuteMs: number) {
  const failovers = new Map<string, ClusterFailover>(); // region/cluster (lower case) → failover under way
  const writers = new Map<string, string>(); // region/cluster → the writer last shown
  const instances = new Map<string, { phases: Phase[]; startedAt: number }>(); // region/instance → restart

  const k = (region: string, id: string) => `${region}/${id.toLowerCase()}`;

  /** A `<DBCluster>` block as AWS shows it at `t`. */
  const rewriteCluster = (region: string, block: string, t: number): string => {
    const id = xmlValue(block, 'DBClusterIdentifier') ?? '';
    const f = failovers.get(k(region, id));
    const phase = f ? phaseAt(AURORA_FAILOVER, f.startedAt, t, minuteMs) : undefined;
    if (!f || phase === undefined) {
      if (f) failovers.delete(k(region, id));
      const writer = xmlBlocks(block, 'DBClusterMember').find((m) => xmlValue(m, 'IsClusterWriter') === 'true');
      const writerId = writer ? xmlValue(writer, 'DBInstanceIdentifier') : undefined;
      if (writerId) writers.set(k(region, id), writerId);
      return block;
    }
    let out = withXmlValue(block, 'Status', phase);
    if (f.oldWriter) {
      for (const m of xmlBlocks(out, 'DBClusterMember')) {
        const member = xmlValue(m, 'DBInstanceIdentifier') ?? '';
        const isOld = member.toLowerCase() === f.oldWriter.toLowerCase();
        out = out.replace(m, withXmlValue(m, 'IsClusterWriter', isOld ? 'true' : 'false'));
      }
    }
    return out;
  };

  return {
    /** After moto answered a DB-cluster call: start a failover's phases, and show every cluster as AWS would. */
    after(region: string, operation: string, params: Record<string, unknown>, text: string, t: number): string {
      if (operation === 'FailoverDBCluster') {
        const cluster = String(params.DBClusterIdentifier ?? '');
        const oldWriter = writers.get(k(region, cluster));
        const block = xmlBlocks(text, 'DBCluster')[0] ?? '';
        const newWriter = xmlBlocks(block, 'DBClusterMember').find((m) => xmlValue(m, 'IsClusterWriter') === 'true');
        const target = String(
          params.TargetDBInstanceIdentifier ?? (newWriter ? xmlValue(newWriter, 'DBInstanceIdentifier') : ''),
        );
        failovers.set(k(region, cluster), { startedAt: t, target, ...(oldWriter ? { oldWriter } : {}) });
        if (target) instances.set(k(region, target), { phases: AURORA_TARGET_REBOOT, startedAt: t });
        if (oldWriter && oldWriter.toLowerCase() !== target.toLowerCase()) {
          instances.set(k(region, oldWriter), { phases: AURORA_OLD_WRITER_REBOOT, startedAt: t });
        }
      }
      let out = text;
      for (const block of xmlBlocks(text, 'DBCluster')) out = out.replace(block, rewriteCluster(region, block, t));
      return out;
    },

    /** A `<DBInstance>` block at `t`: `rebooting` while its part of a failover lasts. */
    rewriteInstance(region: string, block: string, t: number): string {
      const id = xmlValue(block, 'DBInstanceIdentifier') ?? '';
      const r = instances.get(k(region, id));
      if (!r) return block;
      const phase = phaseAt(r.phases, r.startedAt, t, minuteMs);
      if (phase === undefined) {
        instances.delete(k(region, id));
        return block;
      }
      return withXmlValue(block, 'DBInstanceStatus', phase);
    },
  };
}
