"""Reading and writing files and JDBC tables the way Glue's readers and writers do."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from awsglue._options import (
    FORMAT_OPTIONS,
    JDBC_TYPES,
    UNSUPPORTED_FORMATS,
    UnsupportedOption,
    check_options,
    flag,
)
from awsglue._types import choice_column, quote

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

_VARIANT_KINDS = {
    "BIGINT": "long",
    "INT": "long",
    "SMALLINT": "long",
    "TINYINT": "long",
    "DOUBLE": "double",
    "FLOAT": "double",
    "DECIMAL": "double",
    "STRING": "string",
    "BOOLEAN": "boolean",
    "OBJECT": "struct",
    "ARRAY": "array",
    "DATE": "string",
    "TIMESTAMP": "string",
}
_MEMBER_TYPES = {"long": "bigint", "double": "double", "string": "string", "boolean": "boolean"}


def check_format(fmt: str | None, options: Mapping[str, Any] | None, where: str) -> str:
    """The format name, lower-case; a clear error for formats and options not supported."""
    if not fmt:
        raise ValueError(f"{where}: give format= (csv, json, parquet, orc, avro, xml)")
    name = fmt.strip().lower()
    if name in (f.lower() for f in UNSUPPORTED_FORMATS):
        raise UnsupportedOption(f"{where}: format '{fmt}' is not supported by sparkglue's awsglue")
    if name not in FORMAT_OPTIONS:
        raise ValueError(f"{where}: unknown format '{fmt}'; use {', '.join(FORMAT_OPTIONS)}")
    rules = FORMAT_OPTIONS[name]
    check_options(options, where=f"{where} ({name})", rules=rules)
    return name


def list_files(
    paths: Sequence[str], *, recurse: bool, exclusions: Sequence[str] = ()
) -> list[tuple[str, float, int]]:
    """(path, mtime, size) of the data files under ``paths`` (see ``data_files``); a path that
    does not exist is an error."""
    from sparkglue.jobs.runtime import data_files

    found: list[tuple[str, float, int]] = []
    for given in paths:
        if not Path(given).exists():
            raise FileNotFoundError(f"path '{given}' does not exist")
        found.extend(data_files(given, recurse=recurse, exclusions=exclusions))
    return found


def empty_frame(spark: SparkSession) -> DataFrame:
    """A DataFrame with no rows and no columns (nothing was read)."""
    return spark.createDataFrame([], "value string").drop("value")


def read_files(
    spark: SparkSession,
    files: Sequence[str],
    fmt: str,
    format_options: Mapping[str, Any],
    *,
    base_paths: Sequence[str] = (),
) -> tuple[DataFrame, list[str], DataFrame | None]:
    """(data, CSV text columns still to type, malformed records) of ``files`` in ``fmt``."""
    from pyspark.sql import functions as F

    options = dict(format_options)
    if not files:
        return empty_frame(spark), [], None
    if fmt == "csv":
        reader = spark.read.option("sep", str(options.get("separator", ",")))
        quote_char = options.get("quoteChar", '"')
        reader = reader.option("quote", "\u0000" if str(quote_char) == "-1" else str(quote_char))
        if "escaper" in options:
            reader = reader.option("escape", str(options["escaper"]))
        header = flag(options.get("withHeader"), False)
        skip_first = flag(options.get("skipFirst"), False)
        reader = reader.option("header", header or skip_first)
        reader = reader.option(
            "multiLine", flag(options.get("multiLine", options.get("multiline")), False)
        )
        if len(base_paths) == 1:
            reader = reader.option("basePath", base_paths[0])
        df = reader.csv(list(files))
        if not header:
            df = df.toDF(*(f"col{i}" for i in range(len(df.columns))))
        return df, list(df.columns), None
    if fmt == "json":
        multi = flag(options.get("multiLine", options.get("multiline")), False)
        if "jsonPath" in options:
            return json_path_records(spark, files, str(options["jsonPath"])), [], None
        reader = spark.read.option("multiLine", multi)
        if len(base_paths) == 1:
            reader = reader.option("basePath", base_paths[0])
        inferred = reader.json(list(files))
        if multi:
            return split_corrupt(inferred)
        texts = spark.read.text(list(files)).where(F.trim("value") != "")
        return with_json_choices(inferred, texts)
    if fmt in ("parquet", "glueparquet", "orc"):
        reader = spark.read
        if len(base_paths) == 1:
            reader = reader.option("basePath", base_paths[0])
        return reader.format("orc" if fmt == "orc" else "parquet").load(list(files)), [], None
    if fmt == "xml":
        row_tag = options.get("rowTag")
        if not row_tag:
            raise ValueError("format xml needs format_options rowTag (the element of a record)")
        reader = spark.read.format("xml").option("rowTag", str(row_tag))
        for key in ("encoding", "attributePrefix", "valueTag"):
            if key in options:
                reader = reader.option(key, str(options[key]))
        return reader.load(list(files)), [], None
    if fmt == "avro":
        return avro_records(spark, files, base_paths), [], None
    raise ValueError(f"format '{fmt}' cannot be read")


def split_corrupt(df: DataFrame) -> tuple[DataFrame, list[str], DataFrame | None]:
    """Rows Spark could not parse (``_corrupt_record``) become error records."""
    from pyspark.sql import functions as F

    if "_corrupt_record" not in df.columns:
        return df, [], None
    cached = df.cache()
    errors = cached.where(F.col("_corrupt_record").isNotNull()).select(
        F.lit("read").alias("transformation"),
        F.lit("malformed record").alias("error"),
        F.col("_corrupt_record").alias("record"),
    )
    data = cached.where(F.col("_corrupt_record").isNull()).drop("_corrupt_record")
    return data, [], errors


def with_json_choices(
    inferred: DataFrame, texts: DataFrame
) -> tuple[DataFrame, list[str], DataFrame | None]:
    """JSON records with choice types: a field whose values have different JSON types in
    different records (Spark widens those to string) becomes a choice, at the top level or
    inside structs (not inside arrays)."""
    from pyspark.sql import functions as F

    data, _, errors = split_corrupt(inferred)
    candidates = _string_paths(data.schema)
    if not candidates:
        return data, [], errors
    parsed = texts.select(F.try_parse_json("value").alias("v")).where("v IS NOT NULL")

    def kind(path: tuple[str, ...]) -> Column:
        return F.schema_of_variant(F.try_variant_get("v", _path(*path), "variant"))

    row = parsed.agg(
        *(F.collect_set(kind(p)).alias(f"_{i}") for i, p in enumerate(candidates))
    ).first()
    members: dict[tuple[str, ...], list[str]] = {}
    for i, path in enumerate(candidates):
        seen = sorted(
            {
                _VARIANT_KINDS.get(t.split("(")[0].split("<")[0], "string")
                for t in (row[i] if row is not None else [])
                if t != "NULL"
            }
        )
        if {"long", "double"} <= set(seen):
            seen.remove("long")
        if len(seen) > 1:
            members[path] = seen
    if not members:
        return data, [], errors
    records = texts.select(
        F.from_json("value", data.schema).alias("r"), F.try_parse_json("value").alias("v")
    ).where("v IS NOT NULL")
    columns = [
        _choice_field(F.col("r").getField(f.name), f, (f.name,), members)
        for f in data.schema.fields
    ]
    return records.select(*columns), [], errors


def _string_paths(schema: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the string fields of a schema, through structs (Spark widens a field with
    values of mixed JSON types to string)."""
    from pyspark.sql.types import StringType, StructType

    found: list[tuple[str, ...]] = []
    for field in schema.fields:
        path = (*prefix, field.name)
        if isinstance(field.dataType, StringType):
            found.append(path)
        elif isinstance(field.dataType, StructType):
            found += _string_paths(field.dataType, path)
    return found


def _choice_field(
    value: Column, field: Any, path: tuple[str, ...], members: dict[tuple[str, ...], list[str]]
) -> Column:
    """The column of ``field`` (at ``path``) with its choices made: a choice itself, a struct
    rebuilt around the choices inside it (null where the record's struct is null), or as is."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    if path in members:
        sub = F.try_variant_get("v", _path(*path), "variant")
        tag = F.schema_of_variant(sub)
        pairs = []
        for member in members[path]:
            if member in _MEMBER_TYPES:
                picked = F.try_variant_get(sub, "$", _MEMBER_TYPES[member])
            else:
                picked = F.to_json(sub)
            # Whole numbers fold into a double member (a field of longs and doubles is double).
            kinds = {member, "long"} if member == "double" else {member}
            matches = F.lit(False)
            for t in (k for k, v in _VARIANT_KINDS.items() if v in kinds):
                matches = matches | tag.startswith(t)
            pairs.append((member, F.when(matches, picked)))
        return choice_column(pairs, field.name)
    inside = any(m[: len(path)] == path for m in members)
    if not inside or not isinstance(field.dataType, StructType):
        return value.alias(field.name)
    rebuilt = F.struct(
        *(
            _choice_field(value.getField(f.name), f, (*path, f.name), members)
            for f in field.dataType.fields
        )
    )
    return F.when(value.isNull(), F.lit(None)).otherwise(rebuilt).alias(field.name)


def _path(*names: str) -> str:
    return "$" + "".join(
        "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']" for name in names
    )


def json_frame(spark: SparkSession, texts: Any) -> DataFrame:
    """A DataFrame from an RDD of JSON texts (one record each), with choice types."""
    texts = texts.cache()
    if texts.isEmpty():
        return empty_frame(spark)
    import json

    inferred = spark.read.json(texts)
    lines = spark.createDataFrame(texts.map(lambda s: (s,)), "value string")
    data, _, _ = with_json_choices(inferred, lines)
    first = json.loads(texts.first())
    order = [k for k in first if k in data.columns] if isinstance(first, dict) else []
    order += [c for c in data.columns if c not in order]
    return data.select(*(quote(c) for c in order))  # the fields in the records' order


def json_path_records(spark: SparkSession, files: Sequence[str], json_path: str) -> DataFrame:
    """Records picked out of JSON documents by a JSONPath such as ``$.records[*]``."""
    import json

    steps = _json_path_steps(json_path)

    def pick(content: str) -> list[str]:
        nodes: list[Any] = [json.loads(content)]
        for step in steps:
            nxt: list[Any] = []
            for node in nodes:
                if step == "*":
                    if isinstance(node, list):
                        nxt.extend(node)
                    elif isinstance(node, dict):
                        nxt.extend(node.values())
                elif isinstance(node, dict) and step in node:
                    nxt.append(node[step])
                elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                    nxt.append(node[int(step)])
            nodes = nxt
        return [json.dumps(n) for n in nodes if isinstance(n, dict)]

    texts = spark.sparkContext.wholeTextFiles(",".join(files)).flatMap(lambda kv: pick(kv[1]))
    return json_frame(spark, texts)


def _json_path_steps(json_path: str) -> list[str]:
    import re

    text = json_path.strip()
    if not text.startswith("$"):
        raise ValueError(f"jsonPath '{json_path}' must start with $ (e.g. $.records[*])")
    steps = re.findall(r"\.([A-Za-z_][\w-]*)|\[\*\]|\[(\d+)\]|\['([^']*)'\]|\.(\*)", text[1:])
    rebuilt = []
    for name, index, quoted, star in steps:
        rebuilt.append(name or index or quoted or star or "*")
    return rebuilt


def avro_records(
    spark: SparkSession, files: Sequence[str], base_paths: Sequence[str] = ()
) -> DataFrame:
    """Avro files read with fastavro (Spark ships no Avro reader), as JSON records; the
    ``key=value`` folders between a base path and a file add partition fields, typed as
    Spark's partition discovery types them (integers, decimals, else strings)."""
    bases = [str(Path(b).resolve()) for b in base_paths]

    def read(path: str) -> list[str]:
        import fastavro

        from awsglue.dynamicframe import _dumps

        partition = _partition_values(path, bases)
        with open(path, "rb") as handle:  # noqa: PTH123
            records: Any = fastavro.reader(handle)
            return [_dumps({**record, **partition}) for record in records]

    texts = spark.sparkContext.parallelize(list(files), max(1, len(files))).flatMap(read)
    return json_frame(spark, texts)


def _partition_values(path: str, bases: Sequence[str]) -> dict[str, Any]:
    from urllib.parse import unquote

    folder = Path(path).resolve().parent
    base = next((b for b in bases if folder.is_relative_to(b)), None)
    if base is None:
        return {}
    values: dict[str, Any] = {}
    for part in folder.relative_to(base).parts:
        key, sep, raw = part.partition("=")
        if not sep or not key:
            continue
        text = unquote(raw)
        if text == "__HIVE_DEFAULT_PARTITION__":
            values[unquote(key)] = None
            continue
        value: Any = text
        if re.fullmatch(r"-?\d{1,18}", text):
            value = int(text)
        elif re.fullmatch(r"-?\d+\.\d+", text):
            value = float(text)
        values[unquote(key)] = value
    return values


def write_files(
    df: DataFrame,
    path: str,
    fmt: str,
    format_options: Mapping[str, Any],
    partition_keys: Sequence[str],
    *,
    compression: str | None = None,
) -> None:
    """Append ``df`` under ``path`` in ``fmt`` (Glue's S3 sink appends)."""
    options = dict(format_options)
    if not df.columns:
        return  # nothing was read (e.g. no new files for a bookmark): nothing to write
    missing = [k for k in partition_keys if k not in df.columns]
    if missing:
        raise ValueError(f"partition key '{missing[0]}' is not a field of the frame")
    writer = df.write.mode("append")
    if partition_keys:
        writer = writer.partitionBy(*partition_keys)
    codec = options.get("compression", compression)
    if fmt == "csv":
        writer = writer.option("header", flag(options.get("writeHeader"), True))
        writer = writer.option("sep", str(options.get("separator", ",")))
        writer = writer.option("quote", str(options.get("quoteChar", '"')))
        if codec:
            writer = writer.option("compression", str(codec))
        writer.csv(path)
    elif fmt == "json":
        if codec:
            writer = writer.option("compression", str(codec))
        writer.json(path)
    elif fmt in ("parquet", "glueparquet", "orc"):
        if codec:
            writer = writer.option("compression", str(codec))
        writer.format("orc" if fmt == "orc" else "parquet").save(path)
    elif fmt == "xml":
        row_tag = options.get("rowTag", "row")
        writer.format("xml").option("rowTag", str(row_tag)).save(path)
    elif fmt == "avro":
        from sparkglue.errors import InvalidInput
        from sparkglue.spark.avro import write_avro

        if "://" in path and not path.startswith("file:"):
            raise UnsupportedOption(f"writing Avro to '{path}': only local paths are supported")
        try:
            write_avro(
                df,
                path.removeprefix("file://").removeprefix("file:"),
                mode="append",
                partition_by=partition_keys,
                compression=str(codec or "snappy"),
            )
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
    else:
        raise UnsupportedOption(
            f"writing format '{fmt}' is not supported; write parquet, orc, csv, json, avro or xml"
        )


def jdbc_options(connection_type: str, options: Mapping[str, Any], where: str) -> dict[str, str]:
    """Spark JDBC options for Glue's JDBC connection options."""
    from awsglue._options import JDBC

    kept = check_options(options, where=where, rules=JDBC)
    url = kept.get("url")
    if not url:
        raise ValueError(f"{where}: connection_options needs 'url' (jdbc:{connection_type}://…)")
    driver = JDBC_TYPES[connection_type]
    url = str(url)
    if connection_type == "mysql" and url.startswith("jdbc:mysql:"):
        url = "jdbc:mariadb:" + url[len("jdbc:mysql:") :]  # the MariaDB driver Debian ships
    out = {"url": url, "driver": str(kept.get("customJdbcDriverClassName", driver))}
    if "query" in kept:
        out["query"] = str(kept["query"])
    elif "dbtable" in kept:
        out["dbtable"] = str(kept["dbtable"])
    else:
        raise ValueError(f"{where}: connection_options needs 'dbtable' (or 'query')")
    for key in ("user", "password"):
        if key in kept:
            out[key] = str(kept[key])
    return out


def jdbc_error(exc: Exception, url: str) -> str:
    text = str(exc)
    if "No suitable driver" in text or "ClassNotFoundException" in text:
        return (
            f"Spark has no JDBC driver for {url.split('//')[0]}; install the OS package "
            "(Debian/Ubuntu: libpostgresql-jdbc-java or libmariadb-java) so spark.jars finds it"
        )
    # The database's own words are in the JVM's last "Caused by:" line, not in py4j's first.
    causes = [line for line in text.splitlines() if line.startswith("Caused by: ")]
    if causes:
        first = causes[-1].removeprefix("Caused by: ").split(": ", 1)[-1]
    else:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"JDBC {url.split('//')[0]} failed: {first[:300]}"


__all__ = [
    "check_format",
    "empty_frame",
    "jdbc_error",
    "jdbc_options",
    "json_frame",
    "list_files",
    "read_files",
    "write_files",
]
