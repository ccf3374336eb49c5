"""One root error, a family per area, and a stable code for every error.

Each error carries a ``code`` (stable across releases, shown in JSON output), an ``exit_code``
for the CLI and an ``http_status`` for the API. Messages are one line: which input, what is
wrong, what to do.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyExists",
    "CatalogError",
    "ConcurrentModification",
    "ConfigError",
    "EntityNotFound",
    "InvalidInput",
    "JavaNotAvailable",
    "SparkError",
    "SparkGlueError",
    "SparkGlueWarning",
    "StoreError",
    "WorkspaceError",
]


class SparkGlueWarning(UserWarning):
    """Root of the warnings sparkglue issues (the test suite turns them into errors)."""


class SparkGlueError(Exception):
    """Root of every error sparkglue raises on purpose."""

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(SparkGlueError):
    """A setting is missing, malformed or contradicts another."""

    code = "config_invalid"
    http_status = 400


class WorkspaceError(SparkGlueError):
    """The workspace folder is missing, not a workspace, or cannot be used."""

    code = "workspace_invalid"
    http_status = 400


class StoreError(SparkGlueError):
    """The metadata store cannot be opened, migrated or written."""

    code = "store_error"
    http_status = 503


class CatalogError(SparkGlueError):
    """Root of Data Catalog errors."""

    code = "catalog_error"


class EntityNotFound(CatalogError, KeyError):
    """A named database, table, version, partition or connection does not exist."""

    code = "not_found"
    http_status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class AlreadyExists(CatalogError):
    """Creating something whose name is taken."""

    code = "already_exists"
    http_status = 409


class InvalidInput(CatalogError, ValueError):
    """A name, type string, spec file or expression is malformed."""

    code = "invalid_input"
    http_status = 400


class ConcurrentModification(CatalogError):
    """Another writer changed the entity first (optimistic concurrency check failed)."""

    code = "concurrent_modification"
    http_status = 409


class SparkError(SparkGlueError):
    """Spark could not be started or a Spark query failed."""

    code = "spark_error"


class JavaNotAvailable(SparkError):
    """No Java runtime, or one older than Spark needs."""

    code = "java_not_available"
    http_status = 503
