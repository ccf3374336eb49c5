"""Hive type strings: parse, validate and normalise (``bigint``, ``array<string>``, …).

The grammar is Hive's as the Glue Data Catalog stores it: primitives (``tinyint smallint int
bigint float double decimal(p,s) string char(n) varchar(n) boolean binary date timestamp``) and
the complex types ``array<T>``, ``map<K,V>`` (K primitive) and ``struct<name:T,…>``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NoReturn

from sparkglue.errors import InvalidInput

__all__ = ["HiveType", "is_numeric", "normalize_type", "parse_type"]

_SIMPLE = {
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "string",
    "boolean",
    "binary",
    "date",
    "timestamp",
    # Spark's timestamp without a time zone (a Parquet timestamp not adjusted to UTC reads as
    # this, e.g. PostgreSQL `timestamp` columns replicated into the lake).
    "timestamp_ntz",
}
_ALIASES = {
    "integer": "int",
    "long": "bigint",
    "short": "smallint",
    "byte": "tinyint",
    "real": "float",
}
_INTEGRAL = {"tinyint", "smallint", "int", "bigint"}
_NUMERIC = _INTEGRAL | {"float", "double", "decimal"}
_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\d+)|(?P<quoted>`(?:[^`]|``)+`)|(?P<punct>[<>(),:]))"
)


@dataclass(frozen=True)
class HiveType:
    """A parsed type: ``name`` plus parameters (precision/length) or children."""

    name: str
    params: tuple[int, ...] = ()
    children: tuple[HiveType, ...] = ()
    field_names: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.name in ("array",):
            return f"array<{self.children[0]}>"
        if self.name == "map":
            return f"map<{self.children[0]},{self.children[1]}>"
        if self.name == "struct":
            fields = ",".join(
                f"{_field_name(n)}:{t}"
                for n, t in zip(self.field_names, self.children, strict=True)
            )
            return f"struct<{fields}>"
        if self.params:
            return f"{self.name}({','.join(str(p) for p in self.params)})"
        return self.name

    @property
    def is_primitive(self) -> bool:
        return self.name not in ("array", "map", "struct")


def _field_name(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return "`" + name.replace("`", "``") + "`"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if not m:
                self.fail(f"unexpected character '{text[pos:].lstrip()[0]}'", pos)
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, what: str, pos: int | None = None) -> NoReturn:
        where = f" at position {pos}" if pos is not None else ""
        raise InvalidInput(f"invalid type string '{self.text}': {what}{where}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            self.fail(f"expected '{expected}' but the string ended" if expected else "ended early")
        if expected is not None and tok[1] != expected:
            self.fail(f"expected '{expected}' but found '{tok[1]}'", tok[2])
        self.i += 1
        return tok

    def number(self) -> int:
        kind, value, pos = self.take()
        if kind != "num":
            self.fail(f"expected a number but found '{value}'", pos)
        return int(value)

    def parse(self) -> HiveType:
        if not self.tokens:
            self.fail("the type is empty")
        result = self.type_()
        tok = self.peek()
        if tok is not None:
            self.fail(f"unexpected '{tok[1]}' after the type", tok[2])
        return result

    def type_(self) -> HiveType:
        kind, value, pos = self.take()
        if kind != "word":
            self.fail(f"expected a type name but found '{value}'", pos)
        name = value.lower()
        name = _ALIASES.get(name, name)
        if name in _SIMPLE:
            return HiveType(name)
        if name == "decimal":
            if self.peek() and self.peek()[1] == "(":  # type: ignore[index]
                self.take("(")
                precision = self.number()
                scale = 0
                if self.peek() and self.peek()[1] == ",":  # type: ignore[index]
                    self.take(",")
                    scale = self.number()
                self.take(")")
            else:
                precision, scale = 10, 0
            if not 1 <= precision <= 38 or scale > precision:
                self.fail(
                    f"decimal({precision},{scale}) needs 1 <= precision <= 38 and "
                    "scale <= precision"
                )
            return HiveType("decimal", (precision, scale))
        if name in ("char", "varchar"):
            self.take("(")
            length = self.number()
            self.take(")")
            limit = 255 if name == "char" else 65535
            if not 1 <= length <= limit:
                self.fail(f"{name} length must be between 1 and {limit}, not {length}")
            return HiveType(name, (length,))
        if name == "array":
            self.take("<")
            element = self.type_()
            self.take(">")
            return HiveType("array", children=(element,))
        if name == "map":
            self.take("<")
            key_pos = self.peek()[2] if self.peek() else None  # type: ignore[index]
            key = self.type_()
            if not key.is_primitive:
                self.fail("map keys must be a primitive type", key_pos)
            self.take(",")
            value_type = self.type_()
            self.take(">")
            return HiveType("map", children=(key, value_type))
        if name == "struct":
            self.take("<")
            names: list[str] = []
            types: list[HiveType] = []
            while True:
                kind, raw, fpos = self.take()
                if kind == "word":
                    fname = raw
                elif kind == "quoted":
                    fname = raw[1:-1].replace("``", "`")
                else:
                    self.fail(f"expected a field name but found '{raw}'", fpos)
                if fname.lower() in (n.lower() for n in names):
                    self.fail(f"duplicate struct field '{fname}'", fpos)
                self.take(":")
                names.append(fname)
                types.append(self.type_())
                sep = self.take()
                if sep[1] == ">":
                    break
                if sep[1] != ",":
                    self.fail(f"expected ',' or '>' but found '{sep[1]}'", sep[2])
            return HiveType("struct", children=tuple(types), field_names=tuple(names))
        self.fail(f"unknown type '{value}'", pos)


def parse_type(text: str) -> HiveType:
    """Parse a Hive type string; raises :class:`InvalidInput` naming the problem."""
    if not isinstance(text, str):
        raise InvalidInput(f"invalid type string {text!r}: a type must be a string")
    return _Parser(text).parse()


def normalize_type(text: str) -> str:
    """The canonical spelling of a type string (lower case, no spaces, aliases resolved)."""
    if isinstance(text, str) and len(text) <= _REMEMBERED_LENGTH:
        return _normalized(text)  # every table read from the catalog checks its columns' types
    return str(parse_type(text))


_REMEMBERED_LENGTH = 512


@functools.lru_cache(maxsize=2048)
def _normalized(text: str) -> str:
    return str(parse_type(text))


def is_numeric(text: str) -> bool:
    """Whether values of this (primitive) type compare as numbers."""
    return parse_type(text).name in _NUMERIC
