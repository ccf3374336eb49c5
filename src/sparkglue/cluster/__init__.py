"""EMR-style clusters: a local Spark standalone cluster launched from the PySpark distribution
(master, workers, optional Spark Connect and history servers), attached existing clusters,
bootstrap actions, configurations and steps."""

from __future__ import annotations

from sparkglue.cluster.service import (
    Cluster,
    ClusterNotReady,
    ClusterService,
    ClusterTarget,
    Step,
)
from sparkglue.cluster.specs import (
    ACTIONS_ON_FAILURE,
    CLUSTER_STATES,
    STEP_STATES,
    BootstrapAction,
    ClusterSpec,
    Configuration,
    StepSpec,
    parse_configurations,
)

__all__ = [
    "ACTIONS_ON_FAILURE",
    "CLUSTER_STATES",
    "STEP_STATES",
    "BootstrapAction",
    "Cluster",
    "ClusterNotReady",
    "ClusterService",
    "ClusterSpec",
    "ClusterTarget",
    "Configuration",
    "Step",
    "StepSpec",
    "parse_configurations",
]
