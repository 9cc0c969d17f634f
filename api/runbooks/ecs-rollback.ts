// ecsRollback input: roll an ECS service back to the previous ACTIVE task-definition revision (or a given one).
import { z } from 'zod';
import {
  approvalPolicy,
  healthCheck,
  requireInitiatorWhenSecondPerson,
  runbookCommon,
  type HealthResult,
} from '../common';
import { durationString } from '../duration';
import { ecsServiceKey, ecsServiceRef } from './ecs';

export const ecsRollbackInput = z
  .object({
    ...ecsServiceRef,
    toRevision: z
      .string()
      .regex(/^(arn:aws[a-z-]*:ecs:[^:]+:\d{12}:task-definition\/)?[A-Za-z0-9_-]+:\d+$/, {
        message: 'expected "family:revision" or a task-definition ARN',
      })
      .optional()
      .describe('Revision to roll back to; default: the newest ACTIVE revision older than the current one'),
    health: healthCheck.optional().describe('Health check after the rollback (N consecutive successful answers)'),
    stableTimeout: durationString({ min: '10s', max: '2h' })
      .default('15m')
      .describe('How long to wait for the service to become stable'),
    approval: approvalPolicy(false),
    ...runbookCommon,
  })
  .strict()
  .superRefine(requireInitiatorWhenSecondPerson);

export type EcsRollbackInput = z.input<typeof ecsRollbackInput>;
export type EcsRollbackParams = z.output<typeof ecsRollbackInput>;

export const ecsRollbackWorkflowId = (i: { region: string; cluster: string; service: string }) =>
  `ecs-rollback:${ecsServiceKey(i)}`;

export interface EcsRollbackResult {
  cluster: string;
  service: string;
  fromTaskDefinition: string;
  toTaskDefinition: string;
  desiredCount: number;
  runningCount: number;
  healthy?: boolean;
  health?: HealthResult;
}
