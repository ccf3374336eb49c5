"""Spark sessions for every master kind, and catalog tables registered in them on demand."""

from __future__ import annotations

from sparkglue.spark.java import MIN_JAVA, require_java
from sparkglue.spark.registration import CatalogBinding, attach_catalog, spark_table_ddl
from sparkglue.spark.session import (
    build_session,
    calls_without_collector,
    check_prerequisites,
    is_connect,
    session_conf,
)

__all__ = [
    "MIN_JAVA",
    "CatalogBinding",
    "attach_catalog",
    "build_session",
    "calls_without_collector",
    "check_prerequisites",
    "is_connect",
    "require_java",
    "session_conf",
    "spark_table_ddl",
]
