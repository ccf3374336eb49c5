"""Column mappings (Glue's ApplyMapping): ``source.path:source_type->target_name:target_type``.

A source path may name a nested field (``address.city``); types are Hive types. A mapping is
checked against the source table: the column must exist with the stated type, the target type
must parse, and the cast must be one Spark can hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkglue.catalog.types import HiveType, normalize_type, parse_type

__all__ = ["Mapping", "can_cast", "check_mappings", "parse_mapping"]

_NUMERIC = {"tinyint", "smallint", "int", "bigint", "float", "double", "decimal"}
_TEXT = {"string", "varchar", "char"}
_TIME = {"date", "timestamp", "timestamp_ntz"}


@dataclass(frozen=True)
class Mapping:
    source: str  # a column, or a nested path a.b.c
    source_type: str
    target: str
    target_type: str

    def __str__(self) -> str:
        return f"{self.source}:{self.source_type}->{self.target}:{self.target_type}"


def parse_mapping(text: str) -> Mapping:
    """Parse ``src:type->dst:type``; raises ValueError naming the mapping."""
    if text.count("->") != 1:
        raise ValueError(f"mapping '{text}' must be SOURCE:TYPE->TARGET:TYPE")
    left, right = (part.strip() for part in text.split("->"))
    sides = []
    for side in (left, right):
        name, sep, typ = side.partition(":")
        if not sep or not name.strip() or not typ.strip():
            raise ValueError(f"mapping '{text}' must be SOURCE:TYPE->TARGET:TYPE")
        try:
            typ = normalize_type(typ.strip())
        except ValueError as exc:
            raise ValueError(f"mapping '{text}': {exc}") from None
        sides.append((name.strip(), typ))
    (source, source_type), (target, target_type) = sides
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", target):
        raise ValueError(
            f"mapping '{text}': target column '{target}' must be lower-case letters, digits or _"
        )
    return Mapping(source, source_type, target, target_type)


def _kind(t: HiveType) -> str:
    if t.name in _NUMERIC:
        return "number"
    if t.name in _TEXT:
        return "text"
    if t.name in _TIME:
        return "time"
    return t.name  # boolean, binary, array, map, struct


def can_cast(source: str, target: str) -> bool:
    """Whether Spark can cast ``source`` to ``target`` without failing for every value."""
    a, b = parse_type(source), parse_type(target)
    ka, kb = _kind(a), _kind(b)
    if ka == kb and a.is_primitive:
        return True
    if kb == "text":
        return True  # everything has a text form
    if ka == "text":
        return b.is_primitive  # parsed per value; a value that does not parse becomes null
    if ka == "array" and kb == "array":
        return can_cast(str(a.children[0]), str(b.children[0]))
    if ka == "map" and kb == "map":
        return all(can_cast(str(x), str(y)) for x, y in zip(a.children, b.children, strict=True))
    if ka == "struct" and kb == "struct":
        return len(a.children) == len(b.children) and all(
            can_cast(str(x), str(y)) for x, y in zip(a.children, b.children, strict=True)
        )
    allowed = {
        ("number", "boolean"),
        ("boolean", "number"),
        ("number", "time"),
        ("time", "number"),
        ("binary", "text"),
    }
    return (ka, kb) in allowed and not (ka == "time" and a.name == "date" and kb == "number")


def _field_type(columns: dict[str, str], path: str) -> str | None:
    """The type of a column or nested struct field (case-insensitive), None when absent."""
    head, *rest = path.split(".")
    current = columns.get(head.lower())
    for part in rest:
        if current is None:
            return None
        t = parse_type(current)
        if t.name != "struct":
            return None
        fields = {n.lower(): str(c) for n, c in zip(t.field_names, t.children, strict=True)}
        current = fields.get(part.lower())
    return current


def check_mappings(texts: list[str], columns: dict[str, str], source: str) -> list[Mapping]:
    """Parse and check mappings against the source columns (name → Hive type)."""
    mappings = [parse_mapping(t) for t in texts]
    seen: set[str] = set()
    for m in mappings:
        actual = _field_type(columns, m.source)
        if actual is None:
            known = ", ".join(sorted(columns)) or "none"
            raise ValueError(
                f"mapping '{m}': {source} has no column '{m.source}' (columns: {known})"
            )
        if normalize_type(actual) != m.source_type:
            raise ValueError(
                f"mapping '{m}': '{m.source}' is {normalize_type(actual)} in {source}, "
                f"not {m.source_type}"
            )
        if not can_cast(m.source_type, m.target_type):
            raise ValueError(
                f"mapping '{m}': a {m.source_type} value cannot be cast to {m.target_type}"
            )
        if m.target in seen:
            raise ValueError(f"mapping '{m}': target column '{m.target}' is mapped twice")
        seen.add(m.target)
    return mappings
