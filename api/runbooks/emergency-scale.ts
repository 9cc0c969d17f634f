// emergencyScale input: set an ECS service's desired count now, optionally scale back later.
import { z } from 'zod';
import { approvalPolicy, healthCheck, requireInitiatorWhenSecondPerson, runbookCommon } from '../common';
import { durationString } from '../duration';
import { ecsServiceKey, ecsServiceRef } from './ecs';
import type { HealthResult } from '../common';

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
    health: healthCheck.optional().describe('Health check after scaling'),
    stableTimeout: durationString({ min: '10s', max: '2h' })
      .default('15m')
      .describe('How long to wait for the service to become stable at the new count'),
    approval: approvalPolicy(false),
    initiatedBy: runbookCommon.initiatedBy,
    dryRun: runbookCommon.dryRun,
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
  scaleBack?: {
    outcome: 'scaled-back' | 'kept' | 'skipped-changed-elsewhere';
    at: string;
    by?: string;
    reason?: string;
    count: number;
  };
}
