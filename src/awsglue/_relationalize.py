"""Glue's Relationalize: nested records → flat tables joined by generated keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awsglue._types import is_choice, quote

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

_ROW_ID = "__sparkglue_row_id"


def flat_columns(
    schema: StructType, prefix: str = "", parents: tuple[str, ...] = ()
) -> list[Column]:
    """Columns with every struct (not arrays) flattened into ``a.b`` names."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    out = []
    for field in schema.fields:
        path = (*parents, field.name)
        if isinstance(field.dataType, StructType) and not is_choice(field):
            out.extend(flat_columns(field.dataType, f"{prefix}{field.name}.", path))
        else:
            out.append(F.col(".".join(quote(p) for p in path)).alias(prefix + field.name))
    return out


def relationalize(df: DataFrame, root: str) -> dict[str, DataFrame]:
    """The root table and one child table per array (recursively), by name.

    A child table ``<parent>_<field>`` has ``id`` (the value the parent keeps in ``<field>``),
    ``index`` (the position in the array) and ``<field>.val`` (flattened when the elements are
    structs). Keys are fixed once per run (the parent is materialised before its children are
    cut from it), so parent and children always join.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    tables: dict[str, DataFrame] = {}

    def process(name: str, frame: DataFrame) -> None:
        flat = frame.select(*flat_columns(frame.schema))
        arrays = [f.name for f in flat.schema.fields if isinstance(f.dataType, ArrayType)]
        if not arrays:
            tables[name] = flat
            return
        keyed = flat.withColumn(_ROW_ID, F.monotonically_increasing_id() + 1).localCheckpoint()
        columns = [
            F.col(_ROW_ID).alias(c) if c in arrays else F.col(quote(c)) for c in flat.columns
        ]
        tables[name] = keyed.select(*columns)
        for field in arrays:
            child = keyed.select(
                F.col(_ROW_ID).alias("id"),
                F.posexplode(F.col(quote(field))).alias("index", f"{field}.val"),
            )
            process(f"{name}_{field}", child)

    process(root, df)
    return tables
