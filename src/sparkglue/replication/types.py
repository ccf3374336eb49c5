"""PostgreSQL column types as lake (Arrow/Parquet) types, and change values as Arrow arrays.

Full-load rows and captured changes go through the same mapping, so a value reads the same in a
LOAD file and in a CDC file. The mapping follows what DMS writes to S3: integers keep their width,
``numeric(p,s)`` is a decimal, unbounded ``numeric`` is a string (exact), timestamps are
microseconds (``timestamptz`` in UTC), and types without a lake equivalent (uuid, json, arrays,
time, interval, …) are strings in PostgreSQL's own text form.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

_NUMERIC = re.compile(r"^numeric\((\d+)(?:,(\d+))?\)$")

_FIXED: dict[str, pa.DataType] = {
    "smallint": pa.int16(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "real": pa.float32(),
    "double precision": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp without time zone": pa.timestamp("us"),
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "bytea": pa.binary(),
}

# JSON numbers beyond this many digits may not survive a round trip through a float.
_FLOAT_SAFE_DIGITS = 15


def arrow_type(pg_type: str) -> pa.DataType:
    """The lake type of a column of PostgreSQL type ``pg_type`` (``format_type`` spelling)."""
    fixed = _FIXED.get(pg_type)
    if fixed is not None:
        return fixed
    m = _NUMERIC.match(pg_type)
    if m:
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        if precision <= 38:
            return pa.decimal128(precision, scale)
    return pa.string()


def needs_exact_numbers(pg_types: list[str]) -> bool:
    """True when some column's numbers cannot pass through a float exactly (wide or unbounded
    ``numeric``): such rows are parsed with their numbers kept as text."""
    for t in pg_types:
        if t == "numeric":
            return True
        m = _NUMERIC.match(t)
        if m and int(m.group(1)) > _FLOAT_SAFE_DIGITS:
            return True
    return False


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _float(v: Any) -> float | None:
    if v is None or isinstance(v, float):
        return v
    return float(v)  # ints, and NaN/Infinity which arrive as text


def bytea(text: str) -> bytes:
    """PostgreSQL's hex form of a ``bytea`` (``\\x00ff``, or bare hex as wal2json writes it)."""
    return bytes.fromhex(text[2:] if text.startswith("\\x") else text)


def to_arrow(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """Values decoded from a change record (JSON) as an Arrow array of the lake type ``typ``."""
    if pa.types.is_integer(typ) or pa.types.is_boolean(typ):
        return pa.array(values, type=typ)
    if pa.types.is_floating(typ):
        return pa.array([_float(v) for v in values], type=typ)
    if pa.types.is_binary(typ):
        return pa.array([None if v is None else bytea(str(v)) for v in values], type=typ)
    if pa.types.is_decimal(typ):
        # Numbers as JSON gave them: a bounded numeric has at most 15 digits (wider ones come
        # as text), which a double holds exactly enough to round back to the column's scale.
        try:
            return pa.array(values).cast(typ)
        except (pa.ArrowException, OverflowError):
            pass  # text among them (NaN, or an exact-mode row): through text, as any type
    texts = pa.array(
        [v if v is None or v.__class__ is str else _text(v) for v in values], type=pa.string()
    )
    if pa.types.is_string(typ):
        return texts
    return texts.cast(typ)
