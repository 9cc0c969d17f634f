// The traffic router of a blue-green deployment behind one interface — Route 53 weighted records or an ALB listener /
// rule forwarding to two target groups: read the split, set it, put the saved state back — and the check that each
// service is behind its colour's target group before any traffic moves.
import type { BlueGreenParams, RouterWeights } from '../../api/runbooks/blue-green';
import { toPercent } from '../../api/runbooks/blue-green';
import type { RecordSet } from '../../api/runbooks/dns-failover';
import { shortName } from '../../api/runbooks/ecs';
import { fail } from './errors';
import { aws, waits } from './proxies';

/** The router behind one interface: read the split, set it, put the saved state back. */
export interface Router {
  describe: string;
  weights(): Promise<RouterWeights>;
  set(greenPercent: number): Promise<void>;
  restore(): Promise<void>;
  greenTargetGroupArn?: string;
}

export async function openRouter(
  p: BlueGreenParams,
  label: string,
): Promise<{
  router: Router;
  saved: unknown;
  weights: RouterWeights;
  /** ALB: the target group each colour's traffic goes to (what each service must be behind). */
  targetGroups?: { blue: { arn: string; name: string }; green: { arn: string; name: string } };
}> {
  const r = p.router;
  if (r.kind === 'route53-weighted') {
    const zone = await aws.resolveHostedZone({ zone: r.hostedZone });
    const saved = await aws.listRecordSets({ hostedZoneId: zone.id, name: r.record.name, type: r.record.type });
    const find = (id: string, colour: string): RecordSet => {
      const rec = saved.find((x) => x.SetIdentifier === id);
      if (!rec || rec.Weight === undefined) {
        throw fail(
          'ResourceNotFound',
          `no weighted ${r.record.name} ${r.record.type} record with set identifier "${id}" for ${colour} ` +
            `(found: ${saved.map((x) => x.SetIdentifier ?? '(simple)').join(', ') || 'none'})`,
        );
      }
      return rec;
    };
    const blue = find(r.blueSetIdentifier, 'blue');
    const green = find(r.greenSetIdentifier, 'green');
    const read = async () => {
      const now = await aws.listRecordSets({ hostedZoneId: zone.id, name: r.record.name, type: r.record.type });
      const w = (id: string) => now.find((x) => x.SetIdentifier === id)?.Weight ?? 0;
      return toPercent(w(r.blueSetIdentifier), w(r.greenSetIdentifier));
    };
    return {
      saved,
      weights: toPercent(blue.Weight ?? 0, green.Weight ?? 0),
      router: {
        describe: `Route 53 ${r.record.name} ${r.record.type} [${r.blueSetIdentifier} / ${r.greenSetIdentifier}]`,
        weights: read,
        async set(g) {
          const change = await aws.changeRecordSets({
            hostedZoneId: zone.id,
            comment: `blueGreenDeploy ${label}: ${g}% green`,
            changes: [
              { action: 'UPSERT', recordSet: { ...blue, Weight: 100 - g } },
              { action: 'UPSERT', recordSet: { ...green, Weight: g } },
            ],
          });
          await waits.waitForChangeInsync({ changeId: change.changeId, timeoutMs: 10 * 60_000 });
        },
        async restore() {
          const res = await aws.restoreRecordSets({
            hostedZoneId: zone.id,
            name: r.record.name,
            type: r.record.type,
            saved,
            comment: `blueGreenDeploy ${label}: back to blue`,
          });
          if (res.changeId) await waits.waitForChangeInsync({ changeId: res.changeId, timeoutMs: 10 * 60_000 });
        },
      },
    };
  }
  const alb = await aws.resolveAlbRouter(albQuery(p.region, r));
  const ref = { region: alb.region, kind: alb.kind, arn: alb.arn, blueArn: alb.blueArn, greenArn: alb.greenArn };
  return {
    saved: alb.actions,
    weights: alb.weights,
    targetGroups: {
      blue: { arn: alb.blueArn, name: alb.blueTargetGroupName },
      green: { arn: alb.greenArn, name: alb.greenTargetGroupName },
    },
    router: {
      describe: `ALB ${alb.kind} ${shortName(alb.arn)} [${alb.blueTargetGroupName} / ${alb.greenTargetGroupName}]`,
      weights: () => aws.getAlbWeights(ref),
      async set(g) {
        await aws.setAlbWeights({ ...ref, greenPercent: g });
      },
      async restore() {
        await aws.restoreAlbActions({ region: ref.region, kind: ref.kind, arn: ref.arn, actions: alb.actions });
      },
      ...(p.gates.targetHealth ? { greenTargetGroupArn: alb.greenArn } : {}),
    },
  };
}

/**
 * With an ALB router, each service must be behind its colour's target group, or the shift moves users to the wrong
 * side (a mixed-up input, or services swapped after an earlier release). A service that declares no load balancer
 * cannot be checked: a warning says so. Results recorded before ServiceState had target groups are not checked.
 */
export function checkServicesBehindTargetGroups(
  pre: {
    blue: { targetGroupArns?: string[] };
    green: { targetGroupArns?: string[] };
    targetGroups?: { blue: { arn: string; name: string }; green: { arn: string; name: string } };
  },
  p: BlueGreenParams,
  warn: (message: string) => void,
): void {
  const tgs = pre.targetGroups;
  if (!tgs) return;
  const tgName = (arn: string) => arn.split('/').at(-2) ?? arn;
  const sides = [
    { colour: 'blue', service: p.blueService, declared: pre.blue.targetGroupArns, mine: tgs.blue, other: tgs.green },
    { colour: 'green', service: p.greenService, declared: pre.green.targetGroupArns, mine: tgs.green, other: tgs.blue },
  ] as const;
  const wrong: string[] = [];
  for (const s of sides) {
    if (s.declared === undefined) return; // recorded before the field existed
    if (s.declared.length === 0) {
      warn(`${s.service} declares no load balancer: could not check that it serves ${s.mine.name} (${s.colour})`);
    } else if (!s.declared.includes(s.mine.arn)) {
      const behind = s.declared.map(tgName).join(', ');
      wrong.push(
        `${s.colour} service ${s.service} is behind ${behind}, not ${s.mine.name}` +
          (s.declared.includes(s.other.arn) ? ` (that is ${s.colour === 'blue' ? 'green' : 'blue'}'s)` : ''),
      );
    }
  }
  if (wrong.length) {
    throw fail(
      'PreconditionFailed',
      `the router would send traffic to the wrong service: ${wrong.join('; ')}. ` +
        `Check blueService/greenService and router.blueTargetGroup/greenTargetGroup`,
    );
  }
}

/** What names an ALB router in the input, as resolveAlbRouter takes it (listener, rule or load balancer + port). */
export function albQuery(region: string, r: Extract<BlueGreenParams['router'], { kind: 'alb-weighted' }>) {
  return {
    region,
    ...(r.listener ? { listener: r.listener } : {}),
    ...(r.rule ? { rule: r.rule } : {}),
    ...(r.loadBalancer ? { loadBalancer: r.loadBalancer } : {}),
    port: r.port,
    blueTargetGroup: r.blueTargetGroup,
    greenTargetGroup: r.greenTargetGroup,
  };
}
