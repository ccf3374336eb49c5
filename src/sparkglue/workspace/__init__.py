"""The ``Workspace`` facade that wires the services together, and the demo pipeline."""

from __future__ import annotations

from sparkglue.workspace.demo import DemoResult, run_demo
from sparkglue.workspace.workspace import LAKE_BUCKETS, Workspace

__all__ = ["LAKE_BUCKETS", "DemoResult", "Workspace", "run_demo"]
