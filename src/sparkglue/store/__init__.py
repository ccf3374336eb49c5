"""The metadata store: SQLAlchemy tables, connections and transactions, schema migrations."""

from __future__ import annotations

from sparkglue.store.engine import MetadataStore, utc_now
from sparkglue.store.migrations import LATEST_VERSION
from sparkglue.store.schema import metadata

__all__ = ["LATEST_VERSION", "MetadataStore", "metadata", "utc_now"]
