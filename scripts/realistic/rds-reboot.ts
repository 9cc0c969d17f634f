// The realistic layer's part for a Multi-AZ reboot with failover (RebootDBInstance, ForceFailover=true): AWS shows the
// instance `rebooting` for about a minute, still in its old zone, and then `available` serving from its former
// standby's zone (AvailabilityZone and SecondaryAvailabilityZone swapped). moto — with our patch, scripts/moto/
// server.py — swaps the zones at once when it accepts the call; this model keeps showing the zones from before the
// call until the reboot's phases (machines.ts RDS_INSTANCE.RebootDBInstance) are over. The `rebooting` status itself
// is the layer's RDS state machine (layer.ts); this file only holds the zones back.
import { withXmlValue, xmlValue } from './wire';

interface FailoverReboot {
  /** The zones before the call, shown until `until`. */
  availabilityZone: string;
  secondaryAvailabilityZone: string;
  until: number;
}

export function createRdsRebootModel() {
  const reboots = new Map<string, FailoverReboot>(); // region/instance → failover under way

  return {
    /**
     * A RebootDBInstance AWS (moto) accepted, with its answer. With ForceFailover on a Multi-AZ instance moto's answer
     * already has the zones swapped: the zones before are the other way round.
     */
    started(k: string, params: Record<string, unknown>, answer: string, until: number): void {
      if (String(params.ForceFailover ?? '').toLowerCase() !== 'true') return;
      const now = xmlValue(answer, 'AvailabilityZone');
      const standby = xmlValue(answer, 'SecondaryAvailabilityZone');
      if (!now || !standby) return; // not Multi-AZ: moto refused it, or no standby to fail over to
      reboots.set(k, { availabilityZone: standby, secondaryAvailabilityZone: now, until });
    },

    /** A `<DBInstance>` block as AWS shows it at `t`: during the reboot, in the zones it had before. */
    rewrite(k: string, block: string, t: number): string {
      const r = reboots.get(k);
      if (!r) return block;
      if (t >= r.until) {
        reboots.delete(k);
        return block;
      }
      let out = withXmlValue(block, 'AvailabilityZone', r.availabilityZone);
      out = withXmlValue(out, 'SecondaryAvailabilityZone', r.secondaryAvailabilityZone);
      return out;
    },
  };
}
