"""moto's server, with the behaviours the runbooks rely on made to match AWS.

The activities are written for real AWS; where moto differs, the emulator is corrected here rather than the activity
weakened (see the project README, "The AWS emulator"). Each patch is small and says what AWS does.
"""

import sys
import types

from moto.ecs import models as ecs_models
from moto.rds import exceptions as rds_exceptions
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses

_promote_read_replica = rds_models.RDSBackend.promote_read_replica


def promote_read_replica(self, db_kwargs):
    """AWS: a promoted replica no longer reports ReadReplicaSourceDBInstanceIdentifier, and its former source no
    longer lists it among its replicas. moto keeps both."""
    database = self.databases[db_kwargs["db_instance_identifier"]]
    source_id = database.source_db_instance_identifier if database.is_replica else None
    result = _promote_read_replica(self, db_kwargs)
    if source_id:
        try:
            source = self.find_db_from_id(source_id)
            for ref in (database.db_instance_arn, database.db_instance_identifier):
                if ref in source.replicas:
                    source.replicas.remove(ref)
        except Exception:  # the source may be gone (that is often why one promotes)
            pass
        database.source_db_instance_identifier = None
    return result


rds_models.RDSBackend.promote_read_replica = promote_read_replica

_restore_to_point_in_time = rds_models.RDSBackend.restore_db_instance_to_point_in_time


def restore_db_instance_to_point_in_time(self, source_db_identifier, target_db_identifier, overrides):
    """AWS: an instance restored to a point in time is a standalone instance. moto copies every attribute of its
    source, including its replication state and replica list."""
    restored = _restore_to_point_in_time(self, source_db_identifier, target_db_identifier, overrides)
    restored.is_replica = False
    restored.source_db_instance_identifier = None
    restored.replicas = []
    return restored


rds_models.RDSBackend.restore_db_instance_to_point_in_time = restore_db_instance_to_point_in_time


def _standby_zone(database):
    """The zone of a Multi-AZ instance's standby: another zone of its region, chosen once and kept (a failover swaps
    it with the primary's)."""
    zone = database.__dict__.get("_standby_zone")
    if zone is None:
        zone = f"{database.region}b" if database.availability_zone != f"{database.region}b" else f"{database.region}a"
        database.__dict__["_standby_zone"] = zone
    return zone


def secondary_availability_zone(self):
    """AWS: a Multi-AZ instance reports where its standby runs (SecondaryAvailabilityZone); moto reports nothing."""
    return _standby_zone(self) if self.multi_az else None


rds_models.DBInstance.secondary_availability_zone = property(secondary_availability_zone)


def reboot_db_instance_response(self):
    """AWS: RebootDBInstance with ForceFailover on a Multi-AZ instance fails over to the standby, so the instance then
    serves from the standby's zone (AvailabilityZone and SecondaryAvailabilityZone swap); on a Single-AZ instance it
    is refused. moto ignores ForceFailover. (The reboot's own `rebooting` phase is the realistic layer's.)"""
    identifier = self.params.get("DBInstanceIdentifier")
    force = str(self.params.get("ForceFailover", "")).lower() == "true"
    database = self.backend.describe_db_instances(identifier)[0]
    if force:
        if not database.multi_az:
            raise rds_exceptions.RDSClientError(
                "InvalidParameterCombination",
                f"ForceFailover can only be used with a Multi-AZ DB instance; {identifier} is not Multi-AZ.",
            )
        standby = _standby_zone(database)
        database.__dict__["_standby_zone"] = database.availability_zone
        database.availability_zone = standby
    return rds_responses.ActionResult({"DBInstance": database})


rds_responses.RDSResponse.reboot_db_instance = reboot_db_instance_response


def describe_pending_maintenance_actions_response(self):
    """AWS: DescribePendingMaintenanceActions lists the maintenance pending on clusters and instances, an empty list
    when there is none (auroraFailover's preflight reads it). moto does not implement the call: answer the empty
    list AWS gives for resources with nothing pending."""
    from moto.core.responses import ActionResult

    return ActionResult({"PendingMaintenanceActions": []})


rds_responses.RDSResponse.describe_pending_maintenance_actions = describe_pending_maintenance_actions_response


# ---------- Aurora Global Database: FailoverGlobalCluster and SwitchoverGlobalCluster (regionalFailover) ----------
# moto keeps global clusters (CreateGlobalCluster, DescribeGlobalClusters, a secondary joining from another region with
# CreateDBCluster + GlobalClusterIdentifier) but implements neither call. AWS: both make the target secondary cluster
# the global cluster's writer and the old primary a secondary; SwitchoverGlobalCluster (planned, no data loss) needs
# the primary cluster available; FailoverGlobalCluster with AllowDataLoss=true does not (its region may be down), and
# without AllowDataLoss is a switchover. AWS answers at once with FailoverState `pending` and takes minutes; moto's
# answer is the end state (no FailoverState) — the realistic layer (scripts/realistic/global-cluster.ts) gives the
# phases.


def _global_failover_parts(self):
    global_id = self.params.get("GlobalClusterIdentifier") or ""
    target = self.params.get("TargetDbClusterIdentifier") or ""
    global_cluster = self.global_backend.global_clusters.get(global_id)
    if global_cluster is None:
        raise rds_exceptions.RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {global_id} not found.")
    member = next(
        (m for m in global_cluster.members if target in (m.db_cluster_arn, m.db_cluster_identifier)),
        None,
    )
    if member is None:
        raise rds_exceptions.RDSClientError(
            "DBClusterNotFoundFault",
            f"DBCluster {target} is not a member of the global cluster {global_cluster.global_cluster_identifier}.",
        )
    return global_cluster, member


def _move_global_writer(self, planned):
    global_cluster, target = _global_failover_parts(self)
    if target.is_writer:
        raise rds_exceptions.RDSClientError(
            "InvalidGlobalClusterStateFault",
            f"DBCluster {target.db_cluster_identifier} is already the primary cluster of "
            f"{global_cluster.global_cluster_identifier}.",
        )
    writer = next((m for m in global_cluster.members if m.is_writer), None)
    if planned and writer is not None and writer.status != "available":
        raise rds_exceptions.RDSClientError(
            "InvalidDBClusterStateFault",
            f"The primary cluster {writer.db_cluster_identifier} is {writer.status}: a switchover needs it available.",
        )
    for member in global_cluster.members:
        member.is_writer = member is target
    return rds_responses.ActionResult({"GlobalCluster": global_cluster})


def failover_global_cluster_response(self):
    """AWS: FailoverGlobalCluster — AllowDataLoss=true fails over (the primary may be down); without it (or with
    Switchover=true) it is a switchover. Both together are refused."""
    allow = str(self.params.get("AllowDataLoss", "")).lower() == "true"
    switchover = str(self.params.get("Switchover", "")).lower() == "true"
    if allow and switchover:
        raise rds_exceptions.RDSClientError(
            "InvalidParameterCombination", "AllowDataLoss and Switchover cannot be specified together."
        )
    return _move_global_writer(self, planned=not allow)


def switchover_global_cluster_response(self):
    """AWS: SwitchoverGlobalCluster — a planned move of the writer to a secondary, with no data loss."""
    return _move_global_writer(self, planned=True)


_create_global_cluster = rds_models.RDSBackend.create_global_cluster


def create_global_cluster(self, *args, **kwargs):
    """AWS: a global cluster created from an existing cluster (SourceDBClusterIdentifier) has that cluster as its
    primary (IsWriter true). moto adds it as a member but leaves it a non-writer, so no member was the writer."""
    global_cluster = _create_global_cluster(self, *args, **kwargs)
    if len(global_cluster.members) == 1:
        global_cluster.members[0].is_writer = True
    return global_cluster


rds_models.RDSBackend.create_global_cluster = create_global_cluster
rds_responses.RDSResponse.failover_global_cluster = failover_global_cluster_response
rds_responses.RDSResponse.switchover_global_cluster = switchover_global_cluster_response

# ---------- end of the Aurora Global Database section ----------

_calculate_task_resources = ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements


def calculate_task_resource_requirements(task_definition):
    """AWS: a Fargate task definition may set memory at the task level only; a container's memory is optional. moto
    adds up the containers' memory and fails (HTTP 500) in RunTask on a container without one: count it as 0."""
    containers = [
        c
        if any(c.get(k) is not None for k in ("memory", "memoryReservation", "Memory", "MemoryReservation"))
        else {**c, "memory": 0}
        for c in task_definition.container_definitions
    ]
    return _calculate_task_resources(types.SimpleNamespace(container_definitions=containers))


ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
    calculate_task_resource_requirements
)

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
