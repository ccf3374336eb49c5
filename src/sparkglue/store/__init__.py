"""The metadata store: SQLAlchemy tables, connections and transactions, schema migrations."""

from __future__ import annotations

from sparkglue.store.engine import MetadataStore, parse_stamp, stamp, utc_now
from sparkglue.store.migrations import LATEST_VERSION
from sparkglue.store.records import (
    failure_line,
    new_record_id,
    orphaned,
    process_alive,
    spawn_worker,
)
from sparkglue.store.schema import metadata

__all__ = [
    "LATEST_VERSION",
    "MetadataStore",
    "failure_line",
    "metadata",
    "new_record_id",
    "orphaned",
    "parse_stamp",
    "process_alive",
    "spawn_worker",
    "stamp",
    "utc_now",
]
