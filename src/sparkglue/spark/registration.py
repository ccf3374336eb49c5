"""Catalog tables in Spark SQL, registered lazily.

A session knows nothing of the catalog when it starts, so start-up costs the same with one table
or a thousand. When a query names a table Spark does not know (``TABLE_OR_VIEW_NOT_FOUND``), the
binding looks it up in the catalog, registers it (an external table of Spark's in-memory
catalog, with the catalog's partitions and locations) and runs the query again.

``attach_catalog`` installs this on a session's ``sql`` and ``table`` methods, so plain
``spark.sql("SELECT … FROM raw.penguins")`` works. A table registered once keeps the
definition it had then; ``CatalogBinding.refresh`` forgets registered tables so the next query
reads them from the catalog again.

On Spark Connect the server's tables are shared by all its clients, so a table may already be
there, registered by another client from an older definition or from another catalog.
``spark.table`` therefore registers a catalog table afresh the first time a binding reads it;
``spark.sql`` uses what the server has (``CatalogBinding.refresh`` or a ``spark.table`` first
make it current). Connect also analyses ``spark.table`` lazily, so the binding asks for the
schema at once to find a missing table where it can still register it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sparkglue.catalog import DataCatalog, Partition, Table
from sparkglue.errors import EntityNotFound, SparkError
from sparkglue.spark.session import is_connect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["CatalogBinding", "attach_catalog", "direct_frame", "spark_table_ddl"]

T = TypeVar("T")
_ATTR = "_sparkglue_binding"
_MAX_REGISTRATIONS_PER_QUERY = 256
_PARTITIONS_PER_STATEMENT = 500
_SPARK_FORMATS = {"csv", "json", "parquet", "orc", "avro", "xml", "text"}


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _options(table: Table, fmt: str) -> dict[str, str]:
    serde, params = table.serde_parameters, table.parameters
    options: dict[str, str] = {}
    if fmt == "csv":
        options["sep"] = serde.get("field.delim") or serde.get("separatorChar") or ","
        options["header"] = "true" if params.get("skip.header.line.count") == "1" else "false"
        if "quoteChar" in serde:
            options["quote"] = serde["quoteChar"]
        if "escapeChar" in serde:
            options["escape"] = serde["escapeChar"]
        if "serialization.null.format" in serde:
            options["nullValue"] = serde["serialization.null.format"]
    elif fmt == "json":
        if params.get("multiLine", serde.get("multiLine")) == "true":
            options["multiLine"] = "true"
    elif fmt == "xml":
        row_tag = params.get("rowTag") or serde.get("rowTag")
        if row_tag:
            options["rowTag"] = row_tag
    return options


_NATIVE_CODECS = {None, "none", "gzip", "bzip2", "zstd"}  # what Hadoop's codecs read


def reader_options(table: Table, fmt: str) -> dict[str, str]:
    """The Spark reader options of a table in a built-in format (header, delimiter, …)."""
    return _options(table, fmt)


def reader_for(table: Table) -> str:
    """How Spark reads a table: a built-in format, or ``sparkglue_files:<format>``.

    Decided by the SerDe first (a custom classifier may name its classification freely), then
    the classification, then whether Hadoop can decompress the files.
    """
    serde = table.serde_library or ""
    fmt = (table.classification or "").lower()
    codec = table.parameters.get("compressionType")
    if serde.endswith("GrokSerDe"):
        return "sparkglue_files:grok"
    if serde.endswith("AvroSerDe") or fmt == "avro":
        return "sparkglue_files:avro"
    if serde.endswith("XmlSerDe"):
        fmt = "xml"
    elif serde.endswith("JsonSerDe"):
        if table.parameters.get("jsonPath") not in (None, "$", "$[*]"):
            return "sparkglue_files:json"
        fmt = "json"
    elif serde.endswith(("OpenCSVSerde", "LazySimpleSerDe")):
        fmt = "csv"
    elif serde.endswith("ParquetHiveSerDe"):
        fmt = "parquet"
    elif serde.endswith("OrcSerde"):
        fmt = "orc"
    if fmt in ("csv", "json") and codec not in _NATIVE_CODECS:
        return f"sparkglue_files:{fmt}"
    if fmt not in _SPARK_FORMATS:
        raise SparkError(
            f"table '{table.full_name}' has classification '{table.classification}', which Spark "
            f"cannot read as a table; supported: {', '.join(sorted(_SPARK_FORMATS))}"
        )
    return fmt


def _local_path(location: str) -> str | None:
    """The folder of a local location (a path or a ``file:`` URL); None for other schemes."""
    if "://" not in location and not location.startswith("file:"):
        return location
    if location.startswith("file:"):
        return re.sub(r"^file:(//)?", "", location) or None
    return None


def _standard_layout(table: Table, partitions: list[Partition], base: str) -> bool:
    """Whether every partition is the folder ``base/key=value/…`` of its values, as Spark's
    partition discovery reads them back."""
    from pathlib import PurePosixPath
    from urllib.parse import unquote

    keys = [k.name for k in table.partition_keys]
    root = PurePosixPath(base)
    for part in partitions:
        folder = _local_path(part.location or "")
        if folder is None:
            return False
        try:
            parts = PurePosixPath(folder).relative_to(root).parts
        except ValueError:
            return False
        if len(parts) != len(keys):
            return False
        for key, piece, value in zip(keys, parts, part.values, strict=True):
            name, eq, text = piece.partition("=")
            if not eq or name != key:
                return False
            found = unquote(text)
            if found != ("__HIVE_DEFAULT_PARTITION__" if value is None else value):
                return False
    return True


def direct_frame(
    session: SparkSession, table: Table, partitions: list[Partition]
) -> DataFrame | None:
    """A DataFrame of a catalog table read straight from its files, with the catalog's schema,
    when Spark can do that alone: a built-in format at a local location, and partitions (only
    the catalog's) in ``key=value`` folders under it. None otherwise (register the table).

    It reads what the registered table would, without registering it: no DDL, and no failed
    lookup first, which on a fresh session costs more than the read itself.
    """
    if table.location is None:
        return None
    try:
        fmt = reader_for(table)
    except SparkError:
        return None
    base = _local_path(table.location)
    if fmt.startswith("sparkglue_files:") or base is None:
        return None
    if table.partition_keys and not _standard_layout(table, partitions, base):
        return None
    from pathlib import Path

    columns = [*table.columns, *table.partition_keys]
    schema = ", ".join(f"{_ident(c.name)} {c.type}" for c in columns)
    reader = session.read.format(fmt).options(**_options(table, fmt)).schema(schema)
    if not table.partition_keys:
        return reader.load(base) if Path(base).is_dir() else None
    # A partition whose folder is gone reads as empty, as in the registered table (a path
    # given to the reader must exist).
    paths = [_local_path(p.location or "") or "" for p in partitions]
    paths = [p for p in paths if Path(p).is_dir()]
    if not paths:
        return session.createDataFrame([], schema)
    return reader.option("basePath", base).load(paths)


def _files_of(location: str) -> list[str]:
    """Data files under a location (the location itself when it is a file), skipping hidden."""
    import os
    from pathlib import Path

    root = Path(location)
    if root.is_file():
        return [str(root)]
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found.extend(str(Path(folder) / f) for f in sorted(files) if not f.startswith((".", "_")))
    return found


def _python_source_ddl(table: Table, partitions: list[Partition], fmt: str) -> str:
    import json

    columns = [*table.columns, *table.partition_keys]
    if table.partition_keys:
        files = [
            [f, list(p.values)] for p in partitions if p.location for f in _files_of(p.location)
        ]
    else:
        files = [[f, []] for f in _files_of(table.location or "")]
    options = {
        "sg_format": fmt,
        "sg_files": json.dumps(files),
        "sg_partition_columns": str(len(table.partition_keys)),
        "sg_compression": ""
        if table.parameters.get("compressionType") in (None, "none")
        else table.parameters["compressionType"],
    }
    if fmt == "csv":
        options.update(_options(table, "csv"))
    elif fmt == "json":
        options.update(_options(table, "json"))
        if table.parameters.get("jsonPath"):
            options["sg_json_path"] = table.parameters["jsonPath"]
    elif fmt == "grok":
        regex = table.parameters.get("grokPattern")
        if not regex:
            raise SparkError(
                f"log table '{table.full_name}' has no grokPattern parameter; recrawl it"
            )
        options["sg_grok_regex"] = regex
    # Spark does not hand a catalog table's OPTIONS to a Python data source, but it does hand
    # over the schema with its comments: the options travel in the first column's comment.
    from sparkglue.spark.pysource import OPTIONS_PREFIX

    first, rest = columns[0], columns[1:]
    carrier = (
        f"{_ident(first.name)} {first.type} COMMENT {_string(OPTIONS_PREFIX + json.dumps(options))}"
    )
    column_sql = ", ".join([carrier, *(f"{_ident(c.name)} {c.type}" for c in rest)])
    name = f"{_ident(table.database)}.{_ident(table.name)}"
    return f"CREATE TABLE {name} ({column_sql}) USING sparkglue_files"


def spark_table_ddl(table: Table, partitions: Iterable[Partition] = ()) -> list[str]:
    """The Spark SQL statements that register ``table`` and its partitions."""
    if table.location is None:
        raise SparkError(f"table '{table.full_name}' has no location, so Spark cannot read it")
    reader = reader_for(table)
    if reader.startswith("sparkglue_files:"):
        return [
            f"CREATE DATABASE IF NOT EXISTS {_ident(table.database)}",
            _python_source_ddl(table, list(partitions), reader.split(":", 1)[1]),
        ]
    fmt = reader
    columns = [*table.columns, *table.partition_keys]
    column_sql = ", ".join(
        f"{_ident(c.name)} {c.type}" + (f" COMMENT {_string(c.comment)}" if c.comment else "")
        for c in columns
    )
    name = f"{_ident(table.database)}.{_ident(table.name)}"
    ddl = f"CREATE TABLE {name} ({column_sql}) USING {fmt}"
    options = _options(table, fmt)
    if options:
        ddl += (
            " OPTIONS (" + ", ".join(f"{_string(k)} {_string(v)}" for k, v in options.items()) + ")"
        )
    if table.partition_keys:
        ddl += " PARTITIONED BY (" + ", ".join(_ident(k.name) for k in table.partition_keys) + ")"
    ddl += f" LOCATION {_string(table.location)}"
    statements = [f"CREATE DATABASE IF NOT EXISTS {_ident(table.database)}", ddl]

    specs = []
    for part in partitions:
        values = ", ".join(
            f"{_ident(k.name)}={'NULL' if v is None else _string(v)}"
            for k, v in zip(table.partition_keys, part.values, strict=True)
        )
        spec = f"PARTITION ({values})"
        if part.location:
            spec += f" LOCATION {_string(part.location)}"
        specs.append(spec)
    for start in range(0, len(specs), _PARTITIONS_PER_STATEMENT):
        chunk = " ".join(specs[start : start + _PARTITIONS_PER_STATEMENT])
        statements.append(f"ALTER TABLE {name} ADD IF NOT EXISTS {chunk}")
    return statements


def _parse_relation(text: str) -> list[str]:
    """```raw`.`penguins``` → ['raw', 'penguins']."""
    parts = re.findall(r"`((?:[^`]|``)*)`|([^.`]+)", text)
    return [(quoted.replace("``", "`") if quoted else plain) for quoted, plain in parts]


class CatalogBinding:
    """Registers catalog tables in one SparkSession on demand."""

    def __init__(self, session: SparkSession, catalog: DataCatalog) -> None:
        self.session = session
        self.catalog = catalog
        self.registered: set[tuple[str, str]] = set()
        self._created_databases: set[str] = set()
        self._raw_sql: Callable[..., DataFrame] = type(session).sql.__get__(session)
        self.connect = is_connect(session)

    def missing_table(self, exc: Exception) -> tuple[str, str] | None:
        """The (database, table) a TABLE_OR_VIEW_NOT_FOUND error is about, if it is one."""
        condition = getattr(exc, "getCondition", lambda: None)()
        if condition != "TABLE_OR_VIEW_NOT_FOUND":
            return None
        params = exc.getMessageParameters() or {}  # type: ignore[attr-defined]
        parts = _parse_relation(params.get("relationName", ""))
        if len(parts) == 3 and parts[0].lower() == "spark_catalog":
            parts = parts[1:]
        if len(parts) == 1:
            parts = [self.session.catalog.currentDatabase(), parts[0]]
        if len(parts) != 2:
            return None
        return parts[0].lower(), parts[1].lower()

    def register(self, database: str, name: str, *, replace: bool = False) -> bool:
        """Register one catalog table; False when the catalog has no such table. With
        ``replace``, a Spark table of that name is dropped first."""
        try:
            table = self.catalog.get_table(database, name)
        except (EntityNotFound, ValueError):
            return False
        partitions = self.catalog.get_partitions(database, name) if table.partition_keys else []
        statements = spark_table_ddl(table, partitions)
        if any(s.endswith("USING sparkglue_files") for s in statements):
            _register_python_source(self.session)  # costs a Python worker: only when needed
        drop = f"DROP TABLE IF EXISTS {_ident(database)}.{_ident(name)}"
        # Called when a query found no such table, so there is nothing to drop first unless
        # asked; the database statement is only needed when the session lacks the database.
        if self.session.catalog.databaseExists(database):
            statements = [drop, *statements[1:]] if replace else statements[1:]
        else:
            self._created_databases.add(database)
        try:
            for statement in statements:
                self._raw_sql(statement)
        except Exception as exc:
            # All or nothing: a table without its partitions would answer queries wrongly.
            self._raw_sql(drop)
            self.registered.discard((database, name))
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            scheme = (table.location or "").split("://", 1)[0]
            if "No FileSystem for scheme" in str(exc) and scheme in ("s3", "s3a"):
                raise SparkError(
                    f"table '{database}.{name}' is at {table.location}, and this Spark has no S3 "
                    "connector; add org.apache.hadoop:hadoop-aws (the version of Spark's Hadoop) "
                    "to spark.jars.packages and set spark.hadoop.fs.s3.impl to "
                    "org.apache.hadoop.fs.s3a.S3AFileSystem in [spark.conf]"
                ) from None
            raise SparkError(
                f"table '{database}.{name}' could not be registered in Spark: {reason}"
            ) from None
        self.registered.add((database, name))
        return True

    def run(self, action: Callable[[], T]) -> T:
        """Run ``action``; register each catalog table it misses and run it again."""
        tried: set[tuple[str, str]] = set()
        from pyspark.errors import AnalysisException

        while True:
            try:
                return action()
            except AnalysisException as exc:
                missing = self.missing_table(exc)
                if (
                    missing is None
                    or missing in tried
                    or len(tried) >= _MAX_REGISTRATIONS_PER_QUERY
                    or not self.register(*missing)
                ):
                    raise
                tried.add(missing)

    def claim(self, table_name: str) -> None:
        """On Spark Connect, register the catalog table ``table_name`` (``db.table``) afresh
        unless this binding registered it already; elsewhere, or for a name the catalog does
        not have, nothing happens."""
        if not self.connect:
            return
        parts = _parse_relation(table_name)
        if len(parts) == 3 and parts[0].lower() == "spark_catalog":
            parts = parts[1:]
        if len(parts) != 2:
            return
        database, name = parts[0].lower(), parts[1].lower()
        if (database, name) not in self.registered:
            self.register(database, name, replace=True)

    def forget(self, database: str, name: str) -> None:
        """Make the next query read the catalog's current definition of a table that just
        changed (columns, partitions): drop its Spark table if the binding registered it (on
        Spark Connect, where another client may have, always); a table the user made in the
        session is only refreshed."""
        key = (database.lower(), name.lower())
        relation = f"{_ident(database)}.{_ident(name)}"
        if key in self.registered or self.connect:
            self._raw_sql(f"DROP TABLE IF EXISTS {relation}")
            self.registered.discard(key)
        elif self.session.catalog.tableExists(f"{database}.{name}"):
            self._raw_sql(f"REFRESH TABLE {relation}")

    def refresh(self) -> None:
        """Forget registered tables so the next query reads their definitions again."""
        for database, name in sorted(self.registered):
            self._raw_sql(f"DROP TABLE IF EXISTS {_ident(database)}.{_ident(name)}")
        self.registered.clear()

    def detach(self) -> None:
        """Drop the tables this binding registered, and the databases it created if they are
        empty now. Tables the user made in the session are never touched."""
        self.refresh()
        for database in self._created_databases - {"default"}:
            if self.session.catalog.databaseExists(
                database
            ) and not self.session.catalog.listTables(database):
                self._raw_sql(f"DROP DATABASE IF EXISTS {_ident(database)}")
        self._created_databases.clear()

    def serves(self, catalog: DataCatalog) -> bool:
        """Whether ``catalog`` is the same catalog (same store and lake) as this binding's."""
        return catalog is self.catalog or (
            catalog.store.url == self.catalog.store.url
            and catalog.lake_root == self.catalog.lake_root
        )


def _register_python_source(session: SparkSession) -> None:
    """Register ``sparkglue_files`` in ``session`` once."""
    if getattr(session, "_sparkglue_files", False):
        return
    from sparkglue.spark.pysource import SparkGlueFiles

    try:
        session.dataSource.register(SparkGlueFiles)
    except Exception:  # a session kind without Python data sources: those tables fail clearly
        return
    session._sparkglue_files = True  # type: ignore[attr-defined]


def _analysed(df: DataFrame) -> DataFrame:
    """``df`` once Spark has analysed it (Spark Connect defers that until its first use)."""
    _ = df.schema
    return df


def attach_catalog(session: SparkSession, catalog: DataCatalog) -> CatalogBinding:
    """Make ``catalog``'s tables queryable by name in ``session`` (``sql`` and ``table``).

    Attaching another catalog to the same session drops what the previous one registered.
    """
    current: CatalogBinding | None = getattr(session, _ATTR, None)
    if current is not None and current.serves(catalog):
        current.catalog = catalog
        return current
    if current is not None:
        current.detach()
    binding = CatalogBinding(session, catalog)
    if current is None:
        cls: Any = type(session)
        raw_sql, raw_table = cls.sql.__get__(session), cls.table.__get__(session)

        def sql(sqlQuery: str, args: Any = None, **kwargs: Any) -> DataFrame:
            active: CatalogBinding = getattr(session, _ATTR)
            return cast("DataFrame", active.run(lambda: raw_sql(sqlQuery, args, **kwargs)))

        def table(tableName: str) -> DataFrame:
            active: CatalogBinding = getattr(session, _ATTR)
            if not active.connect:
                return cast("DataFrame", active.run(lambda: raw_table(tableName)))
            active.claim(tableName)
            return active.run(lambda: _analysed(raw_table(tableName)))

        sql.__doc__ = raw_sql.__doc__
        table.__doc__ = raw_table.__doc__
        session.sql = sql  # type: ignore[method-assign]
        session.table = table  # type: ignore[method-assign]
    setattr(session, _ATTR, binding)
    return binding
