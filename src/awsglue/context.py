"""``GlueContext``: Glue's entry point, on a plain SparkContext and sparkglue's catalog.

Catalog look-ups, ``s3://`` paths and job bookmarks go through the sparkglue workspace the
process runs in (``SPARKGLUE_WORKSPACE``, set by ``sparkglue job run``); nothing touches the
workspace until a script uses one of them, so unit tests that mock the readers need none.

``s3://bucket/key`` paths map to ``<lake>/bucket/key`` unless S3 settings are given (then they
stay ``s3://`` URIs for Spark's S3 connector).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from awsglue._io import (
    check_format,
    jdbc_error,
    jdbc_options,
    list_files,
    read_files,
    write_files,
)
from awsglue._options import (
    CATALOG_READ,
    CATALOG_WRITE,
    JDBC_TYPES,
    S3_READ,
    S3_WRITE,
    UNSUPPORTED_CONNECTIONS,
    UnsupportedOption,
    check_options,
    flag,
)
from awsglue.dynamicframe import DynamicFrame, DynamicFrameReader, DynamicFrameWriter

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

    from sparkglue.catalog import DataCatalog, Table
    from sparkglue.jobs.runtime import JobContext

__all__ = ["DataSink", "DataSource", "GlueContext"]

_REMOTE = ("s3://", "s3a://", "s3n://")
_TABLE_FORMATS = {"csv", "json", "parquet", "orc", "avro", "xml"}


class GlueContext:
    """Glue's context: readers and writers of DynamicFrames and DataFrames, the catalog, the
    job's bookmarks.

    ``GlueContext(SparkContext.getOrCreate())``; ``minPartitions`` / ``targetPartitions`` are
    accepted (Glue's file-grouping hints).
    """

    def __init__(
        self,
        sparkContext: SparkContext,
        minPartitions: int | None = None,
        targetPartitions: int | None = None,
        **options: Any,
    ) -> None:
        from pyspark.sql import SparkSession

        check_options(options, where="GlueContext", hints={"catalog_id"})
        self._sc = sparkContext
        if not os.environ.get("PYSPARK_PYTHON") and str(sparkContext.master).startswith("local"):
            # Python workers of a local Spark run this interpreter (it has awsglue), not
            # whatever python3 is first on PATH.
            sparkContext.pythonExec = sys.executable
        self.spark_session: SparkSession = SparkSession(sparkContext)
        self.min_partitions = minPartitions
        self.target_partitions = targetPartitions
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.create_data_frame = DataFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self.write_data_frame = DataFrameWriter(self)
        self._job: JobContext | None = None
        self._args: dict[str, str] | None = None

    # ---- the workspace -----------------------------------------------------------------------

    def _runtime(self) -> JobContext:
        """The job runtime (catalog, bookmarks, metrics), made on first use."""
        if self._job is None:
            from sparkglue.jobs.runtime import JobContext, parse_job_arguments

            args = parse_job_arguments(sys.argv[1:])
            args.update(self._args or {})
            self._job = JobContext(args, spark=self.spark_session)  # attaches the catalog
        return self._job

    def _catalog(self) -> DataCatalog:
        return self._runtime().catalog

    def _local_path(self, path: str, *, what: str = "path") -> str:
        """A path Spark can read: ``s3://`` mapped to the lake unless S3 is configured."""
        if not path:
            raise ValueError(f"{what} is empty")
        if path.startswith(_REMOTE):
            settings = self._runtime().settings
            if settings.s3_configured:
                return path
            bucket_key = path.split("://", 1)[1]
            return str(settings.lake_root / bucket_key)
        if "://" in path and not path.startswith("file://"):
            raise UnsupportedOption(f"{what} '{path}': only local paths and s3:// are supported")
        return str(Path(path.removeprefix("file://")).expanduser())

    def _bookmarks_on(self, ctx: str) -> bool:
        if not ctx or self._job is None:
            return False
        return self._job.bookmark_option != "job-bookmark-disable"

    # ---- DynamicFrames: reading --------------------------------------------------------------

    def create_dynamic_frame_from_rdd(
        self,
        data: Any,
        name: str,
        schema: Any = None,
        sample_ratio: float | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        """A DynamicFrame from an RDD or a list of rows, tuples or dicts."""
        df = self.spark_session.createDataFrame(data, schema=schema, samplingRatio=sample_ratio)
        return DynamicFrame(df, self, name)

    def create_dynamic_frame_from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        """Read ``s3`` paths in a format, or a JDBC table (``postgresql``, ``mysql``, …)."""
        check_options(kwargs, where="create_dynamic_frame.from_options")
        kind = _connection_kind(connection_type, "create_dynamic_frame.from_options")
        options = dict(connection_options or {})
        if kind in JDBC_TYPES:
            return DynamicFrame(self._read_jdbc(kind, options), self, transformation_ctx)
        if push_down_predicate:
            raise UnsupportedOption(
                "create_dynamic_frame.from_options: option 'push_down_predicate' works on "
                "partitioned catalog tables only (from_catalog)"
            )
        kept = check_options(options, where="create_dynamic_frame.from_options (s3)", rules=S3_READ)
        paths = kept.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError(
                "create_dynamic_frame.from_options: connection_options needs 'paths': [...]"
            )
        fmt = check_format(format, format_options, "create_dynamic_frame.from_options")
        local = [self._local_path(p, what="path") for p in paths]
        exclusions = _exclusions(kept.get("exclusions"))
        recurse = flag(kept.get("recurse"), False)
        return self._read_paths(
            local, fmt, format_options or {}, transformation_ctx, recurse, exclusions, paths
        )

    def _read_paths(
        self,
        local: Sequence[str],
        fmt: str,
        format_options: Mapping[str, Any],
        ctx: str,
        recurse: bool,
        exclusions: Sequence[str],
        shown: Sequence[str],
    ) -> DynamicFrame:
        listed = list_files(local, recurse=recurse, exclusions=exclusions)
        if self._bookmarks_on(ctx):
            files = self._runtime().new_files(ctx, listed, source=",".join(shown))
        else:
            files = [p for p, _, _ in listed]
        bases = [p for p in local if Path(p).is_dir()]
        df, raw, errors = read_files(
            self.spark_session, files, fmt, format_options, base_paths=bases
        )
        return DynamicFrame._make(df, self, ctx, raw=raw, errors=errors, stage_errors=errors)

    def _read_jdbc(self, kind: str, options: Mapping[str, Any]) -> DataFrame:
        spark_options = jdbc_options(kind, options, f"from_options ({kind})")
        try:
            return self.spark_session.read.format("jdbc").options(**spark_options).load()
        except Exception as exc:
            raise ValueError(jdbc_error(exc, spark_options["url"])) from None

    def create_dynamic_frame_from_catalog(
        self,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        """Read a catalog table; ``push_down_predicate`` (or ``catalogPartitionPredicate``)
        keeps only the partitions it matches, before any file is read."""
        return self._from_catalog(
            database,
            table_name,
            transformation_ctx,
            push_down_predicate,
            additional_options,
            catalog_id,
            kwargs,
            "create_dynamic_frame.from_catalog",
        )

    def _from_catalog(
        self,
        database: str | None,
        table_name: str | None,
        ctx: str,
        predicate: str,
        additional_options: Mapping[str, Any] | None,
        catalog_id: str | None,
        kwargs: Mapping[str, Any],
        where: str,
    ) -> DynamicFrame:
        table, kept = self._catalog_table(
            database, table_name, additional_options, catalog_id, kwargs, where, CATALOG_READ
        )
        if "connectionName" in table.parameters:
            from sparkglue.jobs.runtime import JdbcSource

            if self._bookmarks_on(ctx):
                df = self._runtime().read_table(table.database, table.name, transformation_ctx=ctx)
            else:
                df = JdbcSource(self._catalog(), table).read(self.spark_session)
            return DynamicFrame(df, self, ctx)
        fmt = _table_format(table)
        predicate = predicate or str(kept.get("catalogPartitionPredicate", ""))
        locations = self._table_locations(table, predicate)
        format_options = _table_format_options(table, fmt)
        exclusions = _exclusions(kept.get("exclusions"))
        if not table.partition_keys:
            return self._read_paths(
                [loc for loc, _ in locations],
                fmt,
                format_options,
                ctx,
                True,
                exclusions,
                [table.full_name],
            )
        return self._read_partitions(table, locations, fmt, format_options, ctx, exclusions)

    def _read_partitions(
        self,
        table: Table,
        locations: list[tuple[str, list[Any]]],
        fmt: str,
        format_options: Mapping[str, Any],
        ctx: str,
        exclusions: Sequence[str],
    ) -> DynamicFrame:
        """Each partition's files, with the key values the catalog gives it."""
        from pyspark.sql import functions as F

        frames = []
        for location, values in locations:
            part = self._read_paths(
                [location], fmt, format_options, ctx, True, exclusions, [table.full_name]
            )
            if not part._df.columns:
                continue
            df = part._df
            for key, value in zip(table.partition_keys, values, strict=True):
                df = df.withColumn(key.name, F.lit(value).try_cast(key.type))
            frames.append((df, part))
        if not frames:
            columns = [*table.columns, *table.partition_keys]
            ddl = ", ".join(f"`{c.name}` {c.type}" for c in columns)
            return DynamicFrame(self.spark_session.createDataFrame([], ddl), self, ctx)
        df, first = frames[0]
        errors = first._errors
        raw = set(first._raw)
        for other, part in frames[1:]:
            df = df.unionByName(other, allowMissingColumns=True)
            raw |= part._raw
            if part._errors is not None:
                errors = part._errors if errors is None else errors.unionByName(part._errors)
        return DynamicFrame._make(df, self, ctx, raw=sorted(raw), errors=errors)

    def _catalog_table(
        self,
        database: str | None,
        table_name: str | None,
        additional_options: Mapping[str, Any] | None,
        catalog_id: str | None,
        kwargs: Mapping[str, Any],
        where: str,
        rules: Mapping[str, set[str]],
    ) -> tuple[Table, dict[str, Any]]:
        """The catalog table a ``from_catalog`` call names, and its supported options."""
        check_options(kwargs, where=where)
        if catalog_id:
            raise UnsupportedOption(f"{where}: option 'catalog_id' is not supported")
        if not database or not table_name:
            raise ValueError(f"{where}: give database= and table_name=")
        kept = check_options(additional_options, where=where, rules=rules)
        return self._catalog().get_table(database, table_name), kept

    def _table_locations(self, table: Table, predicate: str) -> list[tuple[str, list[Any]]]:
        """(folder, partition values) to read: the table's folder, or its partitions."""
        if not table.partition_keys:
            if not table.location:
                raise ValueError(f"table '{table.full_name}' has no location")
            return [(self._local_path(table.location, what="table location"), [])]
        partitions = self._catalog().get_partitions(table.database, table.name)
        rows = [(p.location or "", list(p.values)) for p in partitions]
        if predicate and rows:
            keys = table.partition_keys
            schema = ", ".join(f"`{k.name}` {k.type}" for k in keys) + ", `__i` int"
            values = [
                (*tuple(_typed_value(v, k.type) for v, k in zip(vals, keys, strict=True)), i)
                for i, (_, vals) in enumerate(rows)
            ]
            frame = self.spark_session.createDataFrame(values, schema)
            try:
                chosen = {r["__i"] for r in frame.where(predicate).select("__i").collect()}
            except Exception as exc:
                first = str(exc).strip().splitlines()[0]
                raise ValueError(
                    f"push_down_predicate '{predicate}' is not a condition on the partition "
                    f"keys of {table.full_name}: {first[:200]}"
                ) from None
            rows = [row for i, row in enumerate(rows) if i in chosen]
        return [(self._local_path(loc, what="partition location"), vals) for loc, vals in rows]

    # ---- DynamicFrames: writing --------------------------------------------------------------

    def write_dynamic_frame_from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        """Write a frame to ``s3`` (a path; appends) or to a JDBC table."""
        check_options(kwargs, where="write_dynamic_frame.from_options")
        kind = _connection_kind(connection_type, "write_dynamic_frame.from_options")
        options = dict(connection_options or {})
        df = frame.toDF()
        if kind in JDBC_TYPES:
            self._write_jdbc(df, jdbc_options(kind, options, f"write ({kind})"))
            return frame
        kept = check_options(options, where="write_dynamic_frame.from_options (s3)", rules=S3_WRITE)
        if not kept.get("path"):
            raise ValueError("write_dynamic_frame.from_options: connection_options needs 'path'")
        fmt = check_format(format, format_options, "write_dynamic_frame.from_options")
        path = self._local_path(str(kept["path"]), what="path")
        write_files(
            df,
            path,
            fmt,
            format_options or {},
            list(kept.get("partitionKeys") or []),
            compression=kept.get("compression"),
        )
        return frame

    def _write_jdbc(self, df: DataFrame, options: Mapping[str, str]) -> None:
        if "query" in options:
            raise ValueError("writing to JDBC needs 'dbtable', not 'query'")
        try:
            df.write.format("jdbc").options(**options).mode("append").save()
        except Exception as exc:
            raise ValueError(jdbc_error(exc, options["url"])) from None

    def write_dynamic_frame_from_catalog(
        self,
        frame: DynamicFrame,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        """Append a frame to a catalog table: its location, format and partition keys; new
        partition folders are added to the catalog."""
        self._write_catalog(
            frame.toDF(),
            database,
            table_name,
            additional_options,
            catalog_id,
            kwargs,
            "write_dynamic_frame.from_catalog",
        )
        return frame

    def _write_catalog(
        self,
        df: DataFrame,
        database: str | None,
        table_name: str | None,
        additional_options: Mapping[str, Any] | None,
        catalog_id: str | None,
        kwargs: Mapping[str, Any],
        where: str,
    ) -> None:
        table, kept = self._catalog_table(
            database, table_name, additional_options, catalog_id, kwargs, where, CATALOG_WRITE
        )
        if "connectionName" in table.parameters:
            from sparkglue.jobs.runtime import JdbcSource, connection_options

            source = JdbcSource(self._catalog(), table)
            options = {**connection_options(source.connection), "dbtable": source.relation}
            self._write_jdbc(df, options)
            return
        fmt = _table_format(table)
        keys = [k.name for k in table.partition_keys] or list(kept.get("partitionKeys") or [])
        location = self._local_path(table.location or "", what="table location")
        write_files(df, location, fmt, _table_format_options(table, fmt), keys)
        if table.partition_keys:
            self._runtime().register_partitions(table, location)

    def write_dynamic_frame_from_jdbc_conf(
        self,
        frame: DynamicFrame,
        catalog_connection: str,
        connection_options: Mapping[str, Any] | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        """Write a frame to ``dbtable`` through a catalog connection (its URL and
        credentials)."""
        from sparkglue.jobs.runtime import connection_options as spark_jdbc_options

        if catalog_id:
            raise UnsupportedOption("write_dynamic_frame.from_jdbc_conf: option 'catalog_id'")
        kept = check_options(
            connection_options,
            where="write_dynamic_frame.from_jdbc_conf",
            supported={"dbtable", "database"},
            unsupported={"preactions", "postactions", "extracopyoptions"},
        )
        if not kept.get("dbtable"):
            raise ValueError(
                "write_dynamic_frame.from_jdbc_conf: connection_options needs 'dbtable'"
            )
        connection = self._catalog().get_connection(catalog_connection)
        options = {**spark_jdbc_options(connection), "dbtable": str(kept["dbtable"])}
        if kept.get("database"):
            options["url"] = _with_database(options["url"], str(kept["database"]))
        self._write_jdbc(frame.toDF(), options)
        return frame

    # ---- DataFrames --------------------------------------------------------------------------

    def create_data_frame_from_catalog(
        self,
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> DataFrame:
        """A catalog table as a DataFrame (typed; choices stay structs)."""
        predicate = str(kwargs.pop("push_down_predicate", ""))
        return self._from_catalog(
            database,
            table_name,
            transformation_ctx,
            predicate,
            additional_options,
            kwargs.pop("catalog_id", None),
            kwargs,
            "create_data_frame.from_catalog",
        ).toDF()

    def create_data_frame_from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DataFrame:
        """A connection read as a DataFrame."""
        return self.create_dynamic_frame_from_options(
            connection_type,
            connection_options,
            format,
            format_options,
            transformation_ctx,
            **kwargs,
        ).toDF()

    def write_data_frame_from_catalog(
        self,
        frame: DataFrame,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Append a DataFrame to a catalog table."""
        self._write_catalog(
            frame,
            database,
            table_name,
            additional_options,
            catalog_id,
            kwargs,
            "write_data_frame.from_catalog",
        )

    # ---- sources and sinks -------------------------------------------------------------------

    def getSource(
        self,
        connection_type: str,
        format: str | None = None,
        transformation_ctx: str = "",
        **options: Any,
    ) -> DataSource:
        """A source to read with ``getFrame()`` (``setFormat`` to choose the format)."""
        return DataSource(self, connection_type, dict(options), format, transformation_ctx)

    def getSink(
        self,
        connection_type: str,
        format: str | None = None,
        transformation_ctx: str = "",
        **options: Any,
    ) -> DataSink:
        """A sink to write with ``writeFrame(frame)``."""
        return DataSink(self, connection_type, dict(options), format, transformation_ctx)

    # ---- housekeeping ------------------------------------------------------------------------

    def purge_s3_path(
        self,
        s3_path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> None:
        """Delete the files under a path older than ``retentionPeriod`` hours (default 168)."""
        kept = check_options(
            options,
            where="purge_s3_path",
            supported={"retentionPeriod"},
            unsupported={"excludeStorageClasses", "partitionPredicate", "manifestFilePath"},
        )
        _purge(self._local_path(s3_path, what="s3_path"), float(kept.get("retentionPeriod", 168)))

    def purge_table(
        self,
        database: str,
        table_name: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        catalog_id: str | None = None,
    ) -> None:
        """Delete the files of a catalog table older than ``retentionPeriod`` hours (default
        168); the table definition stays. ``partitionPredicate`` limits it to partitions."""
        kept = check_options(
            options,
            where="purge_table",
            supported={"retentionPeriod", "partitionPredicate"},
            unsupported={"excludeStorageClasses", "manifestFilePath"},
        )
        table = self._catalog().get_table(database, table_name)
        hours = float(kept.get("retentionPeriod", 168))
        predicate = str(kept.get("partitionPredicate", ""))
        for location, _ in self._table_locations(table, predicate):
            _purge(location, hours)

    def get_logger(self) -> logging.Logger:
        """A logger (``info``, ``warning``/``warn``, ``error``) writing to the job's log."""
        logger = logging.getLogger("awsglue")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s awsglue: %(message)s")
            )
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        return logger

    def get_catalog_schema_as_spark_schema(
        self, database: str, table_name: str, catalog_id: str | None = None
    ) -> StructType:
        """A catalog table's columns (then partition keys) as a Spark schema."""
        from pyspark.sql.types import _parse_datatype_string

        table = self._catalog().get_table(database, table_name)
        columns = [*table.columns, *table.partition_keys]
        ddl = ", ".join(f"`{c.name}` {c.type}" for c in columns)
        schema: Any = _parse_datatype_string(ddl)
        return cast("StructType", schema)


class DataFrameReader:
    """``glueContext.create_data_frame``: ``from_catalog``, ``from_options``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_catalog(
        self, database: str | None = None, table_name: str | None = None, **kwargs: Any
    ) -> DataFrame:
        """A catalog table as a DataFrame."""
        return self._glue_context.create_data_frame_from_catalog(database, table_name, **kwargs)

    def from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DataFrame:
        """A connection read as a DataFrame."""
        return self._glue_context.create_data_frame_from_options(
            connection_type,
            connection_options,
            format,
            format_options,
            transformation_ctx,
            **kwargs,
        )


class DataFrameWriter:
    """``glueContext.write_data_frame``: ``from_catalog``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_catalog(
        self,
        frame: DataFrame,
        database: str | None = None,
        table_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Append a DataFrame to a catalog table."""
        self._glue_context.write_data_frame_from_catalog(frame, database, table_name, **kwargs)


class _Endpoint:
    """A connection, its options and a format: what sources and sinks share."""

    def __init__(
        self,
        glue_context: GlueContext,
        connection_type: str,
        options: dict[str, Any],
        fmt: str | None,
        ctx: str,
    ) -> None:
        self._ctx = glue_context
        self._type = connection_type
        self._options = options
        self._format = fmt
        self._format_options: dict[str, Any] = {}
        self._transformation_ctx = ctx

    def setFormat(self, format: str, **options: Any) -> None:
        """The format and its options."""
        self._format = format
        self._format_options = dict(options)


class DataSource(_Endpoint):
    """What ``GlueContext.getSource`` returns: ``setFormat``, ``getFrame``."""

    def getFrame(self, **kwargs: Any) -> DynamicFrame:
        """Read the source."""
        check_options(kwargs, where="DataSource.getFrame")
        options = dict(self._options)
        if self._type.lower() == "s3" and "paths" not in options and "path" in options:
            options["paths"] = [options.pop("path")]
        return self._ctx.create_dynamic_frame_from_options(
            self._type, options, self._format, self._format_options, self._transformation_ctx
        )


class DataSink(_Endpoint):
    """What ``GlueContext.getSink`` returns: ``setFormat``, ``setCatalogInfo``, ``writeFrame``."""

    _catalog: tuple[str, str] | None = None

    def setCatalogInfo(
        self, catalogDatabase: str, catalogTableName: str, catalogId: str | None = None
    ) -> None:
        """Register what is written as this catalog table (``enableUpdateCatalog``)."""
        if catalogId:
            raise UnsupportedOption("setCatalogInfo: option 'catalogId' is not supported")
        self._catalog = (catalogDatabase, catalogTableName)

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:
        """Write the frame; with ``enableUpdateCatalog`` and catalog info, create or update the
        catalog table and its partitions."""
        options = dict(self._options)
        update = flag(options.pop("enableUpdateCatalog", False), False)
        behavior = str(options.pop("updateBehavior", "UPDATE_IN_DATABASE"))
        if behavior not in ("UPDATE_IN_DATABASE", "LOG"):
            raise ValueError(f"updateBehavior '{behavior}' is not UPDATE_IN_DATABASE or LOG")
        keys = list(options.get("partitionKeys") or [])
        self._ctx.write_dynamic_frame_from_options(
            dynamic_frame, self._type, options, self._format, self._format_options
        )
        if update:
            if self._catalog is None:
                raise ValueError("enableUpdateCatalog needs setCatalogInfo(database, table)")
            database, table = self._catalog
            runtime = self._ctx._runtime()
            path = self._ctx._local_path(str(options.get("path", "")), what="path")
            fmt = (self._format or "parquet").lower()
            runtime.register_output(
                dynamic_frame.toDF(),
                database,
                table,
                path,
                "parquet" if fmt == "glueparquet" else fmt,
                keys,
                update_schema=behavior == "UPDATE_IN_DATABASE",
            )
        return dynamic_frame


def _connection_kind(connection_type: str, where: str) -> str:
    """``s3``/``file`` or a JDBC type, lower-case; a clear error for any other."""
    kind = connection_type.strip().lower()
    if kind in UNSUPPORTED_CONNECTIONS:
        raise UnsupportedOption(
            f"{where}: connection_type '{connection_type}' is not supported (s3 and JDBC ones are)"
        )
    if kind not in JDBC_TYPES and kind not in ("s3", "file"):
        raise ValueError(f"{where}: unknown connection_type '{connection_type}'")
    return kind


def _exclusions(value: Any) -> list[str]:
    import json

    if not value:
        return []
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        return [str(p) for p in parsed] if isinstance(parsed, list) else [str(parsed)]
    return [str(p) for p in value]


def _table_format(table: Table) -> str:
    fmt = (table.classification or "").lower()
    if fmt not in _TABLE_FORMATS:
        raise UnsupportedOption(
            f"table '{table.full_name}' is classified '{table.classification}'; DynamicFrames "
            "read csv, json, parquet, orc, avro and xml tables"
        )
    return fmt


def _table_format_options(table: Table, fmt: str) -> dict[str, Any]:
    params = table.parameters
    if fmt == "csv":
        options: dict[str, Any] = {
            "separator": params.get("delimiter", params.get("field.delim", ",")),
            "withHeader": params.get("skip.header.line.count", "0") not in ("", "0"),
        }
        if params.get("quoteChar"):
            options["quoteChar"] = params["quoteChar"]
        return options
    if fmt == "xml":
        return {"rowTag": params.get("rowTag", "row")}
    if fmt == "json" and params.get("jsonPath"):
        return {"jsonPath": params["jsonPath"]}
    return {}


def _typed_value(value: str | None, type_name: str) -> Any:
    if value is None:
        return None
    kind = type_name.lower()
    try:
        if kind in ("int", "bigint", "smallint", "tinyint"):
            return int(value)
        if kind in ("double", "float") or kind.startswith("decimal"):
            return float(value)
    except ValueError:
        return None
    return value


def _with_database(url: str, database: str) -> str:
    """A JDBC URL with its database replaced (jdbc:postgresql://host:port/DB?…)."""
    head, sep, rest = url.partition("//")
    if not sep:
        return url
    host, slash, tail = rest.partition("/")
    query = ""
    if slash:
        _, q, params = tail.partition("?")
        query = q + params
    return f"{head}//{host}/{database}{query}"


def _purge(location: str, hours: float) -> None:
    cutoff = time.time() - hours * 3600
    root = Path(location)
    if not root.exists():
        return
    targets = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    for path in targets:
        if path.stat().st_mtime <= cutoff:
            path.unlink()
    for folder, _, _ in sorted(os.walk(root), key=lambda t: -len(t[0])):
        current = Path(folder)
        if current != root and not any(current.iterdir()):
            current.rmdir()
