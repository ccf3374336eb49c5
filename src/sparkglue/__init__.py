"""sparkglue: a local-first Glue/EMR/DMS-style data and ML stack on real Apache Spark."""

from __future__ import annotations

__version__ = "0.1.0"

from sparkglue.config import Settings
from sparkglue.errors import SparkGlueError
from sparkglue.workspace import Workspace

__all__ = ["Settings", "SparkGlueError", "Workspace", "__version__"]
