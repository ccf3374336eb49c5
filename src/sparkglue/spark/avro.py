"""Writing a DataFrame as Avro files without the spark-avro package.

Spark writes Avro only through its spark-avro module, which pip's PySpark does not ship. Here
each task writes its rows with fastavro (the reader sparkglue already uses) into a staging folder
under the target; the driver moves the files into place only when every task has succeeded, so
a failed write leaves the target as it was. The layout is Spark's: ``key=value`` folders for the
partition columns (values escaped as Spark escapes them, nulls as ``__HIVE_DEFAULT_PARTITION__``),
``part-…`` files, a ``_SUCCESS`` marker. The schema is what spark-avro writes: a record named
``topLevelRecord``, a nullable field as a union with ``null``, dates, timestamps (micros) and
decimals as Avro logical types.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkglue.catalog.service import escape_path_name
from sparkglue.errors import InvalidInput, SparkError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType, StructType

__all__ = ["CODECS", "avro_schema", "write_avro"]

# Spark's names for the codecs (spark.sql.avro.compression.codec) → fastavro's.
CODECS = {
    "uncompressed": "null",
    "none": "null",
    "null": "null",
    "snappy": "snappy",
    "deflate": "deflate",
    "bzip2": "bzip2",
    "xz": "xz",
    "zstandard": "zstandard",
    "zstd": "zstandard",
}
_MODES = {"append", "overwrite", "error", "errorifexists", "ignore"}
_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Spark's simple types (by their SQL names) as Avro's primitive types.
_PRIMITIVES = {
    "boolean": "boolean",
    "tinyint": "int",
    "smallint": "int",
    "int": "int",
    "bigint": "long",
    "float": "float",
    "double": "double",
    "string": "string",
    "varchar": "string",
    "char": "string",
    "binary": "bytes",
}


def _avro_type(data_type: DataType, name: str, nullable: bool, space: str) -> Any:
    from pyspark.sql import types as T

    kind: Any
    simple = data_type.simpleString().split("(")[0]
    if simple in _PRIMITIVES:
        kind = _PRIMITIVES[simple]
    elif isinstance(data_type, T.DateType):
        kind = {"type": "int", "logicalType": "date"}
    elif isinstance(data_type, T.TimestampType | T.TimestampNTZType):
        logical = "timestamp-micros" if isinstance(data_type, T.TimestampType) else None
        kind = {"type": "long", "logicalType": logical or "local-timestamp-micros"}
    elif isinstance(data_type, T.DecimalType):
        kind = {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": data_type.precision,
            "scale": data_type.scale,
        }
    elif isinstance(data_type, T.ArrayType):
        kind = {
            "type": "array",
            "items": _avro_type(data_type.elementType, name, data_type.containsNull, space),
        }
    elif isinstance(data_type, T.MapType):
        if not isinstance(data_type.keyType, T.StringType):
            raise InvalidInput(
                f"Avro maps have string keys; column '{name}' is "
                f"{data_type.simpleString()}: cast its keys to string first"
            )
        kind = {
            "type": "map",
            "values": _avro_type(data_type.valueType, name, data_type.valueContainsNull, space),
        }
    elif isinstance(data_type, T.StructType):
        kind = _record(data_type, name, space)
    else:
        raise InvalidInput(
            f"column '{name}' is {data_type.simpleString()}, which Avro cannot hold; cast it "
            "to string first"
        )
    return [kind, "null"] if nullable else kind


def _record(schema: StructType, name: str, space: str) -> dict[str, Any]:
    """A record; a nested one is named after its field, in the namespace of its path (as
    spark-avro names them), so names never clash."""
    inner = f"{space}.{name}" if space else name
    record: dict[str, Any] = {"type": "record", "name": name}
    if space:
        record["namespace"] = space
    record["fields"] = [
        {"name": f.name, "type": _avro_type(f.dataType, f.name, f.nullable, inner)}
        for f in schema.fields
    ]
    return record


def avro_schema(schema: StructType) -> dict[str, Any]:
    """The Avro schema spark-avro writes for a Spark schema (``topLevelRecord``).

    Raises:
        InvalidInput: a column has a type Avro cannot hold (a map with non-string keys, an
            interval, a variant); the message names it.
    """
    for field in schema.fields:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field.name):
            raise InvalidInput(
                f"column '{field.name}' is not a valid Avro field name (letters, digits and _, "
                "not starting with a digit); rename it first"
            )
    return _record(schema, "topLevelRecord", "")


def _records(batch: Any, names: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Rows of an Arrow batch as Avro records (maps as dicts, the rest as Arrow gives them)."""
    import pyarrow as pa

    columns = []
    for name in names:
        column = batch.column(batch.schema.get_field_index(name))
        values = column.to_pylist()
        if _has_map(column.type, pa):
            values = [_maps_to_dicts(v, column.type, pa) for v in values]
        columns.append(values)
    for row in zip(*columns, strict=True):
        yield dict(zip(names, row, strict=True))


def _has_map(arrow_type: Any, pa: Any) -> bool:
    if pa.types.is_map(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _has_map(arrow_type.value_type, pa)
    if pa.types.is_struct(arrow_type):
        return any(_has_map(arrow_type.field(i).type, pa) for i in range(arrow_type.num_fields))
    return False


def _maps_to_dicts(value: Any, arrow_type: Any, pa: Any) -> Any:
    """A value as Arrow gives it, with its maps (lists of key-value pairs) made dicts."""
    if value is None:
        return None
    if pa.types.is_map(arrow_type):
        return {k: _maps_to_dicts(v, arrow_type.item_type, pa) for k, v in value}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return [_maps_to_dicts(v, arrow_type.value_type, pa) for v in value]
    if pa.types.is_struct(arrow_type):
        fields = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        return {f.name: _maps_to_dicts(value.get(f.name), f.type, pa) for f in fields}
    return value


def write_avro(
    df: DataFrame,
    path: str | Path,
    *,
    mode: str = "errorifexists",
    partition_by: Sequence[str] = (),
    compression: str = "snappy",
) -> int:
    """Write ``df`` under the local folder ``path`` as Avro files; the number of rows written.

    ``mode`` is Spark's (append, overwrite, error/errorifexists, ignore); ``compression`` one of
    uncompressed, snappy (Spark's default), deflate, bzip2, xz, zstandard.

    Raises:
        InvalidInput: a bad mode, codec, partition column or column type (nothing is written).
        SparkError: a task failed; the target is as it was.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    if mode.lower() not in _MODES:
        raise InvalidInput(f"write mode '{mode}' is not one of {', '.join(sorted(_MODES))}")
    codec = CODECS.get(compression.lower())
    if codec is None:
        raise InvalidInput(
            f"Avro compression '{compression}' is not one of uncompressed, snappy, deflate, "
            "bzip2, xz, zstandard"
        )
    missing = [c for c in partition_by if c not in df.columns]
    if missing:
        raise InvalidInput(f"partition column '{missing[0]}' is not a column of the output")
    data_columns = [c for c in df.columns if c not in partition_by]
    if not data_columns:
        raise InvalidInput("every column is a partition column; Avro files need one more")
    schema = avro_schema(StructType([f for f in df.schema.fields if f.name not in partition_by]))
    target = Path(path)
    mode = mode.lower()
    if target.exists() and any(target.iterdir()):
        if mode in ("error", "errorifexists"):
            raise InvalidInput(
                f"{target} already has files; write with mode append or overwrite, or choose "
                "another path"
            )
        if mode == "ignore":
            return 0
    staging = target / "_temporary" / uuid.uuid4().hex
    keys = [f"_sg_part_{i}" for i in range(len(partition_by))]
    select = [F.col(f"`{c}`") for c in data_columns]
    select += [
        F.col(f"`{c}`").cast("string").alias(k) for c, k in zip(partition_by, keys, strict=True)
    ]
    rows = df.select(*select)
    staged = str(staging)
    names = list(data_columns)

    def write_partition(batches: Iterable[Any]) -> Iterable[Any]:
        import fastavro
        import pyarrow as pa

        files = _TaskFiles(staged, list(partition_by), fastavro.parse_schema(schema), codec)
        try:
            for batch in batches:
                for value, part in _groups(batch, keys, pa):
                    writer = files.writer(value)
                    for record in _records(part, names):
                        writer.write(record)
                    files.counts[value] += part.num_rows
        finally:
            files.close()
        yield pa.RecordBatch.from_pylist(
            [{"file": f, "rows": files.counts[v]} for v, f in files.paths.items()],
            schema=pa.schema([("file", pa.string()), ("rows", pa.int64())]),
        )

    try:
        done = rows.mapInArrow(write_partition, "file string, rows long").collect()
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        _drop_empty(target / "_temporary")
        text = str(exc).strip()
        causes = [x for x in text.splitlines() if "Error" in x or "Exception" in x]
        first = causes[-1] if causes else (text.splitlines()[0] if text else type(exc).__name__)
        raise SparkError(f"writing Avro to {target} failed: {first.strip()[:300]}") from exc
    if mode == "overwrite" and target.exists():
        for child in target.iterdir():
            if child.name == "_temporary":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    for row in done:
        source = Path(row["file"])
        destination = target / source.relative_to(staging)
        destination.parent.mkdir(parents=True, exist_ok=True)
        source.replace(destination)
    shutil.rmtree(staging, ignore_errors=True)
    _drop_empty(target / "_temporary")
    target.mkdir(parents=True, exist_ok=True)
    (target / "_SUCCESS").touch()
    return sum(int(row["rows"]) for row in done)


def _drop_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _groups(batch: Any, keys: Sequence[str], pa: Any) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """The rows of a batch by their partition values (one group without partition columns)."""
    if not keys:
        yield (), batch
        return
    columns = [batch.column(batch.schema.get_field_index(k)).to_pylist() for k in keys]
    rows: dict[tuple[Any, ...], list[int]] = {}
    for i, value in enumerate(zip(*columns, strict=True)):
        rows.setdefault(value, []).append(i)
    for value, indices in rows.items():
        yield value, batch.take(pa.array(indices, pa.int64()))


class _TaskFiles:
    """One task's open Avro files: one per partition value, in its ``key=value`` folder."""

    def __init__(self, staged: str, columns: list[str], schema: Any, codec: str) -> None:
        self.staged, self.columns, self.schema, self.codec = Path(staged), columns, schema, codec
        self.task = uuid.uuid4().hex[:12]
        self.open: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self.paths: dict[tuple[Any, ...], str] = {}
        self.counts: dict[tuple[Any, ...], int] = {}

    def writer(self, value: tuple[Any, ...]) -> Any:
        if value not in self.open:
            import fastavro

            folder = self.staged.joinpath(
                *(
                    f"{escape_path_name(c)}="
                    + (_NULL_PARTITION if v is None else escape_path_name(str(v)))
                    for c, v in zip(self.columns, value, strict=True)
                )
            )
            folder.mkdir(parents=True, exist_ok=True)
            suffix = "avro" if self.codec == "null" else f"{self.codec}.avro"
            path = folder / f"part-{len(self.open):05d}-{self.task}.{suffix}"
            handle = path.open("wb")
            self.open[value] = (
                handle,
                fastavro.write.Writer(handle, self.schema, codec=self.codec),
            )
            self.paths[value] = str(path)
            self.counts[value] = 0
        return self.open[value][1]

    def close(self) -> None:
        for handle, writer in self.open.values():
            writer.flush()
            handle.close()
