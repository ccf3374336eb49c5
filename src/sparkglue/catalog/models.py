"""Data Catalog records and the inputs that create them (Glue's model, snake_case names).

Inputs are pydantic models with ``extra="forbid"``: a spec file with a misspelt key is an error
that names the key. Records (what the catalog returns) add identity and timestamps.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sparkglue.catalog.types import normalize_type, parse_type

__all__ = [
    "Column",
    "Connection",
    "ConnectionInput",
    "Database",
    "DatabaseInput",
    "Partition",
    "PartitionInput",
    "Table",
    "TableInput",
    "TableSpec",
    "TableVersion",
    "format_for_classification",
]

_NAME = re.compile(r"[a-z0-9_]{1,255}")  # what Spark accepts as a database or table name
TableType = Literal["EXTERNAL_TABLE", "MANAGED_TABLE", "VIRTUAL_VIEW"]

# InputFormat, OutputFormat and SerDe as Glue records them for each classification.
_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_FORMATS: dict[str, tuple[str, str, str]] = {
    "csv": (_TEXT_IN, _TEXT_OUT, "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"),
    "json": (_TEXT_IN, _TEXT_OUT, "org.openx.data.jsonserde.JsonSerDe"),
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    ),
    "orc": (
        "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
        "org.apache.hadoop.hive.ql.io.orc.OrcSerde",
    ),
    "avro": (
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat",
        "org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat",
        "org.apache.hadoop.hive.serde2.avro.AvroSerDe",
    ),
}


def format_for_classification(classification: str | None) -> tuple[str, str, str] | None:
    """Glue's (InputFormat, OutputFormat, SerDe) for a classification, if it is a known one."""
    return _FORMATS.get((classification or "").lower())


def check_name(kind: str, value: str) -> str:
    """Lower-case a database or table name and check it (Glue lower-cases names too)."""
    name = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"{kind} name '{value}' is not valid: use 1-255 lower-case letters, digits or '_'"
        )
    return name


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Input):
    """A column: a name, a Hive type string, an optional comment."""

    name: str
    type: str
    comment: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or len(value) > 255 or any(c in value for c in "`\n\r\0"):
            raise ValueError(
                f"column name '{value}' is not valid: 1-255 characters, no backquote or newline"
            )
        return value

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return normalize_type(value)


class DatabaseInput(_Input):
    """What creates or updates a database."""

    name: str
    description: str | None = None
    location_uri: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name("database", value)


class Database(DatabaseInput):
    """A database of the catalog."""

    created_at: str


class TableInput(_Input):
    """What creates or updates a table (Glue's TableInput with its StorageDescriptor inlined).

    ``parameters`` carries Glue's table parameters: ``classification``, ``recordCount``,
    ``sizeKey``, ``objectCount``, ``compressionType``, ``averageRecordSize``,
    ``UPDATED_BY_CRAWLER``, ``skip.header.line.count`` …. ``input_format``, ``output_format``
    and ``serde_library`` default to Glue's values for the classification.
    """

    name: str
    description: str | None = None
    columns: list[Column]
    partition_keys: list[Column] = Field(default_factory=list)
    location: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    serde_library: str | None = None
    serde_parameters: dict[str, str] = Field(default_factory=dict)
    compressed: bool = False
    table_type: TableType = "EXTERNAL_TABLE"
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name("table", value)

    @model_validator(mode="after")
    def _check(self) -> TableInput:
        seen: set[str] = set()
        for col in [*self.columns, *self.partition_keys]:
            key = col.name.lower()
            if key in seen:
                raise ValueError(f"column '{col.name}' appears twice (names are case-insensitive)")
            seen.add(key)
        for part_key in self.partition_keys:
            if not parse_type(part_key.type).is_primitive:
                raise ValueError(
                    f"partition key '{part_key.name}' must have a primitive type, not "
                    f"{part_key.type}"
                )
        if not self.columns and self.table_type != "VIRTUAL_VIEW":
            raise ValueError("a table needs at least one column")
        known = format_for_classification(self.classification)
        if known is not None:
            updates: dict[str, Any] = {}
            if self.input_format is None:
                updates["input_format"] = known[0]
            if self.output_format is None:
                updates["output_format"] = known[1]
            if self.serde_library is None:
                updates["serde_library"] = known[2]
            for field, value in updates.items():
                object.__setattr__(self, field, value)
        return self

    @property
    def classification(self) -> str | None:
        return self.parameters.get("classification")

    def definition(self) -> dict[str, Any]:
        """The versioned part of a table, as stored in each table version."""
        return self.model_dump(mode="json")


class TableSpec(TableInput):
    """A table spec file: a TableInput plus its database, a ``classification`` shorthand, and
    optional partitions to register with it."""

    database: str
    classification_: str | None = Field(default=None, alias="classification")
    partitions: list[PartitionInput] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_name("database", value)

    @model_validator(mode="before")
    @classmethod
    def _classification_into_parameters(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("classification") is not None:
            data = dict(data)
            params = dict(data.get("parameters") or {})
            params.setdefault("classification", str(data["classification"]).lower())
            data["parameters"] = params
        return data

    def table_input(self) -> TableInput:
        data = self.model_dump(exclude={"database", "classification_", "partitions"})
        return TableInput.model_validate(data)


class Table(TableInput):
    """A table of the catalog at one version."""

    database: str
    version: int
    deprecated: bool = False
    created_at: str
    updated_at: str

    @property
    def full_name(self) -> str:
        return f"{self.database}.{self.name}"

    def to_input(self) -> TableInput:
        """This table as an input, to change and pass to ``update_table``."""
        return TableInput.model_validate(self.definition_of_record())

    def definition_of_record(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json", exclude={"database", "version", "deprecated", "created_at", "updated_at"}
        )


class TableVersion(BaseModel):
    """One stored version of a table."""

    database: str
    table: str
    version: int
    created_at: str
    table_input: TableInput


class PartitionInput(_Input):
    """A partition: one value per partition key (``None`` for a null), a location, parameters."""

    values: list[str | None]
    location: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [v if v is None or isinstance(v, str) else str(v) for v in value]
        return value


class Partition(PartitionInput):
    """A partition of a table."""

    database: str
    table: str
    created_at: str
    updated_at: str


class ConnectionInput(_Input):
    """A JDBC connection. The password is never stored: ``password_ref`` names where to read it,
    ``env:VAR`` or ``file:/path/to/secret``."""

    name: str
    connection_type: Literal["JDBC"] = "JDBC"
    description: str | None = None
    jdbc_url: str
    username: str | None = None
    password_ref: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name("connection", value)

    @field_validator("jdbc_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith("jdbc:"):
            raise ValueError(
                f"jdbc_url '{value}' must start with 'jdbc:' (jdbc:postgresql://HOST/DB)"
            )
        if re.search(r"[?&;]password=", value, re.IGNORECASE) or re.search(
            r"//[^/@]*:[^/@]*@", value
        ):
            raise ValueError(
                "jdbc_url must not contain a password; keep it in an environment variable or a "
                "secret file and set password_ref to env:VAR or file:PATH"
            )
        return value

    @field_validator("password_ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"env:[A-Za-z_][A-Za-z0-9_]*|file:.+", value):
            raise ValueError(
                f"password_ref '{value}' must be env:VARIABLE or file:PATH, never the password"
            )
        return value

    @field_validator("parameters")
    @classmethod
    def _no_password(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if "password" in key.lower():
                raise ValueError(
                    f"parameter '{key}' looks like a password; use password_ref instead"
                )
        return value


class Connection(ConnectionInput):
    """A connection of the catalog."""

    created_at: str


TableSpec.model_rebuild()
