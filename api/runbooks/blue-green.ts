// blueGreenDeploy input: deploy a new version to the green service, shift traffic to it step by step behind a
// Route 53 weighted pair or an ALB weighted forward, gate every step on alarms, metrics and health, keep blue on
// standby, then decommission it — or roll back.
import { z } from 'zod';
import { approvalPolicy, awsRegion, healthCheck, runbookInput } from '../common';
import { durationString, parseDuration } from '../duration';
import { gateSetShape } from '../gates';
import { dnsRecordRef } from './dns-failover';
import { ecsName, ecsServiceKey, shortName } from './ecs';
import { allowOtherFamily, allowOtherFamilyOnlyWith } from './ecs-rollback';
import { runbookEntry } from './entry';

export const route53Router = z
  .object({
    kind: z.literal('route53-weighted'),
    hostedZone: z.string().min(1).describe('Hosted zone name or id'),
    record: dnsRecordRef.omit({ setIdentifier: true }).describe('The weighted record (name and type)'),
    blueSetIdentifier: z.string().min(1).describe('Set identifier of the blue weighted record'),
    greenSetIdentifier: z.string().min(1).describe('Set identifier of the green weighted record'),
  })
  .strict();

export const albRouter = z
  .object({
    kind: z.literal('alb-weighted'),
    listener: z.string().min(1).optional().describe('Listener ARN whose default action forwards to both target groups'),
    rule: z.string().min(1).optional().describe('Listener rule ARN whose forward action holds both target groups'),
    loadBalancer: z
      .string()
      .min(1)
      .optional()
      .describe('Instead of a listener ARN: the load balancer name (or ARN) and the listener port'),
    port: z.number().int().min(1).max(65535).default(80),
    blueTargetGroup: z.string().min(1).describe('Blue target group (name or ARN)'),
    greenTargetGroup: z.string().min(1).describe('Green target group (name or ARN)'),
  })
  .strict()
  .refine((r) => [r.listener, r.rule, r.loadBalancer].filter(Boolean).length === 1, {
    message: 'give exactly one of listener, rule or loadBalancer',
    path: ['listener'],
  });

export const trafficRouter = z.discriminatedUnion('kind', [route53Router, albRouter]);

// The metric gate lives with the reusable gate set; re-exported for the runbooks that import it from here.
export { metricGate, type MetricGate } from '../gates';

const version = z.union(
  [
    z
      .object({
        image: z.string().min(3).describe('Container image for green (a revision is registered from blue’s)'),
        container: z.string().min(1).optional().describe('Which container gets the image (default: the first)'),
      })
      .strict(),
    z
      .object({
        taskDefinition: z.string().min(3).describe('An existing task-definition revision (family:revision or ARN)'),
      })
      .strict(),
  ],
  { error: 'expected {"image": "repo:tag"} or {"taskDefinition": "family:revision"}' },
);

export const blueGreenInput = runbookInput(
  {
    region: awsRegion,
    cluster: ecsName,
    blueService: ecsName.describe('The service serving today'),
    greenService: ecsName.describe('The service that receives the new version'),
    version,
    allowOtherFamily: allowOtherFamily.optional(),
    router: trafficRouter.describe('Where the traffic split lives: a Route 53 weighted pair or an ALB forward action'),
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .max(20)
      .default([30, 50, 100])
      .refine((s) => s.every((w, i) => i === 0 || w > s[i - 1]!), {
        message: 'expected increasing weights, e.g. [10, 50, 100]',
      })
      .refine((s) => s[s.length - 1] === 100, { message: 'expected the last step to be 100' })
      .describe('Green weight (percent) at each step'),
    bakeTime: durationString({ min: '1s', max: '6h' }).default('5m').describe('How long each step is watched'),
    checkInterval: durationString({ min: '1s', max: '10m' }).default('30s').describe('How often gates are checked'),
    gates: z
      .object({
        ...gateSetShape,
        greenHealth: healthCheck.optional().describe('Health URL of green: N consecutive healthy answers'),
        targetHealth: z.boolean().default(true).describe('ALB only: every registered green target must be healthy'),
      })
      .strict()
      .default({ alarms: [], metrics: [], burnRates: [], httpChecks: [], targetHealth: true }),
    stableTimeout: durationString({ min: '10s', max: '2h' }).default('15m'),
    maxPause: durationString({ min: '1s', max: '7d' })
      .default('1h')
      .describe('A pause longer than this rolls back: no wait is unbounded'),
    blueStandby: durationString({ min: '1s', max: '7d' })
      .default('1h')
      .describe('How long blue stays up at 100 % green; a rollback signal in that time moves traffic back at once'),
  },
  approvalPolicy(true).describe('Approval before the final (100 %) step'),
  (v, ctx) => {
    // Bounded work per step: every check is a few activities in the history.
    if (/^\d+/.test(v.bakeTime) && /^\d+/.test(v.checkInterval)) {
      try {
        if (parseDuration(v.bakeTime) / parseDuration(v.checkInterval) > 360) {
          ctx.addIssue({
            code: 'custom',
            path: ['checkInterval'],
            message: `checking every ${v.checkInterval} for ${v.bakeTime} is more than 360 checks a step; check less often`,
          });
        }
      } catch {
        /* malformed durations are reported by their own fields */
      }
    }
    if (shortName(v.blueService) === shortName(v.greenService)) {
      ctx.addIssue({ code: 'custom', path: ['greenService'], message: 'expected a service other than blueService' });
    }
    if (v.router.kind === 'route53-weighted' && v.router.blueSetIdentifier === v.router.greenSetIdentifier) {
      ctx.addIssue({
        code: 'custom',
        path: ['router', 'greenSetIdentifier'],
        message: `blue and green are the same record set (set identifier "${v.router.blueSetIdentifier}"); expected green’s own`,
      });
    }
    // One target group for both colours: a split on it is no split (the router reads it as 50/50). Written two ways
    // (name and ARN) it is found when the names are resolved, also before any change.
    if (v.router.kind === 'alb-weighted' && v.router.blueTargetGroup === v.router.greenTargetGroup) {
      ctx.addIssue({
        code: 'custom',
        path: ['router', 'greenTargetGroup'],
        message: `blue and green are the same target group ${v.router.blueTargetGroup}; expected green’s own`,
      });
    }
    // With an image, green's revision is registered from blue's own: there is no other family to allow.
    allowOtherFamilyOnlyWith(
      v,
      'taskDefinition' in v.version,
      'version.taskDefinition (an image is registered in blue’s own family)',
      ctx,
    );
  },
);

export type BlueGreenInput = z.input<typeof blueGreenInput>;
export type BlueGreenParams = z.output<typeof blueGreenInput>;

/** Derived from the blue service: two deployments of one service cannot overlap. */
export const blueGreenWorkflowId = (i: { region: string; cluster: string; blueService: string }) =>
  `blue-green:${ecsServiceKey({ region: i.region, cluster: i.cluster, service: i.blueService })}`;

export interface RouterWeights {
  blue: number;
  green: number;
}

export interface BlueGreenResult {
  outcome: 'promoted';
  greenTaskDefinition: string;
  blueTaskDefinition: string;
  desiredCount: number;
  finalWeights: RouterWeights;
  weightsPerStep: { step: number; weights: RouterWeights }[];
  /** How many gate readings were taken (the report's `readings` holds them, capped; the history has all). */
  readingsTaken: number;
  blueDecommissionedAt: string;
}

/** Raw weights → percent of traffic (blue + green = 100). Both 0 splits evenly, as Route 53 does. */
export function toPercent(blue: number, green: number): RouterWeights {
  const total = blue + green;
  if (total <= 0) return { blue: 50, green: 50 };
  const g = Math.round((green / total) * 100);
  return { blue: 100 - g, green: g };
}

/** blueGreenDeploy in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const blueGreenDeployEntry = runbookEntry({
  type: 'blueGreenDeploy',
  slug: 'blue-green',
  title: 'Deploy to green and shift traffic step by step, gated on alarms, metrics and health; blue on standby',
  schema: blueGreenInput,
  workflowId: blueGreenWorkflowId,
});
