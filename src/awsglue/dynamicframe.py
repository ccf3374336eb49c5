"""``DynamicFrame``: Glue's self-describing frame, on a Spark DataFrame.

A DynamicFrame holds a DataFrame plus what Glue adds to it:

- **choice types**: a field whose records hold different types is a struct with one member per
  type (see :mod:`awsglue._types`); ``printSchema`` shows it as ``choice`` and ``resolveChoice``
  resolves it (``cast:``, ``project:``, ``make_cols``, ``make_struct``, ``match_catalog``);
- **lazily typed CSV columns**: columns read from CSV stay text until a type is needed; the
  first operation that needs the schema types them all in one pass over the data (a column
  with numbers and text becomes a choice). ``resolveChoice`` with ``cast:`` and ``apply_mapping``
  type columns themselves, so a read → resolve → map → write pipeline makes no extra pass;
- **error records**: records a ``Map``/``Filter`` function failed on, or malformed input
  records, are kept aside (``errorsCount``, ``errorsAsDynamicFrame``) and checked against
  ``stageThreshold`` / ``totalThreshold``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from awsglue._types import (
    choice_column,
    choices_of,
    field_at,
    glue_name,
    glue_type_name,
    is_choice,
    quote,
    schema_lines,
    spark_type_name,
    split_path,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

    from awsglue.context import GlueContext

__all__ = [
    "DynamicFrame",
    "DynamicFrameCollection",
    "DynamicFrameReader",
    "DynamicFrameWriter",
]

_LONG = r"^\s*[+-]?[0-9]{1,18}\s*$"
_DOUBLE = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
_ERROR_SCHEMA = "transformation string, error string, record string"


def _col(path: str) -> Column:
    """A column for a Glue path (``a.b`` nests, backticks quote)."""
    from pyspark.sql import functions as F

    return F.col(".".join(quote(p) for p in split_path(path)))


def _raw_type_expr(column: Column) -> Column:
    """1 for a long, 2 for a double, 4 for other text, 0 for null (bits, OR-ed per column)."""
    from pyspark.sql import functions as F

    return (
        F.when(column.isNull(), 0)
        .when(column.rlike(_LONG), 1)
        .when(column.rlike(_DOUBLE), 2)
        .otherwise(4)
    )


def _typed_raw(name: str, bits: int) -> Column:
    """A CSV text column typed by the kinds of values it holds (a choice when mixed)."""
    from pyspark.sql import functions as F

    raw = F.col(quote(name))
    numeric = "bigint" if bits & 3 == 1 else "double"
    number = F.trim(raw).try_cast(numeric)
    if bits & 3 and bits & 4:
        pattern = _LONG if numeric == "bigint" else f"{_LONG}|{_DOUBLE}"
        members = [
            (glue_name(numeric), F.when(raw.rlike(pattern), number)),
            ("string", F.when(~raw.rlike(pattern), raw)),
        ]
        return choice_column(members, name)
    if bits & 3:
        return number.alias(name)
    return raw.alias(name)


def _to_record(value: Any) -> Any:
    """A Row (or nested value) as plain Python: dicts, lists, scalars."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return {k: _to_record(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, dict):
        return {k: _to_record(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_record(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    import datetime
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not a record value")


def _dumps(record: Any) -> str:
    return json.dumps(record, default=_json_default)


class DynamicFrame:
    """A distributed collection of self-describing records (Glue's DynamicFrame).

    Build one with ``DynamicFrame.fromDF(df, glue_ctx, name)`` or through
    ``GlueContext.create_dynamic_frame``; ``toDF()`` gives the DataFrame back.
    """

    def __init__(self, jdf: DataFrame, glue_ctx: GlueContext, name: str = "") -> None:
        self._df = jdf
        self.glue_ctx = glue_ctx
        self.name = name
        self._raw: frozenset[str] = frozenset()  # CSV text columns not typed yet
        self._typed_cache: DataFrame | None = None
        self._errors: DataFrame | None = None  # all error records up to this frame
        self._stage_errors: DataFrame | None = None  # those of the stage that made it

    # ---- construction ------------------------------------------------------------------------

    @classmethod
    def _make(
        cls,
        df: DataFrame,
        glue_ctx: GlueContext,
        name: str = "",
        *,
        raw: Sequence[str] = (),
        errors: DataFrame | None = None,
        stage_errors: DataFrame | None = None,
    ) -> DynamicFrame:
        frame = cls(df, glue_ctx, name)
        frame._raw = frozenset(c for c in raw if c in df.columns)
        frame._errors = errors
        frame._stage_errors = stage_errors
        return frame

    def _derive(
        self,
        df: DataFrame,
        *,
        name: str | None = None,
        raw: Sequence[str] | None = None,
        stage_errors: DataFrame | None = None,
        thresholds: tuple[int, int] = (0, 0),
    ) -> DynamicFrame:
        errors = self._errors
        if stage_errors is not None:
            errors = stage_errors if errors is None else errors.unionByName(stage_errors)
        frame = DynamicFrame._make(
            df,
            self.glue_ctx,
            self.name if name is None else name,
            raw=sorted(self._raw) if raw is None else raw,
            errors=errors,
            stage_errors=stage_errors,
        )
        frame._check_thresholds(*thresholds)
        return frame

    @staticmethod
    def fromDF(dataframe: DataFrame, glue_ctx: GlueContext, name: str) -> DynamicFrame:
        """A DynamicFrame over a DataFrame."""
        return DynamicFrame(dataframe, glue_ctx, name)

    def toDF(self, options: Sequence[Any] | None = None) -> DataFrame:
        """The DataFrame (unresolved choices stay structs with one member per type)."""
        if options:
            from awsglue._options import UnsupportedOption

            raise UnsupportedOption("toDF: option 'options' (ResolveOption list) is not supported")
        return self._typed()

    def _typed(self) -> DataFrame:
        """The data with every CSV text column typed (one pass over the data, done once)."""
        if not self._raw:
            return self._df
        if self._typed_cache is None:
            from pyspark.sql import functions as F

            raw = [c for c in self._df.columns if c in self._raw]
            row = self._df.agg(
                *(
                    F.bit_or(_raw_type_expr(F.col(quote(c)))).alias(f"_{i}")
                    for i, c in enumerate(raw)
                )
            ).first()
            bits = {c: int(row[i] or 0) if row is not None else 0 for i, c in enumerate(raw)}
            self._typed_cache = self._df.select(
                *(
                    _typed_raw(c, bits[c]) if c in self._raw else F.col(quote(c))
                    for c in self._df.columns
                )
            )
        return self._typed_cache

    def _settle(self) -> DynamicFrame:
        """This frame with its text columns typed (the base of schema-changing transforms)."""
        if not self._raw:
            return self
        return DynamicFrame._make(
            self._typed(),
            self.glue_ctx,
            self.name,
            errors=self._errors,
            stage_errors=self._stage_errors,
        )

    # ---- looking -----------------------------------------------------------------------------

    def count(self) -> int:
        """The number of records."""
        return int(self._df.count())

    def schema(self) -> StructType:
        """The schema (a Spark StructType; choices are structs marked ``glue.choice``)."""
        return self._typed().schema

    def printSchema(self) -> None:
        """Print the schema as Glue does (``choice`` with its member types)."""
        print("\n".join(schema_lines(self.schema())))

    def show(self, num_rows: int = 20) -> None:
        """Print the first records as JSON, one per line."""
        for record in self._records(num_rows):
            print(_dumps(record))

    def _records(self, limit: int) -> list[dict[str, Any]]:
        df = self._typed()
        choices = _choice_paths(df.schema)
        return [_record_of(row, choices) for row in df.limit(limit).collect()]

    def getNumPartitions(self) -> int:
        """The number of partitions of the data."""
        return int(self._df.rdd.getNumPartitions())

    # ---- errors ------------------------------------------------------------------------------

    def _check_thresholds(self, stage_threshold: int, total_threshold: int) -> None:
        if stage_threshold > 0 and self._stage_errors is not None:
            n = self._stage_errors.count()
            if n > stage_threshold:
                raise RuntimeError(
                    f"{n} error records in this transformation exceed stageThreshold "
                    f"{stage_threshold}; see errorsAsDynamicFrame()"
                )
        if total_threshold > 0 and self._errors is not None:
            n = self._errors.count()
            if n > total_threshold:
                raise RuntimeError(
                    f"{n} error records so far exceed totalThreshold {total_threshold}; see "
                    "errorsAsDynamicFrame()"
                )

    def errorsCount(self) -> int:
        """Error records of all transformations that led to this frame."""
        return 0 if self._errors is None else int(self._errors.count())

    def stageErrorsCount(self) -> int:
        """Error records of the transformation that made this frame."""
        return 0 if self._stage_errors is None else int(self._stage_errors.count())

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        """The error records: the transformation, the error and the record (as JSON)."""
        errors = self._errors
        if errors is None:
            errors = self._session().createDataFrame([], _ERROR_SCHEMA)
        return DynamicFrame(errors, self.glue_ctx, f"{self.name}_errors")

    def assertErrorThreshold(self) -> None:
        """Raise when any transformation that led to this frame produced error records."""
        n = self.errorsCount()
        if n:
            first = self._errors.first() if self._errors is not None else None
            detail = f"; first: {first['error']}" if first is not None else ""
            raise RuntimeError(f"{n} error records{detail}")

    def _session(self) -> Any:
        return self._df.sparkSession

    # ---- field transforms --------------------------------------------------------------------

    def apply_mapping(
        self,
        mappings: Sequence[Sequence[str]],
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Select, rename, cast and nest fields: ``(source, source_type, target, target_type)``;
        fields not mapped are dropped; a value that does not fit its new type becomes null."""
        from pyspark.sql import functions as F

        schema = {f.name: f for f in self._df.schema.fields}
        lower = {name.lower(): name for name in schema}
        tree: dict[str, Any] = {}
        for mapping in mappings:
            if len(mapping) != 4:
                raise ValueError(
                    f"mapping {tuple(mapping)!r} must be (source, source_type, target, target_type)"
                )
            source, source_type, target, target_type = (str(m) for m in mapping)
            parts = split_path(source)
            top = parts[0] if case_sensitive else lower.get(parts[0].lower(), parts[0])
            if top not in schema:
                raise ValueError(
                    f"apply_mapping: source field '{source}' is not in the frame; fields: "
                    f"{', '.join(schema)}"
                )
            expr = self._mapped_value([top, *parts[1:]], schema[top], source_type, target_type)
            node = tree
            target_parts = split_path(target)
            for part in target_parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ValueError(f"apply_mapping: target '{target}' nests under a value")
                node = child
            if target_parts[-1] in node:
                raise ValueError(f"apply_mapping: target '{target}' is mapped twice")
            node[target_parts[-1]] = expr

        def build(node: dict[str, Any], name: str) -> Column:
            if isinstance(node, dict):
                return F.struct(*(build(v, k) for k, v in node.items())).alias(name)
            return node.alias(name)

        out = self._df.select(*(build(v, k) for k, v in tree.items()))
        return self._derive(out, raw=(), thresholds=(stageThreshold, totalThreshold))

    def _mapped_value(
        self, parts: list[str], field: Any, source_type: str, target_type: str
    ) -> Column:
        from pyspark.sql import functions as F

        target = spark_type_name(target_type)
        column = F.col(".".join(quote(p) for p in parts))
        if len(parts) == 1 and field.name in self._raw:
            value = F.trim(column) if target != "string" else column
            return value.try_cast(target) if target != "string" else value
        leaf = field if len(parts) == 1 else field_at(field.dataType, parts[1:])
        if leaf is not None and is_choice(leaf):
            field = leaf
            members = [m.name for m in field.dataType.fields]
            wanted = source_type.strip().lower()
            if wanted in members:
                column = column.getField(wanted)
            else:
                column = F.coalesce(*(column.getField(m).try_cast(target) for m in members))
        return column.try_cast(target)

    def select_fields(
        self,
        paths: Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Keep only the given fields (top-level names or ``a.b`` paths into structs)."""
        from pyspark.sql import functions as F

        keep: dict[str, list[list[str]]] = {}
        for path in paths:
            parts = split_path(path)
            if parts[0] not in self._df.columns:
                continue  # Glue keeps the fields that exist
            keep.setdefault(parts[0], []).append(parts[1:])
        columns = []
        for name in self._df.columns:
            if name not in keep:
                continue
            subs = keep[name]
            if any(not s for s in subs):
                columns.append(F.col(quote(name)))
            else:
                inner = [F.col(quote(name) + "." + ".".join(quote(p) for p in s)) for s in subs]
                columns.append(
                    F.struct(*(c.alias(s[-1]) for c, s in zip(inner, subs, strict=True))).alias(
                        name
                    )
                )
        return self._derive(self._df.select(*columns), thresholds=(stageThreshold, totalThreshold))

    def drop_fields(
        self,
        paths: Sequence[str],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Drop fields (top-level names or ``a.b`` paths into structs); missing ones are
        ignored, as in Glue."""
        df = self._df
        for path in paths:
            parts = split_path(path)
            if parts[0] not in df.columns:
                continue
            if len(parts) == 1:
                df = df.drop(parts[0])
            else:
                parent = ".".join(quote(p) for p in parts[:-1])
                from pyspark.sql import functions as F

                df = df.withColumn(
                    parts[0], _replace_in(parts[:-1], F.col(parent).dropFields(quote(parts[-1])))
                )
        return self._derive(df, thresholds=(stageThreshold, totalThreshold))

    def rename_field(
        self,
        oldName: str,
        newName: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Rename a field (``a.b`` renames inside a struct; a new path of another parent
        moves it there)."""
        from pyspark.sql import functions as F

        old, new = split_path(oldName), split_path(newName)
        if old[0] not in self._df.columns:
            raise ValueError(f"rename_field: field '{oldName}' is not in the frame")
        df = self._df
        if len(old) == 1 and len(new) == 1:
            df = df.withColumnRenamed(old[0], new[0])
            raw = [new[0] if c == old[0] else c for c in self._raw]
            return self._derive(df, raw=raw, thresholds=(stageThreshold, totalThreshold))
        # Park the value in a column of its own first: dropping the old field must not take
        # it away before its new place is built.
        moved = "__sparkglue_moved"
        df = self._settle()._df.withColumn(moved, _col(oldName))  # fully typed: raw=() below
        value = F.col(moved)
        if len(old) == 1:
            df = df.drop(old[0])
        else:
            parent = F.col(".".join(quote(p) for p in old[:-1]))
            df = df.withColumn(old[0], _replace_in(old[:-1], parent.dropFields(quote(old[-1]))))
        if len(new) == 1:
            df = df.withColumn(new[0], value)
        elif new[0] in df.columns:
            df = df.withColumn(
                new[0], F.col(quote(new[0])).withField(".".join(quote(p) for p in new[1:]), value)
            )
        else:
            nested: Column = value
            for part in reversed(new[1:]):
                nested = F.struct(nested.alias(part))
            df = df.withColumn(new[0], nested)
        return self._derive(df.drop(moved), raw=(), thresholds=(stageThreshold, totalThreshold))

    def resolveChoice(
        self,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        """Resolve choice fields: ``cast:<type>``, ``project:<type>``, ``make_cols``,
        ``make_struct`` or ``match_catalog`` — per field with ``specs`` or for every choice
        with ``choice``."""
        if specs and choice:
            raise ValueError("resolveChoice: give specs or choice, not both")
        if not specs and not choice:
            raise ValueError("resolveChoice: give specs=[(field, action)] or choice=action")
        if catalog_id:
            from awsglue._options import UnsupportedOption

            raise UnsupportedOption("resolveChoice: option 'catalog_id' is not supported")
        catalog_types: dict[str, str] = {}
        actions = [a for _, a in specs] if specs else [choice]
        if any(a.strip().lower() == "match_catalog" for a in actions):
            if not database or not table_name:
                raise ValueError("resolveChoice: match_catalog needs database and table_name")
            table = self.glue_ctx._catalog().get_table(database, table_name)
            catalog_types = {
                c.name.lower(): c.type for c in [*table.columns, *table.partition_keys]
            }
        frame: DynamicFrame = self
        if specs:
            plan = list(specs)
        else:
            frame = self._settle()
            plan = [(name, choice) for name in choices_of(frame._df.schema)]
        for name, action in plan:
            frame = frame._resolve_one(name, action, catalog_types)
        return frame._derive(frame._df, thresholds=(stageThreshold, totalThreshold))

    def _resolve_one(self, path: str, action: str, catalog_types: dict[str, str]) -> DynamicFrame:
        from pyspark.sql import functions as F

        parts = split_path(path)
        if len(parts) > 1:
            return self._resolve_nested(parts, action, catalog_types)
        name = parts[0]
        if name not in self._df.columns:
            raise ValueError(f"resolveChoice: field '{name}' is not in the frame")
        kind, type_name = _choice_action(name, action, catalog_types)
        column = F.col(quote(name))
        df = self._df
        if name in self._raw and kind in ("cast", "project"):
            target = spark_type_name(type_name)
            if kind == "project" and target in ("bigint", "int", "double"):
                pattern = _LONG if target != "double" else f"{_LONG}|{_DOUBLE}"
                value = F.when(column.rlike(pattern), F.trim(column).try_cast(target))
            elif kind == "project" and target == "string":
                value = F.when(~column.rlike(f"{_LONG}|{_DOUBLE}"), column)
            else:
                value = (F.trim(column) if target != "string" else column).try_cast(target)
            out = df.withColumn(name, value)
            return DynamicFrame._make(
                out,
                self.glue_ctx,
                self.name,
                raw=[c for c in self._raw if c != name],
                errors=self._errors,
            )
        frame = self._settle() if name in self._raw else self
        df = frame._df
        field = next(f for f in df.schema.fields if f.name == name)
        data_type: Any = field.dataType
        members = [m.name for m in data_type.fields] if is_choice(field) else []
        if kind == "make_cols" and members:
            position = df.columns.index(name)
            new_columns = [column.getField(m).alias(f"{name}_{m}") for m in members]
            columns = [F.col(quote(c)) for c in df.columns]
            df = df.select(*columns[:position], *new_columns, *columns[position + 1 :])
        else:
            resolved = _resolved_value(column, field, members, kind, type_name)
            if resolved is not None:
                df = df.withColumn(name, resolved)
        return DynamicFrame._make(df, self.glue_ctx, self.name, errors=self._errors)

    def _resolve_nested(
        self, parts: list[str], action: str, catalog_types: dict[str, str]
    ) -> DynamicFrame:
        """resolveChoice on a field inside structs (``a.b``): the leaf is replaced, split into
        ``b_<type>`` fields where it was, or made a plain struct; its parents keep their nulls."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import StructType

        path = ".".join(quote(p) for p in parts)
        df = self._settle()._df
        field = field_at(df.schema, parts)
        if field is None:
            raise ValueError(f"resolveChoice: field '{'.'.join(parts)}' is not in the frame")
        kind, type_name = _choice_action(path, action, catalog_types)
        column = F.col(path)
        data_type: Any = field.dataType
        members = [m.name for m in data_type.fields] if is_choice(field) else []
        if kind == "make_cols" and members:
            parent = field_at(df.schema, parts[:-1])
            assert parent is not None and isinstance(parent.dataType, StructType)
            parent_column = F.col(".".join(quote(p) for p in parts[:-1]))
            fields = []
            for sibling in parent.dataType.fields:
                if sibling.name == parts[-1]:
                    fields += [column.getField(m).alias(f"{parts[-1]}_{m}") for m in members]
                else:
                    fields.append(
                        parent_column.getField(sibling.name).alias(
                            sibling.name, metadata=sibling.metadata
                        )
                    )
            rebuilt = F.when(parent_column.isNull(), F.lit(None)).otherwise(F.struct(*fields))
            df = df.withColumn(parts[0], _replace_in(parts[:-1], rebuilt))
        else:
            value = _resolved_value(column, field, members, kind, type_name)
            if value is None:
                return self
            df = df.withColumn(parts[0], _replace_in(parts, value))
        return DynamicFrame._make(df, self.glue_ctx, self.name, errors=self._errors)

    def unnest(
        self,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Flatten nested structs into top-level fields named ``parent.child``."""
        from awsglue._relationalize import flat_columns

        df = self._settle()._df
        return self._derive(
            df.select(*flat_columns(df.schema)),
            raw=(),
            thresholds=(stageThreshold, totalThreshold),
        )

    def unbox(
        self,
        path: str,
        format: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
        **options: Any,
    ) -> DynamicFrame:
        """Parse a string field holding JSON (or delimited text) into a struct."""
        from pyspark.sql import functions as F

        parts = split_path(path)
        column = _col(path)
        df = self._settle()._df
        fmt = format.lower()
        if fmt == "json":
            texts = df.select(column.alias("v")).where("v IS NOT NULL").rdd.map(lambda r: r.v)
            if texts.isEmpty():
                return self
            inferred = self._session().read.json(texts).schema
            value = F.from_json(column, inferred)
        elif fmt == "csv":
            from awsglue._options import check_options

            opts = check_options(options, where="unbox", supported={"delimiter", "separator"})
            delimiter = str(opts.get("delimiter", opts.get("separator", ",")))
            pieces = F.split(column, re.escape(delimiter))
            width_row = df.select(F.max(F.size(pieces))).first()
            width = int(width_row[0] or 0) if width_row is not None else 0
            value = F.struct(*(pieces.getItem(i).alias(f"col{i}") for i in range(width)))
        else:
            from awsglue._options import UnsupportedOption

            raise UnsupportedOption(f"unbox: format '{format}' is not supported (json, csv are)")
        df = df.withColumn(parts[0], _replace_in(parts, value))
        return self._derive(df, raw=(), thresholds=(stageThreshold, totalThreshold))

    # ---- record transforms -------------------------------------------------------------------

    def _run_records(
        self, f: Callable[[Any], Any], kind: str, transformation_ctx: str
    ) -> tuple[Any, DataFrame]:
        """Run ``f`` over every record; (the cached tagged RDD, the error records)."""
        df = self._typed()
        choices = _choice_paths(df.schema)
        label = transformation_ctx or kind

        def run(row: Any) -> Iterator[tuple[str, Any]]:
            record = _record_of(row, choices)
            try:
                out = f(record)
            except Exception as exc:  # the record becomes an error record, as in Glue
                yield ("E", (label, f"{type(exc).__name__}: {exc}", _dumps(record)))
                return
            if kind == "filter":
                if out:
                    yield ("R", row)
            elif kind == "flat_map":
                for item in out or ():
                    yield ("J", _dumps(_to_record(item)))
            elif out is not None:
                yield ("J", _dumps(_to_record(out)))

        tagged = df.rdd.flatMap(run).cache()
        errors = self._session().createDataFrame(
            tagged.filter(lambda t: t[0] == "E").map(lambda t: t[1]), _ERROR_SCHEMA
        )
        return tagged, errors

    def _records_frame(
        self, f: Callable[[Any], Any], kind: str, ctx: str, stage: int, total: int
    ) -> DynamicFrame:
        """The records ``f`` returns (map, flat_map), their schema inferred, and its errors."""
        from awsglue._io import json_frame

        tagged, errors = self._run_records(f, kind, ctx)
        texts = tagged.filter(lambda t: t[0] == "J").map(lambda t: t[1])
        out = json_frame(self._session(), texts)
        return self._derive(out, raw=(), stage_errors=errors, thresholds=(stage, total))

    def map(
        self,
        f: Callable[[Any], Any],
        preservesPartitioning: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Apply ``f`` to every record (a dict; return the new record). Records ``f`` raises
        on become error records; the new schema is inferred from what ``f`` returns."""
        return self._records_frame(f, "map", transformation_ctx, stageThreshold, totalThreshold)

    def flat_map(
        self,
        f: Callable[[Any], Any],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Apply ``f`` to every record; it returns any number of records."""
        return self._records_frame(
            f, "flat_map", transformation_ctx, stageThreshold, totalThreshold
        )

    def filter(
        self,
        f: Callable[[Any], bool],
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Keep the records for which ``f`` is true (records it raises on become errors)."""
        tagged, errors = self._run_records(f, "filter", transformation_ctx)
        df = self._typed()
        kept = self._session().createDataFrame(
            tagged.filter(lambda t: t[0] == "R").map(lambda t: t[1]), df.schema
        )
        return self._derive(
            kept, raw=(), stage_errors=errors, thresholds=(stageThreshold, totalThreshold)
        )

    # ---- frames ------------------------------------------------------------------------------

    def join(
        self,
        paths1: Sequence[str],
        paths2: Sequence[str],
        frame2: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Equality join with ``frame2`` on ``paths1`` = ``paths2``; both keys are kept."""
        if isinstance(paths1, str):
            paths1 = [paths1]
        if isinstance(paths2, str):
            paths2 = [paths2]
        if len(paths1) != len(paths2) or not paths1:
            raise ValueError("join: paths1 and paths2 must name the same number of keys (>= 1)")
        left, right = self._typed(), frame2._typed()
        clash = sorted(set(left.columns) & set(right.columns))
        if clash:
            raise ValueError(
                f"join: both frames have a field '{clash[0]}'; rename one first "
                "(rename_field) so the joined records keep both"
            )
        condition = None
        for p1, p2 in zip(paths1, paths2, strict=True):
            term = _col_of(left, p1) == _col_of(right, p2)
            condition = term if condition is None else condition & term
        joined = left.join(right, on=condition, how="inner")
        frame = self._derive(joined, raw=(), thresholds=(stageThreshold, totalThreshold))
        if frame2._errors is not None:
            frame._errors = (
                frame2._errors
                if frame._errors is None
                else frame._errors.unionByName(frame2._errors)
            )
        return frame

    def union(
        self,
        other_frame: DynamicFrame,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """The records of both frames (fields matched by name; missing ones are null)."""
        out = self._typed().unionByName(other_frame._typed(), allowMissingColumns=True)
        return self._derive(out, raw=(), thresholds=(stageThreshold, totalThreshold))

    def mergeDynamicFrame(
        self,
        stage_dynamic_frame: DynamicFrame,
        primary_keys: Sequence[str],
        transformation_ctx: str = "",
        options: Mapping[str, Any] | None = None,
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """Records of the staging frame replace those with the same primary keys here; staging
        records with new keys are added; records only here stay."""
        if not primary_keys:
            raise ValueError("mergeDynamicFrame: primary_keys must name at least one field")
        if options:
            from awsglue._options import UnsupportedOption

            raise UnsupportedOption("mergeDynamicFrame: option 'options' is not supported")
        source, stage = self._typed(), stage_dynamic_frame._typed()
        missing = [k for k in primary_keys if k not in source.columns or k not in stage.columns]
        if missing:
            raise ValueError(f"mergeDynamicFrame: primary key '{missing[0]}' is not in both frames")
        keys = [quote(k) for k in primary_keys]
        stage_one = stage.dropDuplicates(list(primary_keys))
        kept = source.join(stage_one.select(*keys), on=list(primary_keys), how="left_anti")
        out = kept.unionByName(stage_one, allowMissingColumns=True)
        return self._derive(out, raw=(), thresholds=(stageThreshold, totalThreshold))

    def split_fields(
        self,
        paths: Sequence[str],
        name1: str,
        name2: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        """Two frames: the given fields (``name1``) and the others (``name2``)."""
        first = self.select_fields(paths)
        second = self.drop_fields(paths)
        first.name, second.name = name1, name2
        return DynamicFrameCollection({name1: first, name2: second}, self.glue_ctx)

    def split_rows(
        self,
        comparison_dict: Mapping[str, Mapping[str, Any]],
        name1: str,
        name2: str,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        """Two frames: records meeting every comparison (``{"age": {">": 10}}``) and the
        rest."""
        from pyspark.sql import functions as F

        condition = F.lit(True)
        for path, comparisons in comparison_dict.items():
            column = _col(path)
            for op, value in comparisons.items():
                term = {
                    "<": column < value,
                    ">": column > value,
                    "<=": column <= value,
                    ">=": column >= value,
                    "=": column == value,
                    "==": column == value,
                    "!=": column != value,
                }.get(op)
                if term is None:
                    raise ValueError(f"split_rows: operator '{op}' is not one of < > <= >= = !=")
                condition = condition & term
        df = self._typed()
        matched = F.coalesce(condition, F.lit(False))
        first = self._derive(df.where(matched), name=name1, raw=())
        second = self._derive(df.where(~matched), name=name2, raw=())
        return DynamicFrameCollection({name1: first, name2: second}, self.glue_ctx)

    def spigot(
        self,
        path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        """Write a sample of the records (``topk``, default 100; ``prob``, default 1) as JSON
        to ``path``; the frame passes through unchanged."""
        from awsglue._options import check_options

        opts = check_options(options, where="spigot", supported={"topk", "prob"})
        topk = int(opts.get("topk", 100))
        prob = float(opts.get("prob", 1.0))
        df = self._typed()
        if prob < 1.0:
            df = df.sample(fraction=prob, seed=random.randint(0, 2**31))
        target = self.glue_ctx._local_path(path, what="spigot path")
        df.limit(topk).coalesce(1).write.mode("overwrite").json(target)
        return self

    def repartition(
        self,
        num_partitions: int,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """The same records in ``num_partitions`` partitions (a shuffle)."""
        return self._derive(self._df.repartition(num_partitions))

    def coalesce(
        self,
        num_partitions: int,
        shuffle: bool = False,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrame:
        """The same records in at most ``num_partitions`` partitions."""
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._derive(df)

    def relationalize(
        self,
        root_table_name: str,
        staging_path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        info: str = "",
        stageThreshold: int = 0,
        totalThreshold: int = 0,
    ) -> DynamicFrameCollection:
        """Flatten nested records into tables: structs become ``a.b`` fields, every array
        becomes a child table ``<root>_<path>`` (``id``, ``index``, ``<path>.val…``) whose
        ``id`` is the value the parent keeps in the array's field."""
        from awsglue._relationalize import relationalize

        if options:
            from awsglue._options import UnsupportedOption

            raise UnsupportedOption("relationalize: option 'options' is not supported")
        tables = relationalize(self._typed(), root_table_name)
        frames = {name: DynamicFrame._make(df, self.glue_ctx, name) for name, df in tables.items()}
        return DynamicFrameCollection(frames, self.glue_ctx)

    def drop_null_fields(self, transformation_ctx: str = "") -> DynamicFrame:
        """Drop the fields that are null (or, for text, empty) in every record."""
        from pyspark.sql import functions as F

        df = self._typed()
        if not df.columns:
            return self
        counts = df.agg(
            *(F.count(F.col(quote(c))).alias(f"_{i}") for i, c in enumerate(df.columns))
        ).first()
        empty = [c for i, c in enumerate(df.columns) if counts is None or counts[i] == 0]
        return self._derive(df.drop(*empty) if empty else df, raw=())


def _col_of(df: DataFrame, path: str) -> Column:
    parts = split_path(path)
    column = df[quote(parts[0])]
    for part in parts[1:]:
        column = column.getField(part)
    return column


def _resolved_value(
    column: Column, field: Any, members: list[str], kind: str, type_name: str
) -> Column | None:
    """A field's new value for ``cast``, ``project`` or ``make_struct`` (``members``: its choice
    types, empty for a plain field); None to leave it as it is."""
    from pyspark.sql import functions as F

    if kind == "cast":
        target = spark_type_name(type_name)
        if members:
            return F.coalesce(*(column.getField(m).try_cast(target) for m in members))
        return column.try_cast(target)
    if kind == "project":
        target = spark_type_name(type_name)
        wanted = glue_name(target)
        if members:
            return (column.getField(wanted) if wanted in members else F.lit(None)).cast(target)
        if glue_type_name(field.dataType) != wanted:
            return F.lit(None).cast(target)
        return None
    if kind == "make_struct" and members:
        return F.struct(*(column.getField(m).alias(m) for m in members))
    return None


def _choice_action(name: str, action: str, catalog_types: dict[str, str]) -> tuple[str, str]:
    """(kind, type) of a resolveChoice action for the field ``name``; match_catalog becomes a
    cast to the catalog column's type (looked up by the field's last name)."""
    kind, _, type_name = action.strip().partition(":")
    kind = kind.lower()
    if kind == "match_catalog":
        leaf = split_path(name)[-1].lower()
        if leaf not in catalog_types:
            raise ValueError(f"resolveChoice: field '{name}' is not in the catalog table")
        kind, type_name = "cast", catalog_types[leaf]
    if kind not in ("cast", "project", "make_cols", "make_struct"):
        raise ValueError(
            f"resolveChoice: action '{action}' for '{name}' is not one of cast:<type>, "
            "project:<type>, make_cols, make_struct, match_catalog"
        )
    if kind in ("cast", "project") and not type_name:
        raise ValueError(f"resolveChoice: action '{action}' needs a type, e.g. {kind}:long")
    return kind, type_name


def _replace_in(parts: list[str], value: Column) -> Column:
    """The top-level column ``parts[0]`` with the field at ``parts`` replaced by ``value``."""
    from pyspark.sql import functions as F

    if len(parts) == 1:
        return value
    return F.col(quote(parts[0])).withField(".".join(quote(p) for p in parts[1:]), value)


def _choice_paths(schema: StructType) -> list[list[str]]:
    """The choice fields of a schema as split paths, split once rather than per record."""
    return [split_path(path) for path in choices_of(schema)]


def _record_of(row: Any, choices: list[list[str]]) -> dict[str, Any]:
    """A Row as Glue's record: a dict, a choice field (``choices``: split paths) holding the
    value of its set member."""
    record: dict[str, Any] = _to_record(row)
    for parts in choices:
        node: Any = record
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]] = next((v for v in node[parts[-1]].values() if v is not None), None)
    return record


class DynamicFrameCollection:
    """Named DynamicFrames (what relationalize, split_fields and split_rows return)."""

    def __init__(self, dynamic_frames: Mapping[str, DynamicFrame], glue_ctx: GlueContext) -> None:
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def keys(self) -> list[str]:
        """The frame names."""
        return list(self._frames)

    def values(self) -> list[DynamicFrame]:
        """The frames."""
        return list(self._frames.values())

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        """The frame named ``key``."""
        if key not in self._frames:
            raise KeyError(f"no frame '{key}' in the collection; it has {', '.join(self._frames)}")
        return self._frames[key]

    def map(
        self,
        callable: Callable[[DynamicFrame, str], DynamicFrame],
        transformation_ctx: str = "",
    ) -> DynamicFrameCollection:
        """Apply ``callable(frame, transformation_ctx)`` to every frame."""
        out = {}
        for name, frame in self._frames.items():
            result = callable(frame, f"{transformation_ctx}{name}")
            if not isinstance(result, DynamicFrame):
                raise TypeError(f"map: the function returned {type(result).__name__} for '{name}'")
            out[name] = result
        return DynamicFrameCollection(out, self.glue_ctx)

    def flatmap(
        self, f: Callable[[DynamicFrame, str], Any], transformation_ctx: str = ""
    ) -> DynamicFrameCollection:
        """Apply ``f`` to every frame; it returns a frame or a collection (merged)."""
        out: dict[str, DynamicFrame] = {}
        for name, frame in self._frames.items():
            result = f(frame, f"{transformation_ctx}{name}")
            if isinstance(result, DynamicFrameCollection):
                for sub, sub_frame in result._frames.items():
                    out[f"{name}_{sub}" if sub in out else sub] = sub_frame
            elif isinstance(result, DynamicFrame):
                out[name] = result
            else:
                raise TypeError(f"flatmap: the function returned {type(result).__name__}")
        return DynamicFrameCollection(out, self.glue_ctx)


class DynamicFrameReader:
    """``glueContext.create_dynamic_frame``: ``from_catalog``, ``from_options``, ``from_rdd``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_rdd(
        self,
        data: Any,
        name: str,
        schema: Any = None,
        sample_ratio: float | None = None,
    ) -> DynamicFrame:
        """A DynamicFrame from an RDD (or list) of rows, tuples or dicts."""
        return self._glue_context.create_dynamic_frame_from_rdd(data, name, schema, sample_ratio)

    def from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        """Read a connection (``s3`` paths; JDBC) in a format."""
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type,
            connection_options or {},
            format,
            format_options or {},
            transformation_ctx,
            push_down_predicate,
            **kwargs,
        )

    def from_catalog(
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
        """Read a catalog table."""
        return self._glue_context.create_dynamic_frame_from_catalog(
            database,
            table_name,
            redshift_tmp_dir,
            transformation_ctx,
            push_down_predicate,
            additional_options or {},
            catalog_id,
            **kwargs,
        )


class DynamicFrameWriter:
    """``glueContext.write_dynamic_frame``: ``from_options``, ``from_catalog``,
    ``from_jdbc_conf``."""

    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        """Write a frame to a connection (``s3`` path; JDBC) in a format."""
        return self._glue_context.write_dynamic_frame_from_options(
            frame,
            connection_type,
            connection_options or {},
            format,
            format_options or {},
            transformation_ctx,
            **kwargs,
        )

    def from_catalog(
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
        """Append a frame to a catalog table (its location, format and partition keys)."""
        return self._glue_context.write_dynamic_frame_from_catalog(
            frame,
            database,
            table_name,
            redshift_tmp_dir,
            transformation_ctx,
            additional_options or {},
            catalog_id,
            **kwargs,
        )

    def from_jdbc_conf(
        self,
        frame: DynamicFrame,
        catalog_connection: str,
        connection_options: Mapping[str, Any] | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        catalog_id: str | None = None,
    ) -> DynamicFrame:
        """Write a frame to a table of a catalog connection (``dbtable``)."""
        return self._glue_context.write_dynamic_frame_from_jdbc_conf(
            frame,
            catalog_connection,
            connection_options or {},
            redshift_tmp_dir,
            transformation_ctx,
            catalog_id,
        )
