"""Endpoint and task specs with DMS's field names.

A source endpoint is a PostgreSQL database. Its ``Url`` carries no password; the password is a
reference (``PasswordEnv``: an environment variable, or ``PasswordFile``: a file) that is read
when a connection opens and is never stored. A target endpoint is a lake folder with DMS's S3
settings (``DataFormat``, ``IncludeOpForFullLoad``, ``TimestampColumnName``, ``CdcPath``,
``DatePartitionEnabled``, ``CdcMaxBatchInterval``, ``CdcMinFileSize``, ``MaxFileSize``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sparkglue.catalog import spec_error_message
from sparkglue.errors import InvalidInput

__all__ = [
    "MIGRATION_TYPES",
    "TASK_STATES",
    "SourceEndpointSpec",
    "TargetEndpointSpec",
    "TaskSpec",
    "check_identifier",
    "endpoint_spec",
]

MIGRATION_TYPES = ("full-load", "cdc", "full-load-and-cdc")
TASK_STATES = ("Creating", "Ready", "Starting", "Running", "Stopping", "Stopped", "Failed")

# DMS identifiers: a letter first, then letters, digits and hyphens, no double or final hyphen.
_IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,254}$")


def check_identifier(value: str, what: str) -> str:
    """A DMS identifier (a letter, then letters, digits and single hyphens)."""
    if not _IDENTIFIER.match(value):
        raise InvalidInput(
            f"{what} '{value}' is not a valid identifier; start with a letter and use letters, "
            "digits and single hyphens (at most 255 characters)"
        )
    return value


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceEndpointSpec(_Spec):
    """A PostgreSQL source: ``Url`` like ``postgresql://user@host:5432/db``."""

    EndpointIdentifier: str
    EndpointType: Literal["source"] = "source"
    EngineName: Literal["postgres"] = "postgres"
    Url: str
    PasswordEnv: str | None = None
    PasswordFile: str | None = None

    @field_validator("EndpointIdentifier")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "endpoint")

    @field_validator("Url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError(
                f"'{value}' is not a PostgreSQL URL; use postgresql://USER@HOST:PORT/DATABASE"
            )
        if parts.password is not None:
            raise ValueError(
                "the URL holds a password, which would be stored in plain text; remove it and "
                "give --password-env VAR or --password-file FILE"
            )
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError(
                f"'{value}' lacks a host or a database; use postgresql://USER@HOST:PORT/DATABASE"
            )
        return value

    def password(self) -> str | None:
        """The password, read now from its reference (never stored)."""
        if self.PasswordEnv:
            value = os.environ.get(self.PasswordEnv)
            if value is None:
                raise InvalidInput(
                    f"endpoint {self.EndpointIdentifier}: environment variable "
                    f"{self.PasswordEnv} (its password) is not set; set it and run again"
                )
            return value
        if self.PasswordFile:
            path = Path(self.PasswordFile).expanduser()
            try:
                return path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise InvalidInput(
                    f"endpoint {self.EndpointIdentifier}: cannot read password file {path} "
                    f"({exc.strerror}); fix the file or the endpoint's PasswordFile"
                ) from None
        return None

    def conninfo(self) -> str:
        """A libpq connection string with the password filled in."""
        parts = urlsplit(self.Url)
        fields = {
            "host": parts.hostname,
            "port": str(parts.port or 5432),
            "dbname": parts.path.strip("/"),
            "user": parts.username or "",
            "password": self.password() or "",
            "application_name": "sparkglue-replication",
        }
        return " ".join(
            f"{k}='{v.replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"
            for k, v in fields.items()
            if v
        )


class TargetEndpointSpec(_Spec):
    """A lake folder written as DMS writes S3 (``Path`` relative to the lake, or absolute)."""

    EndpointIdentifier: str
    EndpointType: Literal["target"] = "target"
    EngineName: Literal["lake", "s3"] = "lake"
    Path: str
    DataFormat: Literal["csv", "parquet"] = "csv"
    IncludeOpForFullLoad: bool = False
    TimestampColumnName: str | None = None
    CdcPath: str | None = None
    DatePartitionEnabled: bool = False
    CdcMaxBatchInterval: float = Field(default=60, gt=0, le=3600)  # seconds
    CdcMinFileSize: int = Field(default=32000, ge=1)  # kilobytes
    MaxFileSize: int = Field(default=1048576, ge=1)  # kilobytes, for full-load files

    @field_validator("EndpointIdentifier")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "endpoint")

    @field_validator("CdcPath")
    @classmethod
    def _cdc_path(cls, value: str | None) -> str | None:
        if value is not None and (
            not value.strip("/") or value.startswith(("/", "_", ".")) or ".." in value
        ):
            raise ValueError(
                f"CdcPath '{value}' must be a relative folder inside the target, not starting "
                "with / _ or ."
            )
        return value.strip("/") if value else value


class TaskSpec(_Spec):
    """A replication task: what to move (TableMappings) from where to where, and how."""

    ReplicationTaskIdentifier: str
    SourceEndpoint: str
    TargetEndpoint: str
    MigrationType: Literal["full-load", "cdc", "full-load-and-cdc"] = "full-load-and-cdc"
    TableMappings: dict[str, Any]

    @field_validator("ReplicationTaskIdentifier")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_identifier(value, "replication task")


def endpoint_spec(data: dict[str, Any]) -> SourceEndpointSpec | TargetEndpointSpec:
    """A source or target spec from its fields, by ``EndpointType``."""
    from pydantic import ValidationError

    kind = data.get("EndpointType")
    model: type[SourceEndpointSpec] | type[TargetEndpointSpec]
    if kind == "source":
        model = SourceEndpointSpec
    elif kind == "target":
        model = TargetEndpointSpec
    else:
        raise InvalidInput(f"endpoint type '{kind}' is unknown; use source or target")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = f"endpoint {data.get('EndpointIdentifier', '?')}"
        raise InvalidInput(spec_error_message(where, exc)) from None
