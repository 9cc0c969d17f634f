"""moto's server, with the behaviours the runbooks rely on made to match AWS.

The activities are written for real AWS; where moto differs, the emulator is corrected here rather than the activity
weakened (see the project README, "The AWS emulator"). Each patch is small and says what AWS does.
"""

import sys
import types

from moto.ecs import models as ecs_models
from moto.rds import models as rds_models

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
