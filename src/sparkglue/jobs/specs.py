"""Job specs with Glue's field names (``Command``, ``DefaultArguments``, ``MaxRetries``, …).

A spec file for ``sparkglue job create --spec FILE`` is the body of Glue's CreateJob (``Role``,
``GlueVersion``, ``Connections`` and ``Tags`` are accepted and ignored). ``SparkMaster`` and
``Cluster`` are sparkglue's own: the master, or the cluster (``sparkglue cluster``), this job runs
against instead of the workspace's.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sparkglue.catalog.models import check_name

__all__ = [
    "BOOKMARK_OPTIONS",
    "FINAL_STATES",
    "WORKER_TYPES",
    "CommandSpec",
    "ExecutionPropertySpec",
    "GeneratedSpec",
    "JobSpec",
    "JoinSpec",
    "resolve_arguments",
    "worker_conf",
]

BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")
FINAL_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")

# Glue's worker types: (vCPUs, memory GB) per worker.
WORKER_TYPES: dict[str, tuple[int, int]] = {
    "G.025X": (2, 4),
    "Standard": (4, 16),
    "G.1X": (4, 16),
    "G.2X": (8, 32),
    "G.4X": (16, 64),
    "G.8X": (32, 128),
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandSpec(_Spec):
    """``glueetl`` runs a PySpark script with spark-submit; ``pythonshell`` plain Python."""

    Name: Literal["glueetl", "pythonshell"] = "glueetl"
    ScriptLocation: str
    PythonVersion: str = "3"


class ExecutionPropertySpec(_Spec):
    MaxConcurrentRuns: int = Field(default=1, ge=1, le=1000)


class JoinSpec(_Spec):
    """Join the source with a second catalog table on equal columns."""

    Table: str  # db.table
    On: list[str] = Field(min_length=1)
    How: Literal["inner", "left", "right", "full", "left_semi", "left_anti"] = "inner"

    @field_validator("Table")
    @classmethod
    def _table(cls, value: str) -> str:
        check_database_table(value)
        return value


class GeneratedSpec(_Spec):
    """What a generated script does (sparkglue's own; Glue keeps this in its visual editor)."""

    Source: str  # db.table
    Target: str  # db.table
    Path: str | None = None  # the target folder; default: the lake's DATABASE/TABLE
    Format: Literal["parquet", "orc", "csv", "json", "avro"] = "parquet"
    PartitionBy: list[str] = Field(default_factory=list)
    Mappings: list[str] = Field(min_length=1)
    Filter: str | None = None
    Sql: str | None = None
    Join: JoinSpec | None = None
    DropNullFields: bool = False
    Dedupe: bool = False
    WriteMode: Literal["append", "overwrite"] = "append"

    @field_validator("Source", "Target")
    @classmethod
    def _tables(cls, value: str) -> str:
        check_database_table(value)
        return value


class JobSpec(_Spec):
    """A job definition (Glue's CreateJob fields)."""

    Name: str
    Description: str = ""
    Command: CommandSpec
    DefaultArguments: dict[str, str] = Field(default_factory=dict)
    NonOverridableArguments: dict[str, str] = Field(default_factory=dict)
    MaxRetries: int = Field(default=0, ge=0, le=10)
    Timeout: int = Field(default=480, ge=1, description="minutes")
    ExecutionProperty: ExecutionPropertySpec = Field(
        default_factory=lambda: ExecutionPropertySpec()
    )
    WorkerType: str | None = None
    NumberOfWorkers: int | None = Field(default=None, ge=1)
    SparkMaster: str | None = None
    Cluster: str | None = None
    Generated: GeneratedSpec | None = None
    GlueVersion: str | None = None
    Role: str | None = None
    Connections: dict[str, Any] | None = None
    Tags: dict[str, str] | None = None

    @field_validator("Name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}", value):
            raise ValueError(f"job name '{value}' must be 1-255 letters, digits, '_', '-' or '.'")
        return value

    @field_validator("WorkerType")
    @classmethod
    def _worker(cls, value: str | None) -> str | None:
        if value is not None and value not in WORKER_TYPES:
            raise ValueError(f"WorkerType '{value}' is not one of {', '.join(WORKER_TYPES)}")
        return value

    @field_validator("DefaultArguments", "NonOverridableArguments")
    @classmethod
    def _arguments(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            check_argument(key, value[key])
        return value


def check_argument(key: str, value: str) -> None:
    """A job argument: ``--name`` (Glue's form); the bookmark option takes Glue's values."""
    if not re.fullmatch(r"--[A-Za-z0-9_][A-Za-z0-9_.-]*", key):
        raise ValueError(f"job argument '{key}' must look like --name (letters, digits, _ . -)")
    if key == "--job-bookmark-option" and value not in BOOKMARK_OPTIONS:
        raise ValueError(
            f"--job-bookmark-option '{value}' is not one of {', '.join(BOOKMARK_OPTIONS)}"
        )


def resolve_arguments(spec: JobSpec, run_arguments: dict[str, str]) -> dict[str, str]:
    """Glue's precedence: non-overridable > run arguments > default arguments."""
    for key, value in run_arguments.items():
        check_argument(key, value)
    return {**spec.DefaultArguments, **run_arguments, **spec.NonOverridableArguments}


def worker_conf(spec: JobSpec) -> dict[str, str]:
    """Spark executor settings for the worker type and count (one worker is the driver, as in
    Glue). Empty when no worker type is set."""
    if spec.WorkerType is None:
        return {}
    cores, memory_gb = WORKER_TYPES[spec.WorkerType]
    conf = {
        "spark.executor.cores": str(cores),
        # The rest of a worker's memory is left to the executor's overhead and the OS.
        "spark.executor.memory": f"{max(1, int(memory_gb * 0.7))}g",
        "spark.driver.memory": f"{max(1, int(memory_gb * 0.7))}g",
    }
    if spec.NumberOfWorkers is not None:
        conf["spark.executor.instances"] = str(max(1, spec.NumberOfWorkers - 1))
    return conf


def check_database_table(text: str) -> tuple[str, str]:
    """``db.table`` → (db, table), both valid catalog names."""
    if text.count(".") != 1:
        raise ValueError(f"'{text}' is not DATABASE.TABLE")
    db, table = text.split(".")
    return check_name("database", db), check_name("table", table)
