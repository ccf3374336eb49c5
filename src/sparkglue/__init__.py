"""sparkglue: a local-first Glue/EMR/DMS-style data and ML stack on real Apache Spark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from sparkglue.config import Settings
from sparkglue.errors import SparkGlueError

if TYPE_CHECKING:
    from sparkglue.workspace import Workspace

__all__ = ["Settings", "SparkGlueError", "Workspace", "__version__"]


def __getattr__(name: str) -> Any:
    # The workspace pulls in every service; a job script importing sparkglue.jobs.runtime
    # should not pay for them at start-up.
    if name == "Workspace":
        from sparkglue.workspace import Workspace

        return Workspace
    raise AttributeError(f"module 'sparkglue' has no attribute {name!r}")
