// emergencyScale input: set an ECS service's desired count now, optionally scale back later.
import { z } from 'zod';
import { approvalPolicy, healthCheck, requireInitiatorWhenSecondPerson, runbookCommon } from '../common';
import { durationString } from '../duration';
import { ecsServiceKey, ecsServiceRef } from './ecs';
import type { HealthResult } from '../common';
import { runbookEntry } from './entry';

export const emergencyScaleInput = z
  .object({
    ...ecsServiceRef,
    desiredCount: z.number().int().min(0).max(10_000).describe('Task count to set'),
    maxCount: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(20)
      .describe('Upper bound for desiredCount: a typo must not launch 1000 tasks'),
    reason: z.string().trim().min(1, { message: 'expected a reason' }).max(2000).describe('Why (required)'),
    scaleBackAfter: durationString({ min: '1s', max: '30d' })
      .optional()
      .describe('Scale back to the previous count after this long, unless a keepScaled signal arrives'),
    autoScaling: z
      .enum(['hold', 'leave'])
      .default('hold')
      .describe(
        'When Application Auto Scaling manages the service: "hold" moves its min/max so they include desiredCount ' +
          '(a scale-in cannot undo an emergency scale-up) and puts them back on scale-back or failure; "leave" ' +
          'changes nothing there and warns when the count is outside the range',
      ),
    health: healthCheck.optional().describe('Health check after scaling'),
    stableTimeout: durationString({ min: '10s', max: '2h' })
      .default('15m')
      .describe('How long to wait for the service to become stable at the new count'),
    approval: approvalPolicy(false),
    initiatedBy: runbookCommon.initiatedBy,
    initiatorProof: runbookCommon.initiatorProof,
    dryRun: runbookCommon.dryRun,
    account: runbookCommon.account,
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.desiredCount > value.maxCount) {
      ctx.addIssue({
        code: 'custom',
        path: ['desiredCount'],
        message: `${value.desiredCount} is above maxCount (${value.maxCount}); raise maxCount if you mean it`,
      });
    }
    requireInitiatorWhenSecondPerson(value, ctx);
  });

export type EmergencyScaleInput = z.input<typeof emergencyScaleInput>;
export type EmergencyScaleParams = z.output<typeof emergencyScaleInput>;

export const emergencyScaleWorkflowId = (i: { region: string; cluster: string; service: string }) =>
  `emergency-scale:${ecsServiceKey(i)}`;

export interface EmergencyScaleResult {
  cluster: string;
  service: string;
  previousCount: number;
  desiredCount: number;
  runningCount: number;
  health?: HealthResult;
  /** Application Auto Scaling, when it manages the service: its range before, what the run set, and the end state. */
  autoScaling?: {
    resourceId: string;
    before: { min: number; max: number };
    held?: { min: number; max: number };
    /** True when the run put `before` back (scale-back); false when the held range is still in place. */
    restored: boolean;
  };
  scaleBack?: {
    outcome: 'scaled-back' | 'kept' | 'skipped-changed-elsewhere';
    at: string;
    by?: string;
    reason?: string;
    count: number;
  };
}

/**
 * The Application Auto Scaling range that keeps a new count from being undone: a scale-up raises the minimum to it
 * (and the maximum, if below), a scale-down lowers the maximum to it (and the minimum, if above).
 */
export function autoScalingHold(
  range: { min: number; max: number },
  from: number,
  to: number,
): { min: number; max: number } {
  return to >= from
    ? { min: Math.max(range.min, to), max: Math.max(range.max, to) }
    : { min: Math.min(range.min, to), max: Math.min(range.max, to) };
}

/** emergencyScale in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const emergencyScaleEntry = runbookEntry({
  type: 'emergencyScale',
  slug: 'emergency-scale',
  title: 'Emergency scale an ECS service (optionally scale back later)',
  schema: emergencyScaleInput,
  workflowId: emergencyScaleWorkflowId,
});
