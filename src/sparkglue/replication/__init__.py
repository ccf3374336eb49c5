"""DMS-style replication from PostgreSQL into the lake: endpoints, tasks, table mappings, a
snapshot-consistent full load and change data capture committed exactly once."""

from __future__ import annotations

from sparkglue.replication.lake import Batch, TaskLake
from sparkglue.replication.mappings import TableMappings
from sparkglue.replication.service import ReplicationService, TableStats, TaskStatus
from sparkglue.replication.specs import SourceEndpointSpec, TargetEndpointSpec, TaskSpec

__all__ = [
    "Batch",
    "ReplicationService",
    "SourceEndpointSpec",
    "TableMappings",
    "TableStats",
    "TargetEndpointSpec",
    "TaskLake",
    "TaskSpec",
    "TaskStatus",
]
