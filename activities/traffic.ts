// Traffic routers for blue/green: a Route 53 weighted pair or an ALB weighted forward action. Each side can be read
// exactly (saved for an exact restore), set to a split, and its targets' health read.
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { toPercent, type RouterWeights as Weights } from '../api/runbooks/blue-green';
import type { AwsClients } from './aws-clients';
import { PreconditionFailed, ResourceNotFound } from './errors';
import { abortSignal } from './poll';

const isArn = (s: string) => s.startsWith('arn:');

export interface AlbRouterRef {
  region: string;
  kind: 'listener' | 'rule';
  arn: string;
  blueArn: string;
  greenArn: string;
}

/** Find the forward action and return the actions with the split set (other actions and settings kept). */
export function withAlbSplit(actions: Action[], blueArn: string, greenArn: string, greenPercent: number): Action[] {
  const forward = actions.find((a) => a.Type === 'forward');
  if (!forward) throw new PreconditionFailed('the listener/rule has no forward action to split traffic with');
  return actions.map((a) =>
    a !== forward
      ? a
      : {
          Type: 'forward',
          ...(a.Order !== undefined ? { Order: a.Order } : {}),
          ForwardConfig: {
            ...(a.ForwardConfig?.TargetGroupStickinessConfig
              ? { TargetGroupStickinessConfig: a.ForwardConfig.TargetGroupStickinessConfig }
              : {}),
            TargetGroups: [
              { TargetGroupArn: blueArn, Weight: 100 - greenPercent },
              { TargetGroupArn: greenArn, Weight: greenPercent },
            ],
          },
        },
  );
}

export function albWeights(actions: Action[], blueArn: string, greenArn: string): Weights {
  const forward = actions.find((a) => a.Type === 'forward');
  if (!forward) return { blue: 0, green: 0 };
  const groups = forward.ForwardConfig?.TargetGroups?.length
    ? forward.ForwardConfig.TargetGroups
    : forward.TargetGroupArn
      ? [{ TargetGroupArn: forward.TargetGroupArn, Weight: 1 }]
      : [];
  const weightOf = (arn: string) =>
    groups.find((g) => g.TargetGroupArn === arn)?.Weight ??
    (groups.length === 1 && groups[0]?.TargetGroupArn === arn ? 1 : 0);
  return toPercent(weightOf(blueArn), weightOf(greenArn));
}

export function createTrafficActivities(aws: AwsClients) {
  async function readActions(ref: Pick<AlbRouterRef, 'region' | 'kind' | 'arn'>): Promise<Action[]> {
    const elb = aws.elbv2(ref.region);
    if (ref.kind === 'listener') {
      const out = await elb.send(new DescribeListenersCommand({ ListenerArns: [ref.arn] }), {
        abortSignal: abortSignal(),
      });
      return out.Listeners?.[0]?.DefaultActions ?? [];
    }
    const out = await elb.send(new DescribeRulesCommand({ RuleArns: [ref.arn] }), { abortSignal: abortSignal() });
    return out.Rules?.[0]?.Actions ?? [];
  }

  async function writeActions(ref: Pick<AlbRouterRef, 'region' | 'kind' | 'arn'>, actions: Action[]): Promise<void> {
    const elb = aws.elbv2(ref.region);
    if (ref.kind === 'listener') {
      await elb.send(new ModifyListenerCommand({ ListenerArn: ref.arn, DefaultActions: actions }), {
        abortSignal: abortSignal(),
      });
    } else {
      await elb.send(new ModifyRuleCommand({ RuleArn: ref.arn, Actions: actions }), { abortSignal: abortSignal() });
    }
  }

  return {
    /** Resolve names to ARNs and read the exact actions and the split they hold. */
    async resolveAlbRouter(input: {
      region: string;
      listener?: string;
      rule?: string;
      loadBalancer?: string;
      port: number;
      blueTargetGroup: string;
      greenTargetGroup: string;
    }): Promise<
      AlbRouterRef & { actions: Action[]; weights: Weights; blueTargetGroupName: string; greenTargetGroupName: string }
    > {
      const elb = aws.elbv2(input.region);
      const targetGroup = async (ref: string) => {
        try {
          const out = await elb.send(
            new DescribeTargetGroupsCommand(isArn(ref) ? { TargetGroupArns: [ref] } : { Names: [ref] }),
            { abortSignal: abortSignal() },
          );
          const tg = out.TargetGroups?.[0];
          if (tg?.TargetGroupArn) return { arn: tg.TargetGroupArn, name: tg.TargetGroupName ?? ref };
        } catch (err) {
          if ((err as Error).name !== 'TargetGroupNotFoundException') throw err;
        }
        throw new ResourceNotFound(`target group ${ref} not found in ${input.region}`);
      };
      const blue = await targetGroup(input.blueTargetGroup);
      const green = await targetGroup(input.greenTargetGroup);
      // One target group for both colours (say its name for one, its ARN for the other) is no split at all: the
      // forward action would read as 50/50 and a shift would write the group twice. Refused before anything changes.
      if (blue.arn === green.arn) {
        throw new PreconditionFailed(
          `blue and green are the same target group ${blue.name} (${blue.arn}): give green its own target group ` +
            `in router.greenTargetGroup (and blue its own in router.blueTargetGroup)`,
        );
      }
      let kind: 'listener' | 'rule' = 'listener';
      let arn: string;
      if (input.rule) {
        kind = 'rule';
        arn = input.rule;
      } else if (input.listener) {
        arn = input.listener;
      } else {
        const lbRef = input.loadBalancer!;
        const lbs = await elb
          .send(new DescribeLoadBalancersCommand(isArn(lbRef) ? { LoadBalancerArns: [lbRef] } : { Names: [lbRef] }), {
            abortSignal: abortSignal(),
          })
          .catch((err: Error) => {
            if (err.name === 'LoadBalancerNotFoundException')
              throw new ResourceNotFound(`load balancer ${lbRef} not found in ${input.region}`);
            throw err;
          });
        const lb = lbs.LoadBalancers?.[0];
        if (!lb?.LoadBalancerArn) throw new ResourceNotFound(`load balancer ${lbRef} not found in ${input.region}`);
        const listeners = await elb.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }), {
          abortSignal: abortSignal(),
        });
        const found = listeners.Listeners?.find((l) => l.Port === input.port);
        if (!found?.ListenerArn)
          throw new ResourceNotFound(`load balancer ${lbRef} has no listener on port ${input.port}`);
        arn = found.ListenerArn;
      }
      let actions: Action[];
      try {
        actions = await readActions({ region: input.region, kind, arn });
      } catch (err) {
        if (/NotFound/.test((err as Error).name))
          throw new ResourceNotFound(`${kind} ${arn} not found in ${input.region}`);
        throw err;
      }
      if (!actions.some((a) => a.Type === 'forward')) {
        throw new PreconditionFailed(
          `${kind} ${arn} has no forward action to split traffic with (actions: ${actions.map((a) => a.Type).join(', ')})`,
        );
      }
      return {
        region: input.region,
        kind,
        arn,
        blueArn: blue.arn,
        greenArn: green.arn,
        blueTargetGroupName: blue.name,
        greenTargetGroupName: green.name,
        actions,
        weights: albWeights(actions, blue.arn, green.arn),
      };
    },

    async getAlbWeights(ref: AlbRouterRef): Promise<Weights> {
      return albWeights(await readActions(ref), ref.blueArn, ref.greenArn);
    },

    /** Set the split (idempotent: it writes a state). */
    async setAlbWeights(ref: AlbRouterRef & { greenPercent: number }): Promise<Weights> {
      const actions = withAlbSplit(await readActions(ref), ref.blueArn, ref.greenArn, ref.greenPercent);
      await writeActions(ref, actions);
      return albWeights(await readActions(ref), ref.blueArn, ref.greenArn);
    },

    /** Put the saved actions back exactly. */
    async restoreAlbActions(ref: Pick<AlbRouterRef, 'region' | 'kind' | 'arn'> & { actions: Action[] }): Promise<void> {
      await writeActions(ref, ref.actions);
    },

    /** Health of the registered targets of a target group. */
    async getTargetHealth(input: { region: string; targetGroupArn: string }) {
      const out = await aws
        .elbv2(input.region)
        .send(new DescribeTargetHealthCommand({ TargetGroupArn: input.targetGroupArn }), {
          abortSignal: abortSignal(),
        });
      const targets = (out.TargetHealthDescriptions ?? []).map((t) => ({
        id: `${t.Target?.Id ?? '?'}:${t.Target?.Port ?? ''}`,
        state: t.TargetHealth?.State ?? 'unknown',
        ...(t.TargetHealth?.Reason ? { reason: t.TargetHealth.Reason } : {}),
      }));
      return { total: targets.length, healthy: targets.filter((t) => t.state === 'healthy').length, targets };
    },
  };
}
