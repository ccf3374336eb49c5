"""``sparkglue_files``: a Spark data source (Python) for files Spark cannot read by itself.

Avro without the spark-avro package, text compressed with LZ4 frames or framed Snappy (Hadoop's
codecs expect other layouts), grok-parsed log lines, and JSON whose records sit at a JsonPath.
Spark calls it like any source; each file is one input partition, read as a stream (a JSON
document, as opposed to JSON Lines, is parsed whole). Partition
columns come from the catalog (``sg_files`` pairs each file with its partition values).

Executors import this module, so on a cluster sparkglue must be installed where Python workers
run (``spark.pyspark.python``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegralType,
    MapType,
    StructType,
    TimestampType,
)

__all__ = ["OPTIONS_PREFIX", "SparkGlueFiles"]

OPTIONS_PREFIX = "sparkglue_files:"

_STREAM_CHUNK = 1 << 20


def _convert(value: Any, data_type: DataType) -> Any:
    """A parsed value as the Python object Spark expects for ``data_type`` (None if it cannot)."""
    if value is None or (value == "" and not isinstance(data_type, (StructType, ArrayType))):
        return None
    try:
        if isinstance(data_type, StructType):
            if not isinstance(value, dict):
                return None
            return tuple(_convert(value.get(f.name), f.dataType) for f in data_type.fields)
        if isinstance(data_type, ArrayType):
            return (
                [_convert(v, data_type.elementType) for v in value]
                if isinstance(value, list)
                else None
            )
        if isinstance(data_type, MapType):
            return (
                {str(k): _convert(v, data_type.valueType) for k, v in value.items()}
                if isinstance(value, dict)
                else None
            )
        if isinstance(data_type, BooleanType):
            return value if isinstance(value, bool) else str(value).strip().lower() == "true"
        if isinstance(data_type, IntegralType):
            return int(value)
        if isinstance(data_type, (DoubleType, FloatType)):
            return float(value)
        if isinstance(data_type, DecimalType):
            return Decimal(str(value))
        if isinstance(data_type, TimestampType):
            return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if isinstance(data_type, DateType):
            return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if isinstance(data_type, BinaryType):
            return bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode()
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)
    except (TypeError, ValueError, ArithmeticError):
        return None


def _text_stream(path: str, compression: str | None) -> io.TextIOBase:
    from sparkglue.formats.compression import open_decompressed

    return io.TextIOWrapper(
        open_decompressed(Path(path), compression), encoding="utf-8", errors="replace", newline=""
    )


class _Reader(DataSourceReader):
    def __init__(self, options: dict[str, str], schema: StructType) -> None:
        comment = str(schema.fields[0].metadata.get("comment", "")) if schema.fields else ""
        if comment.startswith(OPTIONS_PREFIX):
            options = {**json.loads(comment[len(OPTIONS_PREFIX) :]), **dict(options)}
        if "sg_files" not in options:
            raise ValueError(
                "sparkglue_files needs its options (register the table with sparkglue)"
            )
        self.options = options
        self.schema = schema
        self.files: list[list[Any]] = json.loads(options["sg_files"])
        self.partition_count = int(options.get("sg_partition_columns", "0"))

    def partitions(self) -> list[InputPartition]:
        return [InputPartition(i) for i in range(len(self.files))]

    def read(self, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
        path, values = self.files[partition.value]
        fields = self.schema.fields
        data_fields = fields[: len(fields) - self.partition_count]
        part_fields = fields[len(fields) - self.partition_count :]
        suffix = tuple(_convert(v, f.dataType) for v, f in zip(values, part_fields, strict=True))
        fmt = self.options["sg_format"]
        records = {"avro": self._avro, "csv": self._csv, "json": self._json, "grok": self._grok}[
            fmt
        ]
        for record in records(path):
            if isinstance(record, dict):
                lowered = {str(k).lower(): v for k, v in record.items()}
                row = tuple(_convert(lowered.get(f.name.lower()), f.dataType) for f in data_fields)
            else:
                padded = list(record) + [None] * (len(data_fields) - len(record))
                row = tuple(
                    _convert(v, f.dataType) for v, f in zip(padded, data_fields, strict=False)
                )
            yield row + suffix

    def _avro(self, path: str) -> Iterator[Any]:
        import fastavro

        with Path(path).open("rb") as fh:
            yield from fastavro.reader(fh)

    def _csv(self, path: str) -> Iterator[Any]:
        o = self.options
        with _text_stream(path, o.get("sg_compression") or None) as text:
            reader = csv.reader(text, delimiter=o.get("sep", ","), quotechar=o.get("quote", '"'))
            if o.get("header") == "true":
                next(reader, None)
            null = o.get("nullValue")
            for row in reader:
                if row:
                    yield [None if null is not None and v == null else v for v in row]

    def _json(self, path: str) -> Iterator[Any]:
        from sparkglue.formats.jsonpath import parse_json_path, select

        o = self.options
        steps = parse_json_path(o["sg_json_path"]) if o.get("sg_json_path") else None
        with _text_stream(path, o.get("sg_compression") or None) as text:
            if o.get("multiLine") == "true" or steps is not None:
                document = json.load(text)
                items = (
                    select(document, steps)
                    if steps is not None
                    else (document if isinstance(document, list) else [document])
                )
                yield from items
            else:
                for line in text:
                    if line.strip():
                        yield json.loads(line)

    def _grok(self, path: str) -> Iterator[Any]:
        rx = re.compile(self.options["sg_grok_regex"])
        with _text_stream(path, self.options.get("sg_compression") or None) as text:
            for line in text:
                line = line.rstrip("\r\n")
                if not line.strip():
                    continue
                m = rx.fullmatch(line)
                yield list(m.groups()) if m else []


class SparkGlueFiles(DataSource):
    """Options: ``sg_format`` (avro|csv|json|grok), ``sg_files`` (JSON [[path, [values…]]…]),
    ``sg_partition_columns``, ``sg_compression``, csv's ``sep``/``quote``/``header``/
    ``nullValue``, ``sg_json_path``, ``multiLine``, ``sg_grok_regex``."""

    @classmethod
    def name(cls) -> str:
        return "sparkglue_files"

    def schema(self) -> str:
        raise ValueError("sparkglue_files tables declare their schema")

    def reader(self, schema: StructType) -> DataSourceReader:
        return _Reader(dict(self.options), schema)
