// The ECS service a runbook acts on.
import { z } from 'zod';
import { awsRegion } from '../common';

const ecsName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_\-:/.]+$/, { message: 'expected an ECS name or ARN' });

export const ecsServiceRef = {
  region: awsRegion.describe('Region of the ECS cluster'),
  cluster: ecsName.describe('ECS cluster name or ARN'),
  service: ecsName.describe('ECS service name or ARN'),
};

/** Last segment of a name-or-ARN, so `arn:…:service/c/api` and `api` name the same resource. */
export function shortName(nameOrArn: string): string {
  return nameOrArn.split('/').pop() ?? nameOrArn;
}

export function ecsServiceKey(ref: { region: string; cluster: string; service: string }): string {
  return `${ref.region}/${shortName(ref.cluster)}/${shortName(ref.service)}`;
}
