// The ECS service a runbook acts on.
import { z } from 'zod';
import { awsRegion } from '../common';
import { ecsServiceKey, shortName } from '../resource-names';

/** An ECS cluster or service, by name or ARN. */
export const ecsName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_\-:/.]+$/, { message: 'expected an ECS name or ARN' });

export const ecsServiceRef = {
  region: awsRegion.describe('Region of the ECS cluster'),
  cluster: ecsName.describe('ECS cluster name or ARN'),
  service: ecsName.describe('ECS service name or ARN'),
};

export { ecsServiceKey, shortName };

/**
 * AWS refuses a task-definition change or a forced new deployment through UpdateService for a service whose deployment
 * controller is CODE_DEPLOY or EXTERNAL (a desired-count change stays allowed). The refusal a runbook gives in its
 * preflight, before it changes anything, for such a service — or undefined for an ECS-controlled one (and for a
 * recorded state from before the controller was recorded).
 */
export function deploymentControllerRefusal(o: {
  /** How the runbook calls the service: "service", "green service", "secondary service" … */
  label: string;
  ref: { region: string; cluster: string; service: string };
  deploymentController?: string | undefined;
  /** What the runbook would do to it: "roll it back to api:6", "force a new deployment of it" … */
  action: string;
}): string | undefined {
  const type = o.deploymentController;
  if (!type || type === 'ECS') return undefined;
  const how =
    type === 'CODE_DEPLOY'
      ? 'deploy it through CodeDeploy (aws deploy create-deployment --application-name … --deployment-group-name …)'
      : `deploy it through its task sets (aws ecs create-task-set --cluster ${shortName(o.ref.cluster)} --service ${shortName(o.ref.service)} …)`;
  return (
    `${o.label} ${shortName(o.ref.service)} (${ecsServiceKey(o.ref)}) uses the ${type} deployment controller, and AWS ` +
    `refuses a task-definition change or a forced deployment through UpdateService for such a service: this runbook ` +
    `would ${o.action}. To change it, ${how}, or run this runbook on an ECS-controlled service`
  );
}
