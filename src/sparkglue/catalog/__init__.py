"""The Data Catalog (Glue's model): databases, tables, versions, partitions, connections."""

from __future__ import annotations

from sparkglue.catalog.diff import Change, TableDiff
from sparkglue.catalog.expressions import PartitionFilter, compile_filter
from sparkglue.catalog.models import (
    Column,
    Connection,
    ConnectionInput,
    Database,
    DatabaseInput,
    Partition,
    PartitionInput,
    Table,
    TableInput,
    TableSpec,
    TableVersion,
)
from sparkglue.catalog.service import DataCatalog, canonical_partition_value, split_table_name
from sparkglue.catalog.specs import (
    load_spec,
    load_spec_file,
    load_table_spec,
    parse_table_spec,
    spec_error_message,
)
from sparkglue.catalog.types import HiveType, normalize_type, parse_type

__all__ = [
    "Change",
    "Column",
    "Connection",
    "ConnectionInput",
    "DataCatalog",
    "Database",
    "DatabaseInput",
    "HiveType",
    "Partition",
    "PartitionFilter",
    "PartitionInput",
    "Table",
    "TableDiff",
    "TableInput",
    "TableSpec",
    "TableVersion",
    "canonical_partition_value",
    "compile_filter",
    "load_spec",
    "load_spec_file",
    "load_table_spec",
    "normalize_type",
    "parse_table_spec",
    "parse_type",
    "spec_error_message",
    "split_table_name",
]
