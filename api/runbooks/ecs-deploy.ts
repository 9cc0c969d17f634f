// ecsDeploy and ecsRestart inputs: seed 000's "Standard deployment" (a new image, a deployment configuration for the
// run, wait, health) — through UpdateService, or through CodeDeploy for a service under the CODE_DEPLOY controller —
// and the first fix of every seed, a restart (a forced new deployment, optionally with new CPU/memory/environment).
import { z } from 'zod';
import { approvalPolicy, healthCheck, runbookInput, type HealthResult } from '../common';
import { durationString, parseDuration } from '../duration';
import { gateSetShape } from '../gates';
import { ecsServiceKey, ecsServiceRef } from './ecs';
import { allowOtherFamily, allowOtherFamilyOnlyWith } from './ecs-rollback';
import { runbookEntry } from './entry';

const image = z
  .string()
  .min(3)
  .max(1024)
  .regex(/^[^\s]+$/, { message: 'expected an image reference such as "repo/name:tag" (no spaces)' });

/** What to deploy: one image, an image per container, or an existing revision. */
export const deployVersion = z.union(
  [
    z
      .object({
        image: image.describe('Container image; a revision is registered from the current one with only it changed'),
        container: z.string().min(1).optional().describe('Which container gets the image (default: the only one)'),
      })
      .strict(),
    z
      .object({
        images: z
          .record(z.string().min(1), image)
          .refine((m) => Object.keys(m).length > 0, { message: 'expected at least one container' })
          .describe('Container name → image; every other field of the current revision is kept'),
      })
      .strict(),
    z
      .object({
        taskDefinition: z
          .string()
          .regex(/^(arn:aws[a-z-]*:ecs:[^:]+:\d{12}:task-definition\/)?[A-Za-z0-9_-]+:\d+$/, {
            message: 'expected "family:revision" or a task-definition ARN',
          })
          .describe('An existing task-definition revision (family:revision or ARN)'),
      })
      .strict(),
  ],
  {
    error:
      'expected {"image": "repo:tag"}, {"images": {"<container>": "repo:tag"}} or {"taskDefinition": "family:revision"}',
  },
);
export type DeployVersion = z.output<typeof deployVersion>;

/** The deployment configuration a run sets on the service for its deployment, and puts back afterwards. */
export const deploymentConfiguration = z
  .object({
    maximumPercent: z
      .number()
      .int()
      .min(100)
      .max(400)
      .default(200)
      .describe('Upper limit of tasks during the deployment, in % of desired'),
    minimumHealthyPercent: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(50)
      .describe('Lower limit of healthy tasks during the deployment, in % of desired'),
    circuitBreaker: z
      .boolean()
      .default(true)
      .describe("ECS's deployment circuit breaker with rollback: ECS fails the deployment and rolls back by itself"),
  })
  .strict();
export type DeploymentConfigurationInput = z.output<typeof deploymentConfiguration>;

export const ecsDeployInput = runbookInput(
  {
    ...ecsServiceRef,
    version: deployVersion,
    allowOtherFamily: allowOtherFamily.optional(),
    deploymentConfiguration: deploymentConfiguration
      .optional()
      .describe(
        'Set for this deployment and put back afterwards (seed 000: maximumPercent 200, minimumHealthyPercent 50). ' +
          'Default: the service keeps its own. Not used for a CODE_DEPLOY service (its deployment group decides)',
      ),
    codeDeploy: z
      .object({
        application: z.string().min(1).max(100),
        deploymentGroup: z.string().min(1).max(100),
      })
      .strict()
      .optional()
      .describe(
        'For a service under the CODE_DEPLOY controller: its CodeDeploy application and deployment group. Default: ' +
          'found from the deployment groups that name the service',
      ),
    health: healthCheck.optional().describe('Health check once the new revision serves'),
    gates: z
      .object({
        ...gateSetShape,
        watch: durationString({ min: '0s', max: '6h' })
          .default('0s')
          .describe('Keep checking the gates this long after the deployment (0s: once)'),
        checkInterval: durationString({ min: '1s', max: '10m' }).default('30s'),
      })
      .strict()
      .superRefine((g, ctx) => {
        // Bounded history: every check is a few activities.
        try {
          if (parseDuration(g.watch) / parseDuration(g.checkInterval) > 360) {
            ctx.addIssue({
              code: 'custom',
              path: ['checkInterval'],
              message: `checking every ${g.checkInterval} for ${g.watch} is more than 360 checks; check less often`,
            });
          }
        } catch {
          /* malformed durations are reported by their own fields */
        }
      })
      .optional()
      .describe('Checked once the new revision serves (as blue-green checks its steps); a failing one rolls back'),
    stableTimeout: durationString({ min: '10s', max: '3h' })
      .default('30m')
      .describe('How long to wait for the deployment to complete'),
  },
  approvalPolicy(false),
  (v, ctx) =>
    allowOtherFamilyOnlyWith(
      v,
      'taskDefinition' in v.version,
      'version.taskDefinition (a registered image change stays in the service’s family)',
      ctx,
    ),
);
export type EcsDeployInput = z.input<typeof ecsDeployInput>;
export type EcsDeployParams = z.output<typeof ecsDeployInput>;

export const ecsDeployWorkflowId = (i: { region: string; cluster: string; service: string }) =>
  `ecs-deploy:${ecsServiceKey(i)}`;

export interface EcsDeployResult {
  cluster: string;
  service: string;
  /** ECS (UpdateService) or CODE_DEPLOY (a CodeDeploy deployment). */
  controller: string;
  fromTaskDefinition: string;
  toTaskDefinition: string;
  images: string[];
  /** True when the run registered the revision (false: an existing one was used or reused). */
  registered: boolean;
  desiredCount: number;
  runningCount: number;
  codeDeploy?: { application: string; deploymentGroup: string; deploymentId: string; status: string };
  health?: HealthResult;
}

export const ecsRestartInput = runbookInput(
  {
    ...ecsServiceRef,
    cpu: z
      .number()
      .int()
      .min(128)
      .max(16_384)
      .optional()
      .describe('Task CPU units for the new revision (e.g. 512); default: unchanged'),
    memory: z
      .number()
      .int()
      .min(128)
      .max(122_880)
      .optional()
      .describe('Task memory in MiB for the new revision (e.g. 1024); default: unchanged'),
    environment: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' }),
        z.string().max(4096),
      )
      .optional()
      .describe(
        'Environment variables to set in the new revision (in the containers that define each, else in all); ' +
          'default: unchanged',
      ),
    health: healthCheck.optional().describe('Health check after the restart'),
    stableTimeout: durationString({ min: '10s', max: '2h' })
      .default('15m')
      .describe('How long to wait for the service to become stable'),
  },
  approvalPolicy(false),
);
export type EcsRestartInput = z.input<typeof ecsRestartInput>;
export type EcsRestartParams = z.output<typeof ecsRestartInput>;

export const ecsRestartWorkflowId = (i: { region: string; cluster: string; service: string }) =>
  `ecs-restart:${ecsServiceKey(i)}`;

/** How a service's running tasks spread over Availability Zones (seed 003): zone → task count. */
export type AzSpread = Record<string, number>;

/** One reading of a service's AZ spread: its RUNNING tasks (ListTasks + DescribeTasks) by Availability Zone. */
export interface AzSpreadReading {
  zones: AzSpread;
  /** The service's running tasks seen. */
  tasks: number;
  /** Of those, the tasks AWS showed no availabilityZone for. */
  unknownZone: number;
  /** Set when the tasks could not be read (e.g. ecs:ListTasks or ecs:DescribeTasks denied): AWS's error. */
  unreadable?: string;
}

export interface EcsRestartResult {
  cluster: string;
  service: string;
  fromTaskDefinition: string;
  toTaskDefinition: string;
  /** Set when the restart registered (or reused) a revision with new CPU/memory/environment. */
  revisionChanged: boolean;
  /** The PRIMARY deployment before and after: a new id is the new deployment. */
  deploymentBefore?: string;
  deploymentAfter?: string;
  desiredCountBefore: number;
  desiredCount: number;
  runningCount: number;
  azSpread: { before: AzSpreadReading; after: AzSpreadReading };
  /** Set when the spread after the restart is uneven (seed 003): what is uneven. */
  unevenSpread?: string;
  health?: HealthResult;
}

/** ecsDeploy in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const ecsDeployEntry = runbookEntry({
  type: 'ecsDeploy',
  slug: 'ecs-deploy',
  title: 'Deploy a new image or revision to an ECS service (through CodeDeploy for a CODE_DEPLOY service), wait, check',
  schema: ecsDeployInput,
  workflowId: ecsDeployWorkflowId,
});

/** ecsRestart in the catalogue (api/runbooks/index.ts): what its workflow runs under. */
export const ecsRestartEntry = runbookEntry({
  type: 'ecsRestart',
  slug: 'ecs-restart',
  title: 'Restart an ECS service (a new deployment, optionally new CPU/memory/environment) and show its AZ spread',
  schema: ecsRestartInput,
  workflowId: ecsRestartWorkflowId,
});
