// Application Auto Scaling around an ECS service's desired count: read the scalable target's range, and set it.
// An emergency count outside (or at the edge of) that range is undone by the next scaling activity, so
// emergencyScale holds the range around the count it sets, and puts the recorded range back.
import {
  DescribeScalableTargetsCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling';
import type { AwsClients } from './aws-clients';
import type { ServiceRef } from './ecs';
import { abortSignal } from './poll';

export interface ScalableRange {
  /** `service/<cluster>/<service>`: how Application Auto Scaling names an ECS service. */
  resourceId: string;
  min: number;
  max: number;
}

/** The resource id of a service; the cluster and service may be given as ARNs. */
export const scalableResourceId = (ref: ServiceRef) =>
  `service/${ref.cluster.split('/').pop()}/${ref.service.split('/').pop()}`;

const DIMENSION = 'ecs:service:DesiredCount';

export function createAutoScalingActivities(aws: AwsClients) {
  return {
    /** The service's scalable target, or null when Application Auto Scaling does not manage its count. */
    async describeScalableTarget(ref: ServiceRef): Promise<ScalableRange | null> {
      const resourceId = scalableResourceId(ref);
      const out = await aws.autoscaling(ref.region).send(
        new DescribeScalableTargetsCommand({
          ServiceNamespace: 'ecs',
          ResourceIds: [resourceId],
          ScalableDimension: DIMENSION,
        }),
        { abortSignal: abortSignal() },
      );
      const target = out.ScalableTargets?.find((t) => t.ResourceId === resourceId);
      if (!target) return null;
      return { resourceId, min: target.MinCapacity ?? 0, max: target.MaxCapacity ?? 0 };
    },

    /**
     * Set the range of an existing scalable target (RegisterScalableTarget on an existing target updates only the
     * values given; idempotent).
     */
    async setScalableRange(input: ServiceRef & { min: number; max: number }): Promise<ScalableRange> {
      const resourceId = scalableResourceId(input);
      await aws.autoscaling(input.region).send(
        new RegisterScalableTargetCommand({
          ServiceNamespace: 'ecs',
          ResourceId: resourceId,
          ScalableDimension: DIMENSION,
          MinCapacity: input.min,
          MaxCapacity: input.max,
        }),
        { abortSignal: abortSignal() },
      );
      return { resourceId, min: input.min, max: input.max };
    },
  };
}
