// The realistic layer's part for Aurora Global Database switchovers and failovers (SwitchoverGlobalCluster,
// FailoverGlobalCluster). AWS answers at once with FailoverState `pending` (FromDbClusterArn, ToDbClusterArn,
// IsDataLossAllowed), then works for minutes: FailoverState `failing-over` (a failover) or `switching-over` (a
// switchover), the global cluster's Status the same, the target cluster `failing-over` in its region, the members'
// IsWriter still on the old primary; at the end the target is the writer, FailoverState is gone and everything is
// `available`. moto (with our patch, scripts/moto/server.py) moves IsWriter at once and shows no phase; this model
// holds the old view back for the phases below (AWS minutes).
import { phaseAt, type Phase } from './machines';
import type { AwsCall } from './wire';
import { xmlValue } from './wire';

/** The phases of a global move after the call, before moto's end state. */
export const GLOBAL_FAILOVER: Phase[] = [
  { status: 'pending', minutes: 0.5 },
  { status: 'failing-over', minutes: 4 },
];
export const GLOBAL_SWITCHOVER: Phase[] = [
  { status: 'pending', minutes: 0.5 },
  { status: 'switching-over', minutes: 4 },
];

interface GlobalMove {
  startedAt: number;
  phases: Phase[];
  from?: string;
  to: string;
  dataLossAllowed: boolean;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The members' `<DBClusterArn>`/`<IsWriter>` pairs of one global cluster's XML (moto's member order). */
function membersOf(segment: string): { arn: string; writer: boolean }[] {
  const out: { arn: string; writer: boolean }[] = [];
  const re = /<DBClusterArn>([^<]*)<\/DBClusterArn>[\s\S]*?<IsWriter>([^<]*)<\/IsWriter>/g;
  for (let m = re.exec(segment); m; m = re.exec(segment)) out.push({ arn: m[1] ?? '', writer: m[2] === 'true' });
  return out;
}

export function createGlobalClusterModel(minuteMs: number) {
  const moves = new Map<string, GlobalMove>(); // global cluster id (lower case) → move under way
  const writers = new Map<string, string>(); // global cluster id → the writer's ARN last shown

  /** Each global cluster in an answer: its id and the segment from its identifier to the end of its members. */
  const segments = (xml: string): { id: string; segment: string }[] => {
    const out: { id: string; segment: string }[] = [];
    const re =
      /<GlobalClusterIdentifier>([^<]*)<\/GlobalClusterIdentifier>[\s\S]*?(<\/GlobalClusterMembers>|<GlobalClusterMembers\/>)/g;
    for (let m = re.exec(xml); m; m = re.exec(xml)) out.push({ id: (m[1] ?? '').toLowerCase(), segment: m[0] });
    return out;
  };

  /** One global cluster's segment as AWS shows it at `t`. */
  const rewriteSegment = (id: string, segment: string, t: number): string => {
    const move = moves.get(id);
    const phase = move ? phaseAt(move.phases, move.startedAt, t, minuteMs) : undefined;
    if (!move || phase === undefined) {
      if (move) moves.delete(id);
      const writer = membersOf(segment).find((m) => m.writer);
      if (writer) writers.set(id, writer.arn);
      return segment;
    }
    let out = segment.replace(
      /<Status>[^<]*<\/Status>/,
      `<Status>${phase === 'pending' ? 'available' : phase}</Status>`,
    );
    // IsWriter stays on the old primary until the end.
    for (const m of membersOf(segment)) {
      const writer = move.from ? m.arn === move.from : false;
      out = out.replace(
        new RegExp(`(<DBClusterArn>${escapeRe(m.arn)}</DBClusterArn>[\\s\\S]*?<IsWriter>)[^<]*(</IsWriter>)`),
        `$1${writer}$2`,
      );
    }
    const state =
      `<FailoverState><Status>${phase}</Status>${move.from ? `<FromDbClusterArn>${move.from}</FromDbClusterArn>` : ''}` +
      `<ToDbClusterArn>${move.to}</ToDbClusterArn><IsDataLossAllowed>${move.dataLossAllowed}</IsDataLossAllowed></FailoverState>`;
    return `${out}${state}`;
  };

  /** The target cluster (by region and id) of a move under way, while it is past `pending`. */
  const movingCluster = (region: string, clusterId: string, t: number): boolean => {
    for (const move of moves.values()) {
      const target = /^arn:[^:]+:rds:([^:]*):[^:]*:cluster:(.+)$/.exec(move.to);
      if (!target || target[1] !== region || (target[2] ?? '').toLowerCase() !== clusterId.toLowerCase()) continue;
      const phase = phaseAt(move.phases, move.startedAt, t, minuteMs);
      if (phase !== undefined && phase !== 'pending') return true;
    }
    return false;
  };

  return {
    /** After moto answered an RDS call: start a move, and show any move under way in global and cluster answers. */
    after(call: AwsCall, status: number, text: string, t: number): string {
      if (status < 200 || status >= 300) return text;
      if (call.operation === 'FailoverGlobalCluster' || call.operation === 'SwitchoverGlobalCluster') {
        const id = String(call.params.GlobalClusterIdentifier ?? '').toLowerCase();
        const failover =
          call.operation === 'FailoverGlobalCluster' &&
          String(call.params.AllowDataLoss ?? '').toLowerCase() === 'true';
        const to = membersOf(text).find((m) => m.writer)?.arn ?? String(call.params.TargetDbClusterIdentifier ?? '');
        const from = writers.get(id) ?? membersOf(text).find((m) => !m.writer && m.arn !== to)?.arn ?? undefined;
        moves.set(id, {
          startedAt: t,
          phases: failover ? GLOBAL_FAILOVER : GLOBAL_SWITCHOVER,
          ...(from && from !== to ? { from } : {}),
          to,
          dataLossAllowed: failover,
        });
      }
      if (/GlobalCluster/.test(call.operation)) {
        let out = text;
        for (const s of segments(text)) out = out.replace(s.segment, rewriteSegment(s.id, s.segment, t));
        return out;
      }
      if (call.operation === 'DescribeDBClusters' && moves.size) {
        return text.replace(/<DBCluster>[\s\S]*?<\/DBCluster>/g, (block) => {
          const id = xmlValue(block, 'DBClusterIdentifier') ?? '';
          return movingCluster(call.region, id, t)
            ? block.replace(/<Status>[^<]*<\/Status>/, '<Status>failing-over</Status>')
            : block;
        });
      }
      return text;
    },
  };
}
