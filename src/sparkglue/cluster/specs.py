"""Cluster and step specs with EMR's names, and EMR configuration classifications.

A local cluster is a Spark standalone master and ``Workers`` worker processes on this machine.
``Configurations`` are EMR's ``[{"Classification": ..., "Properties": {...},
"Configurations": [...]}]``; the classifications Spark reads are supported:

- ``spark-defaults``: Spark properties for every application on the cluster (steps, jobs,
  the Spark Connect server), written to the cluster's ``spark-defaults.conf``;
- ``spark-env``: environment variables of the Spark processes, as EMR gives them: nested
  ``{"Classification": "export", "Properties": {"NAME": "value"}}``;
- ``spark-log4j2`` (and the older name ``spark-log4j``): log4j2 properties of every Spark process.

Any other classification is refused by name rather than ignored.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sparkglue.catalog import spec_error_message
from sparkglue.errors import InvalidInput

__all__ = [
    "ACTIONS_ON_FAILURE",
    "CLUSTER_STATES",
    "STEP_STATES",
    "BootstrapAction",
    "ClusterSpec",
    "Configuration",
    "StepSpec",
    "parse_configurations",
    "render_configurations",
]

CLUSTER_STATES = (
    "STARTING",
    "BOOTSTRAPPING",
    "RUNNING",
    "WAITING",
    "TERMINATING",
    "TERMINATED",
    "TERMINATED_WITH_ERRORS",
)
ACTIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING")
ENDED_CLUSTER_STATES = ("TERMINATED", "TERMINATED_WITH_ERRORS")
STEP_STATES = (
    "PENDING",
    "CANCEL_PENDING",
    "RUNNING",
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "INTERRUPTED",
)
ENDED_STEP_STATES = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")
ACTIONS_ON_FAILURE = ("CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER")
CLASSIFICATIONS = ("spark-defaults", "spark-env", "spark-log4j", "spark-log4j2")
MAX_IDLE_TIMEOUT = 604_800  # EMR's AutoTerminationPolicy allows at most seven days

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_MEMORY = re.compile(r"[1-9][0-9]*[mMgG]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Configuration(BaseModel):
    """One EMR configuration object."""

    model_config = ConfigDict(extra="forbid")
    Classification: str
    Properties: dict[str, str] = Field(default_factory=dict)
    Configurations: list[Configuration] = Field(default_factory=list)

    @field_validator("Properties", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(k): (json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in value.items()
            }
        return value


class BootstrapAction(BaseModel):
    """EMR's ``ScriptBootstrapAction``: a script run before the Spark processes start."""

    model_config = ConfigDict(extra="forbid")
    Name: str
    Path: str
    Args: list[str] = Field(default_factory=list)


class ClusterSpec(BaseModel):
    """What ``cluster create`` launches.

    ``IdleTimeout`` is EMR's ``AutoTerminationPolicy.IdleTimeout`` in seconds; EMR's lower
    bound of 60 s is not enforced, since a local cluster is cheap to start again.
    ``ConnectCores`` is the share of the cluster's cores the Spark Connect server holds (half
    by default), so that steps and jobs submitted next to it still get executors.
    """

    model_config = ConfigDict(extra="forbid")
    Name: str
    Workers: int = Field(default=2, ge=1, le=64)
    WorkerCores: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1, le=256)
    WorkerMemory: str = "2g"
    Configurations: list[Configuration] = Field(default_factory=list)
    BootstrapActions: list[BootstrapAction] = Field(default_factory=list)
    IdleTimeout: int | None = Field(default=None, ge=1, le=MAX_IDLE_TIMEOUT)
    Connect: bool = False
    ConnectCores: int | None = Field(default=None, ge=1)
    HistoryServer: bool = False
    StepConcurrencyLevel: int = Field(default=1, ge=1, le=256)
    Host: str = "127.0.0.1"

    @field_validator("Name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"'{value}' is not a valid cluster name (letters, digits, '_', '.', '-'; at "
                "most 63 characters, starting with a letter or digit)"
            )
        return value

    @field_validator("WorkerMemory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.fullmatch(value):
            raise ValueError(f"'{value}' is not a memory size such as 512m or 2g")
        return value.lower()

    @field_validator("Configurations")
    @classmethod
    def _configurations(cls, value: list[Configuration]) -> list[Configuration]:
        check_configurations(value)
        return value

    @property
    def total_cores(self) -> int:
        return self.Workers * self.WorkerCores

    @property
    def connect_cores(self) -> int:
        """Cores the Spark Connect server may hold: ``ConnectCores``, else half the cluster's."""
        if self.ConnectCores is not None:
            return min(self.ConnectCores, self.total_cores)
        return max(1, self.total_cores // 2)


class StepSpec(BaseModel):
    """EMR's ``StepConfig`` for a PySpark script (``spark-submit`` on the cluster's master)."""

    model_config = ConfigDict(extra="forbid")
    Name: str = Field(min_length=1, max_length=256)
    Script: str
    Args: list[str] = Field(default_factory=list)
    ActionOnFailure: Literal["CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER"] = "CONTINUE"


def check_configurations(configurations: list[Configuration]) -> None:
    """Refuse classifications sparkglue cannot apply, and malformed ``spark-env`` exports."""
    for item in configurations:
        if item.Classification not in CLASSIFICATIONS:
            raise ValueError(
                f"classification '{item.Classification}' is not supported; use one of "
                f"{', '.join(CLASSIFICATIONS)}"
            )
        if item.Classification == "spark-env":
            for nested in item.Configurations:
                if nested.Classification != "export":
                    raise ValueError(
                        f"spark-env holds 'export' configurations, not '{nested.Classification}'"
                    )
                for key in nested.Properties:
                    if not _ENV_NAME.fullmatch(key):
                        raise ValueError(f"spark-env export '{key}' is not a variable name")
            if item.Properties:
                raise ValueError(
                    "spark-env takes its variables in a nested 'export' configuration, "
                    'e.g. {"Classification": "export", "Properties": {"NAME": "value"}}'
                )
        elif item.Configurations:
            raise ValueError(f"{item.Classification} takes no nested configurations")
        if item.Classification == "spark-defaults":
            for key in item.Properties:
                if key in ("spark.master", "spark.submit.deployMode"):
                    raise ValueError(
                        f"spark-defaults cannot set '{key}': the cluster decides where "
                        "applications run"
                    )


def parse_configurations(path: str | Path) -> list[Configuration]:
    """Read an EMR configurations file (a JSON list); one-line errors name the file."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(
            f"configurations file {file} cannot be read: {exc.strerror or exc}"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"configurations file {file} is not valid JSON ({exc.msg} at line {exc.lineno}); "
            'it holds a list such as [{"Classification": "spark-defaults", "Properties": {}}]'
        ) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InvalidInput(f"configurations file {file} must hold a JSON list of configurations")
    try:
        items = [Configuration.model_validate(item) for item in data]
        check_configurations(items)
    except ValidationError as exc:
        raise InvalidInput(spec_error_message(f"configurations file {file}", exc)) from None
    except ValueError as exc:
        raise InvalidInput(f"configurations file {file}: {exc}") from None
    return items


def render_configurations(
    configurations: list[Configuration],
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(spark-defaults properties, spark-env variables, log4j2 properties), later objects
    overriding earlier ones."""
    defaults: dict[str, str] = {}
    env: dict[str, str] = {}
    log4j: dict[str, str] = {}
    for item in configurations:
        if item.Classification == "spark-defaults":
            defaults.update(item.Properties)
        elif item.Classification == "spark-env":
            for nested in item.Configurations:
                env.update(nested.Properties)
        else:
            log4j.update(item.Properties)
    return defaults, env, log4j
