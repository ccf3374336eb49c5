"""What a job script uses besides PySpark: ``JobContext`` (Glue's GlueContext + Job, slimmed).

``JobContext.from_argv(sys.argv)`` reads Glue's reserved arguments (``--JOB_NAME``,
``--JOB_RUN_ID``, ``--job-bookmark-option``) and any ``--key value`` pairs, starts Spark for the
workspace (``SPARKGLUE_WORKSPACE``) and makes catalog tables queryable by name.

Bookmarks: with ``job-bookmark-enable`` (or ``-pause``), ``read_table`` reads only the files of
the table that are new or changed since the last committed run, per ``transformation_ctx``. The
runner commits the new state only when the run succeeds (and never on ``-pause``).

With a Spark Connect master (``sc://``) a script needs no JVM of its own: the records read and
written come from observations, the application id from the server's configuration.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from sparkglue.catalog import Column, Connection, DataCatalog, PartitionInput, Table, TableInput
from sparkglue.config import Settings
from sparkglue.errors import EntityNotFound, InvalidInput
from sparkglue.store import MetadataStore

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "BOOKMARK_IN_ENV",
    "RESULT_ENV",
    "JdbcSource",
    "JobContext",
    "connection_options",
    "data_files",
    "parse_job_arguments",
]

BOOKMARK_IN_ENV = "SPARKGLUE_JOB_BOOKMARK_IN"  # committed bookmark state (JSON file) to read
RESULT_ENV = "SPARKGLUE_JOB_RESULT"  # where commit() writes the new state and the metrics
_BOOKMARK_FORMATS = ("csv", "json", "parquet", "orc")


def parse_job_arguments(argv: Sequence[str]) -> dict[str, str]:
    """``--key value`` pairs (and ``--key=value``) after the script name; a flag alone is
    ``"true"``."""
    args: dict[str, str] = {}
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            key, eq, value = item.partition("=")
            if eq:
                args[key[2:]] = value
            elif i + 1 < len(items) and not items[i + 1].startswith("--"):
                args[key[2:]] = items[i + 1]
                i += 1
            else:
                args[key[2:]] = "true"
        i += 1
    return args


def data_files(
    location: str, *, recurse: bool = True, exclusions: Sequence[str] = ()
) -> list[tuple[str, float, int]]:
    """(path, mtime, size) of the data files under a folder (or of one file), sorted; hidden
    files and folders (``.``/``_``) and ``.crc`` checksums are skipped. Without ``recurse``
    only the folder's own files and its Hive ``key=value`` folders count; ``exclusions`` are
    Glue exclusion globs relative to ``location``."""
    from sparkglue.crawler.globs import ExclusionSet

    root = Path(location)
    if root.is_file():
        st = root.stat()
        return [(str(root), st.st_mtime, st.st_size)]
    excluded = ExclusionSet(exclusions)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and (recurse or "=" in d))
        rel = os.path.relpath(folder, root)
        for name in sorted(files):
            if name.startswith((".", "_")) or name.endswith(".crc"):
                continue
            if excluded and excluded.excludes(name if rel == "." else f"{rel}/{name}"):
                continue
            path = os.path.join(folder, name)  # noqa: PTH118
            st = os.stat(path)  # noqa: PTH116
            found.append((path, st.st_mtime, st.st_size))
    return found


def _task_records(spark: SparkSession) -> dict[str, int]:
    """Records read from sources and written to sinks by all stages so far (Spark's task
    metrics, as its UI shows them); empty when Spark does not tell."""
    context: Any = spark.sparkContext
    jvm: Any = context._jvm
    try:
        store = context._jsc.sc().statusStore()
        no_quantiles = context._gateway.new_array(jvm.double, 0)
        stages = store.stageList(None, False, False, no_quantiles, jvm.java.util.ArrayList())
        read = written = 0
        for i in range(stages.size()):
            stage = stages.apply(i)
            read += int(stage.inputRecords())
            written += int(stage.outputRecords())
    except Exception as exc:  # a Spark whose status store differs: no record counts
        print(f"records read/written unknown: {type(exc).__name__}", flush=True)
        return {}
    return {"records_read": read, "records_written": written}


def _application_id(spark: SparkSession, *, connect: bool) -> str | None:
    """The Spark application's id; through Spark Connect, the server's, when it tells."""
    if not connect:
        return str(spark.sparkContext.applicationId)
    try:
        value = spark.conf.get("spark.app.id", None)
    except Exception:  # a server that hides its configuration: no id
        return None
    return str(value) if value else None


def _observed_rows(observation: Any, wait: float = 2.0) -> int:
    """The row count an observation saw; 0 when its plan never ran (``get`` would block)."""
    import threading

    box: list[int] = []

    def read() -> None:
        try:
            box.append(int(observation.get.get("rows", 0)))
        except Exception:
            box.append(0)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(wait)
    return box[0] if box else 0


_JDBC_DRIVERS = {
    "postgresql": "org.postgresql.Driver",
    "mysql": "org.mariadb.jdbc.Driver",
    "mariadb": "org.mariadb.jdbc.Driver",
    "sqlite": "org.sqlite.JDBC",
}


def connection_options(connection: Connection) -> dict[str, str]:
    """Spark JDBC options for a catalog connection: URL, driver class, user and password."""
    options = {"url": connection.jdbc_url}
    driver = _JDBC_DRIVERS.get(connection.jdbc_url.split(":", 2)[1].lower())
    if driver:  # named, as DriverManager does not see jars added to a running JVM
        options["driver"] = driver
    if connection.username:
        options["user"] = connection.username
    password = DataCatalog.resolve_password(connection)
    if password is not None:
        options["password"] = password
    return options


class JdbcSource:
    """A catalog table crawled from a JDBC connection, read with Spark's JDBC source (the
    driver jar must be on Spark's class path; the OS packages install them)."""

    def __init__(self, catalog: DataCatalog, table: Table) -> None:
        self.table = table
        self.connection = catalog.get_connection(table.parameters["connectionName"])
        url = self.connection.jdbc_url
        self.kind = url.split(":", 2)[1].lower()
        parts = table.parameters.get("jdbcTable", table.name).split(".")
        if self.kind == "postgresql":
            parts = parts[1:] if len(parts) == 3 else parts  # the URL names the database
        elif self.kind == "sqlite":
            parts = parts[-1:]
        self.relation = ".".join(self.quote(p) for p in parts)

    def quote(self, name: str) -> str:
        if self.kind in ("mysql", "mariadb"):
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    @staticmethod
    def literal(value: Any) -> str:
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        return "'" + str(value).replace("'", "''") + "'"

    def range_condition(
        self, keys: Sequence[str], *, after: list[Any] | None, upto: list[Any] | None
    ) -> str:
        """Rows whose key tuple is > ``after`` and <= ``upto`` (either may be None)."""

        def compare(values: list[Any], strict: str, last: str) -> str:
            # (k1, k2) > (v1, v2) spelled out: k1 > v1 OR (k1 = v1 AND k2 > v2)
            ors = []
            for i in range(len(keys)):
                ands = [f"{self.quote(keys[j])} = {self.literal(values[j])}" for j in range(i)]
                op = last if i == len(keys) - 1 else strict
                ands.append(f"{self.quote(keys[i])} {op} {self.literal(values[i])}")
                ors.append("(" + " AND ".join(ands) + ")")
            return "(" + " OR ".join(ors) + ")"

        parts = []
        if after is not None:
            parts.append(compare(after, ">", ">"))
        if upto is not None:
            parts.append(compare(upto, "<", "<="))
        return " AND ".join(parts) or "1 = 1"

    def _reader(self, spark: SparkSession, query: str) -> Any:
        options = connection_options(self.connection)
        return spark.read.format("jdbc").options(**options).option("query", query)

    def read(self, spark: SparkSession, where: str | None = None) -> DataFrame:
        query = f"SELECT * FROM {self.relation}" + (f" WHERE {where}" if where else "")
        try:
            return cast("DataFrame", self._reader(spark, query).load())
        except Exception as exc:
            raise InvalidInput(self._error(exc)) from None

    def newest(
        self, spark: SparkSession, keys: Sequence[str], *, after: list[Any] | None
    ) -> list[Any] | None:
        """The largest key tuple past ``after``, None when there is none."""
        order = ", ".join(f"{self.quote(k)} DESC" for k in keys)
        where = f" WHERE {self.range_condition(keys, after=after, upto=None)}" if after else ""
        query = (
            f"SELECT {', '.join(self.quote(k) for k in keys)} FROM {self.relation}{where} "
            f"ORDER BY {order} LIMIT 1"
        )
        try:
            rows = self._reader(spark, query).load().collect()
        except Exception as exc:
            raise InvalidInput(self._error(exc)) from None
        if not rows:
            return None
        return [_json_value(v) for v in rows[0]]

    def _error(self, exc: Exception) -> str:
        text = str(exc)
        if "No suitable driver" in text or "ClassNotFoundException" in text:
            return (
                f"Spark has no JDBC driver for {self.connection.jdbc_url.split('//')[0]} (table "
                f"{self.table.full_name}); install the OS package (Debian/Ubuntu: "
                "libpostgresql-jdbc-java, libmariadb-java or libxerial-sqlite-jdbc-java) or add "
                "the driver jar to spark.jars"
            )
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return f"cannot read {self.table.full_name} over JDBC: {first}"


def _json_value(value: Any) -> Any:
    """A key value as JSON keeps it: numbers as numbers, everything else as its text."""
    from decimal import Decimal

    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


class JobContext:
    """The job's arguments, Spark session, catalog, bookmarks and metrics."""

    def __init__(
        self,
        args: dict[str, str],
        settings: Settings | None = None,
        spark: SparkSession | None = None,
    ) -> None:
        self.args = args
        self.name = args.get("JOB_NAME", "job")
        self.run_id = args.get("JOB_RUN_ID")
        self.bookmark_option = args.get("job-bookmark-option", "job-bookmark-disable")
        self.settings = settings or Settings.resolve()
        self.catalog = DataCatalog(
            MetadataStore(self.settings.metadata_url),
            lake_root=self.settings.lake_root,
            allowed_roots=self.settings.allowed_roots,
        )
        self._committed: dict[str, Any] = {}
        if self.bookmark_option != "job-bookmark-disable" and os.environ.get(BOOKMARK_IN_ENV):
            self._committed = json.loads(Path(os.environ[BOOKMARK_IN_ENV]).read_text())
        self._pending: dict[str, Any] = dict(self._committed)
        self._observations: list[tuple[str, Any]] = []
        self.metrics: dict[str, Any] = {"bytes_written": 0}
        self._started = time.perf_counter()
        from sparkglue.spark import attach_catalog, build_session, is_connect

        self.spark: SparkSession = spark if spark is not None else build_session(self.settings)
        self._binding = attach_catalog(self.spark, self.catalog)
        connect = is_connect(self.spark)
        application_id = _application_id(self.spark, connect=connect)
        if application_id:
            self.metrics["spark_application_id"] = application_id
        # Records read and written come from Spark's task metrics (what its UI shows); through
        # Spark Connect, where the driver's status store is out of reach, from observations.
        self._probe_rows = 0  # rows read to find where a JDBC bookmark ends
        self._avro_rows = 0  # rows written as Avro (not in Spark's output metrics)
        self._task_metrics = not connect

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> JobContext:
        """Read the arguments after the script name (``sys.argv``)."""
        return cls(parse_job_arguments(argv[1:]))

    # ---- reading -----------------------------------------------------------------------------

    def read_table(
        self,
        database: str,
        table: str,
        *,
        transformation_ctx: str = "",
        bookmark_keys: Sequence[str] | None = None,
    ) -> DataFrame:
        """A catalog table as a DataFrame; with bookmarks on and a ``transformation_ctx``, only
        what is new since the last committed run: for files, the files new or changed; for a
        JDBC table (crawled from a connection), the rows whose ``bookmark_keys`` (default: the
        primary key; values must only grow) are past the last run's largest."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        use_bookmark = bool(self.bookmark_option != "job-bookmark-disable" and transformation_ctx)
        found = self.catalog.get_table(database, table)
        if "connectionName" in found.parameters:
            df = self._read_jdbc(found, transformation_ctx if use_bookmark else "", bookmark_keys)
        elif use_bookmark:
            df = self._read_new_files(database, table, transformation_ctx)
        else:
            df = self._read_files(found)
        if self._task_metrics:
            return df  # Spark's own task metrics count the records read
        observation = Observation(f"read_{transformation_ctx or table}")
        self._observations.append(("records_read", observation))
        return df.observe(observation, F.count(F.lit(1)).alias("rows"))

    def _read_files(self, table: Table) -> DataFrame:
        """The whole table: read straight from its files when Spark can find its partitions
        alone, else through the Spark table it is registered as."""
        from sparkglue.spark.registration import direct_frame

        partitions = (
            self.catalog.get_partitions(table.database, table.name) if table.partition_keys else []
        )
        df = direct_frame(self.spark, table, partitions)
        if df is None:
            df = self.spark.table(f"`{table.database}`.`{table.name}`")
        return df

    def _read_new_files(self, database: str, name: str, ctx: str) -> DataFrame:
        from pyspark.sql import functions as F

        from sparkglue.spark.registration import reader_for, reader_options

        table = self.catalog.get_table(database, name)
        fmt = reader_for(table)
        if fmt not in _BOOKMARK_FORMATS:
            raise InvalidInput(
                f"job bookmarks on {table.full_name} need a csv, json, parquet or orc table, "
                f"not {table.classification}; run the job with job-bookmark-disable"
            )
        if table.partition_keys:
            places = [
                (p.location or "", list(p.values))
                for p in self.catalog.get_partitions(database, name)
            ]
        else:
            places = [(table.location or "", [])]
        groups: list[tuple[list[str], list[str | None]]] = []
        for location, values in places:
            new = self.new_files(ctx, data_files(location), source=table.full_name)
            if new:
                groups.append((new, values))
        ddl = ", ".join(f"`{c.name}` {c.type}" for c in table.columns)
        frames = []
        for files, values in groups:
            df = self.spark.read.format(fmt).options(**reader_options(table, fmt)).schema(ddl)
            frame = df.load(files)
            for key, value in zip(table.partition_keys, values, strict=True):
                frame = frame.withColumn(key.name, F.lit(value).cast(key.type))
            frames.append(frame)
        if not frames:
            columns = [*table.columns, *table.partition_keys]
            schema = ", ".join(f"`{c.name}` {c.type}" for c in columns)
            return self.spark.createDataFrame([], schema)
        result = frames[0]
        for frame in frames[1:]:
            result = result.unionByName(frame)
        return result

    def new_files(
        self, ctx: str, listed: Sequence[tuple[str, float, int]], *, source: str
    ) -> list[str]:
        """The files of ``listed`` (path, mtime, size) that are new or changed since the last
        committed run of bookmark ``ctx``; they join the state ``commit()`` hands over."""
        seen: dict[str, float] = dict(self._committed.get(ctx, {}).get("files", {}))
        pending = self._pending.get(ctx)
        state = dict(pending["files"]) if pending and "files" in pending else dict(seen)
        state.update((p, mtime) for p, mtime, _ in listed)
        self._pending[ctx] = {"files": state, "table": source}
        return [p for p, mtime, _ in listed if seen.get(p) != mtime]

    def _read_jdbc(self, table: Table, ctx: str, keys: Sequence[str] | None) -> DataFrame:
        """Read a JDBC table through Spark's JDBC source; with ``ctx``, only the rows past the
        bookmark, up to the largest key seen when the run started (later rows: next run)."""
        source = JdbcSource(self.catalog, table)
        if not ctx:
            return source.read(self.spark)
        if keys is None:
            keys = [k for k in table.parameters.get("primaryKeys", "").split(",") if k]
        if not keys:
            raise InvalidInput(
                f"job bookmarks on {table.full_name} need bookmark keys and the table has no "
                "primary key; pass bookmark_keys=[...] to read_table (columns whose values only "
                "grow) or run the job with job-bookmark-disable"
            )
        columns = {c.name.lower(): c.name for c in table.columns}
        unknown = [k for k in keys if k.lower() not in columns]
        if unknown:
            raise InvalidInput(f"bookmark key '{unknown[0]}' is not a column of {table.full_name}")
        keys = [columns[k.lower()] for k in keys]
        committed = self._committed.get(ctx, {}).get("jdbc", {})
        if committed and committed.get("keys") != keys:
            raise InvalidInput(
                f"the bookmark of '{ctx}' is on keys {committed.get('keys')}, not {keys}; reset "
                f"it with `sparkglue job bookmark reset {self.name}`"
            )
        last = committed.get("last")
        newest = source.newest(self.spark, keys, after=last)
        self._probe_rows += 0 if newest is None else 1  # not the job's records
        if newest is None:  # nothing new (the bookmark stays): no rows, the table's columns
            return source.read(self.spark, where="1 = 0")
        self._pending[ctx] = {
            "jdbc": {"keys": keys, "last": newest},
            "table": table.full_name,
        }
        condition = source.range_condition(keys, after=last, upto=newest)
        return source.read(self.spark, where=condition)

    # ---- transforms --------------------------------------------------------------------------

    @staticmethod
    def drop_null_fields(df: DataFrame) -> DataFrame:
        """Drop the columns that are null in every row (Glue's DropNullFields)."""
        from pyspark.sql import functions as F

        counts = df.agg(*(F.count(F.col(f"`{c}`")).alias(c) for c in df.columns)).first()
        empty = [c for c in df.columns if counts is None or counts[c] == 0]
        return df.drop(*empty) if empty else df

    # ---- writing -----------------------------------------------------------------------------

    def write_table(
        self,
        df: DataFrame,
        *,
        database: str,
        table: str,
        path: str,
        format: str = "parquet",
        partition_by: Sequence[str] = (),
        mode: str = "append",
    ) -> None:
        """Write ``df`` to ``path`` and create or update the catalog table and its partitions."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        location = self.catalog.resolve_location(path, what=f"target path '{path}'")
        missing = [c for c in partition_by if c not in df.columns]
        if missing:
            raise InvalidInput(f"partition column '{missing[0]}' is not a column of the output")
        before = {p: size for p, _, size in data_files(location)} if Path(location).exists() else {}
        if format == "avro":
            # Spark writes Avro only with spark-avro; its tasks write fastavro files instead,
            # which Spark's task metrics do not count as output records.
            from sparkglue.spark.avro import write_avro

            self._avro_rows += write_avro(df, location, mode=mode, partition_by=partition_by)
        else:
            out = df
            if not self._task_metrics:
                observation = Observation(f"write_{table}")
                self._observations.append(("records_written", observation))
                out = df.observe(observation, F.count(F.lit(1)).alias("rows"))
            writer = out.write.format(format).mode(mode)
            if format == "csv":
                writer = writer.option("header", "true")
            if partition_by:
                writer = writer.partitionBy(*partition_by)
            writer.save(location)
        after = data_files(location)
        self.metrics["bytes_written"] += sum(s for p, _, s in after if before.get(p) != s)
        self.register_output(df, database, table, location, format, list(partition_by))

    def register_output(
        self,
        df: DataFrame,
        database: str,
        name: str,
        location: str,
        fmt: str,
        partition_by: list[str],
        *,
        update_schema: bool = True,
    ) -> None:
        """Create the catalog table of what was written (or update its columns, unless
        ``update_schema`` is off) and add its new partition folders."""
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        parameters = {"classification": fmt, "UPDATED_BY_JOB": self.name}
        if fmt == "csv":
            parameters["skip.header.line.count"] = "1"
        table_input = TableInput(
            name=name,
            columns=[Column(name=c, type=types[c]) for c in df.columns if c not in partition_by],
            partition_keys=[Column(name=c, type=types[c]) for c in partition_by],
            location=location,
            parameters=parameters,
        )
        try:
            self.catalog.get_database(database)
        except EntityNotFound:
            from sparkglue.catalog import DatabaseInput

            self.catalog.create_database(DatabaseInput(name=database))
        try:
            current = self.catalog.get_table(database, name)
        except EntityNotFound:
            current = None
        if current is None:
            self.catalog.create_table(database, table_input)
        elif update_schema and (
            [(c.name, c.type) for c in current.columns]
            != [(c.name, c.type) for c in table_input.columns]
            or [c.name for c in current.partition_keys] != partition_by
            or current.location != location
        ):
            self.catalog.update_table(database, table_input)
        if partition_by:
            self._add_partitions(database, name, location, len(partition_by))
        self._binding.forget(database, name)

    def register_partitions(self, table: Table, location: str) -> None:
        """Add the ``key=value`` folders under ``location`` missing from the table's
        partitions."""
        self._add_partitions(table.database, table.name, location, len(table.partition_keys))
        self._binding.forget(table.database, table.name)

    def _add_partitions(self, database: str, name: str, location: str, depth: int) -> None:
        found = []
        for folder in sorted(Path(location).glob("/".join(["*"] * depth))):
            parts = folder.relative_to(location).parts
            if folder.is_dir() and all("=" in p for p in parts):
                values = [unquote(p.split("=", 1)[1]) for p in parts]
                values_or_null = [None if v == "__HIVE_DEFAULT_PARTITION__" else v for v in values]
                found.append(PartitionInput(values=values_or_null, location=str(folder)))
        self.catalog.create_partitions(database, name, found, if_not_exists=True)

    # ---- the end -----------------------------------------------------------------------------

    def commit(self) -> None:
        """Record the new bookmark state and the run's metrics for the runner (Glue's
        ``job.commit()``); without a runner it only prints the metrics."""
        if self._task_metrics:
            self.metrics.update(_task_records(self.spark))
            if "records_read" in self.metrics:
                self.metrics["records_read"] -= self._probe_rows
        for key, observation in self._observations:
            self.metrics[key] = self.metrics.get(key, 0) + _observed_rows(observation)
        if self._avro_rows:
            self.metrics["records_written"] = (
                self.metrics.get("records_written", 0) + self._avro_rows
            )
        self.metrics["seconds"] = round(time.perf_counter() - self._started, 3)
        result = {"bookmark": self._pending, "metrics": self.metrics}
        target = os.environ.get(RESULT_ENV)
        if target:
            tmp = Path(target + ".tmp")
            tmp.write_text(json.dumps(result), encoding="utf-8")
            tmp.replace(target)
        print(f"job {self.name}: committed; metrics {json.dumps(self.metrics)}", flush=True)
