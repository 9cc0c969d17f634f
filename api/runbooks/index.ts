// The catalogue: every runbook's workflow type, input schema, workflow-ID builder and example file.
import type { z } from 'zod';
import { auroraFailoverInput, auroraFailoverWorkflowId } from './aurora';
import { blueGreenInput, blueGreenWorkflowId } from './blue-green';
import { rdsRebootFailoverInput, rdsRebootFailoverWorkflowId } from './rds-reboot';
import {
  backupVerificationInput,
  backupVerificationWorkflowId,
  snapshotRestoreInput,
  snapshotRestoreWorkflowId,
} from './restore';
import { dnsFailoverInput, dnsFailoverWorkflowId } from './dns-failover';
import { ecsDeployInput, ecsDeployWorkflowId, ecsRestartInput, ecsRestartWorkflowId } from './ecs-deploy';
import { ecsRollbackInput, ecsRollbackWorkflowId } from './ecs-rollback';
import { triageInput, triageWorkflowId } from './triage';
import { emergencyScaleInput, emergencyScaleWorkflowId } from './emergency-scale';
import {
  regionalFailbackInput,
  regionalFailbackWorkflowId,
  regionalFailoverInput,
  regionalFailoverWorkflowId,
} from './regional-failover';

export interface RunbookEntry {
  /** Workflow type, e.g. `emergencyScale`. */
  type: string;
  /** Kebab-case name used for docs and example files. */
  slug: string;
  title: string;
  schema: z.ZodType;
  /** Deterministic workflow ID for the target resource: one open run per resource. */
  workflowId(input: never): string;
}

/** One runbook's entry with its types: what its workflow runs under (runRunbook takes it). */
export interface TypedRunbookEntry<S extends z.ZodType> extends RunbookEntry {
  schema: S;
  workflowId(input: z.output<S>): string;
}

const entry = <S extends z.ZodType>(e: TypedRunbookEntry<S>): TypedRunbookEntry<S> => e;

/** Every runbook by workflow type. */
export const RUNBOOK = {
  ecsRollback: entry({
    type: 'ecsRollback',
    slug: 'ecs-rollback',
    title: 'Roll an ECS service back to the previous task definition',
    schema: ecsRollbackInput,
    workflowId: ecsRollbackWorkflowId,
  }),
  emergencyScale: entry({
    type: 'emergencyScale',
    slug: 'emergency-scale',
    title: 'Emergency scale an ECS service (optionally scale back later)',
    schema: emergencyScaleInput,
    workflowId: emergencyScaleWorkflowId,
  }),
  dnsFailover: entry({
    type: 'dnsFailover',
    slug: 'dns-failover',
    title: 'Point a Route 53 record at another target, verify, restore on failure',
    schema: dnsFailoverInput,
    workflowId: dnsFailoverWorkflowId,
  }),
  regionalFailover: entry({
    type: 'regionalFailover',
    slug: 'regional-failover',
    title: 'Fail a database and its app over to the secondary region: promote the replica, repoint, scale, switch DNS',
    schema: regionalFailoverInput,
    workflowId: regionalFailoverWorkflowId,
  }),
  regionalFailback: entry({
    type: 'regionalFailback',
    slug: 'regional-failback',
    title: 'Reverse a completed regionalFailover, from what it recorded',
    schema: regionalFailbackInput,
    workflowId: regionalFailbackWorkflowId,
  }),
  blueGreenDeploy: entry({
    type: 'blueGreenDeploy',
    slug: 'blue-green',
    title: 'Deploy to green and shift traffic step by step, gated on alarms, metrics and health; blue on standby',
    schema: blueGreenInput,
    workflowId: blueGreenWorkflowId,
  }),
  snapshotRestore: entry({
    type: 'snapshotRestore',
    slug: 'snapshot-restore',
    title: 'Restore an RDS snapshot or point in time to a new instance, check its data, switch the app to it',
    schema: snapshotRestoreInput,
    workflowId: snapshotRestoreWorkflowId,
  }),
  backupVerification: entry({
    type: 'backupVerification',
    slug: 'backup-verification',
    title: 'Restore the newest backups to temporary instances, check their data and age, delete them',
    schema: backupVerificationInput,
    workflowId: backupVerificationWorkflowId,
  }),
  ecsDeploy: entry({
    type: 'ecsDeploy',
    slug: 'ecs-deploy',
    title:
      'Deploy a new image or revision to an ECS service (through CodeDeploy for a CODE_DEPLOY service), wait, check',
    schema: ecsDeployInput,
    workflowId: ecsDeployWorkflowId,
  }),
  ecsRestart: entry({
    type: 'ecsRestart',
    slug: 'ecs-restart',
    title: 'Restart an ECS service (a new deployment, optionally new CPU/memory/environment) and show its AZ spread',
    schema: ecsRestartInput,
    workflowId: ecsRestartWorkflowId,
  }),
  triage: entry({
    type: 'triage',
    slug: 'triage',
    title: 'Diagnose a service (deployments, stopped tasks, targets, alarms, logs, database, endpoint) — read only',
    schema: triageInput,
    workflowId: triageWorkflowId,
  }),
  auroraFailover: entry({
    type: 'auroraFailover',
    slug: 'aurora-failover',
    title: 'Fail an Aurora cluster over to a reader (by tier and lag), wait, verify the endpoint, report the RTO',
    schema: auroraFailoverInput,
    workflowId: auroraFailoverWorkflowId,
  }),
  rdsRebootFailover: entry({
    type: 'rdsRebootFailover',
    slug: 'rds-reboot-failover',
    title: 'Reboot a Multi-AZ RDS instance with a failover to its standby, wait, verify, report the AZs and the RTO',
    schema: rdsRebootFailoverInput,
    workflowId: rdsRebootFailoverWorkflowId,
  }),
};

export const RUNBOOKS: readonly RunbookEntry[] = Object.values(RUNBOOK) as RunbookEntry[];

export function findRunbook(name: string): RunbookEntry | undefined {
  return RUNBOOKS.find((r) => r.type === name || r.slug === name);
}
