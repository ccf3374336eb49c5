"""Partition filter expressions, as Glue's GetPartitions ``Expression`` takes them.

``year >= '2008' AND island = 'Dream'``, with ``= <> != < > <= >= AND OR NOT IN BETWEEN LIKE
IS [NOT] NULL`` and parentheses. A key of a numeric type (``int``, ``bigint``, ``double``, …)
compares numerically, any other key compares as text. Partition values are strings (``None``
for a null partition).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NoReturn

from sparkglue.errors import InvalidInput

__all__ = ["PartitionFilter", "compile_filter"]

_TOKENS = re.compile(
    r"\s*(?:"
    r"(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op><>|!=|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<ident>`(?:[^`]|``)+`|[A-Za-z_][A-Za-z0-9_]*)"
    r")"
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "IS", "NULL"}

Row = Mapping[str, str | None]
Predicate = Callable[[Row], bool | None]  # None is SQL's UNKNOWN


@dataclass(frozen=True)
class _Tok:
    kind: str  # str num op punct ident kw end
    value: str
    pos: int


@dataclass(frozen=True)
class _Operand:
    key: str | None = None  # a partition key, or
    literal: str | None = None  # a literal's text
    is_number: bool = False


class PartitionFilter:
    """A compiled filter: call :meth:`matches` with a partition's ``{key: value}``."""

    def __init__(self, text: str, predicate: Predicate, keys: frozenset[str]) -> None:
        self.text = text
        self._predicate = predicate
        self.keys = keys

    def matches(self, values: Row) -> bool:
        return self._predicate(values) is True


def compile_filter(text: str, key_types: Mapping[str, str]) -> PartitionFilter:
    """Compile ``text`` against the partition keys (name → Hive type).

    Raises:
        InvalidInput: the expression is malformed or names a column that is not a partition key.
    """
    parser = _Parser(text, {k.lower(): v for k, v in key_types.items()})
    predicate = parser.parse()
    return PartitionFilter(text, predicate, frozenset(parser.used))


class _Parser:
    def __init__(self, text: str, key_types: dict[str, str]) -> None:
        from sparkglue.catalog.types import is_numeric

        self.text = text
        self.numeric = {k: is_numeric(t) for k, t in key_types.items()}
        self.used: set[str] = set()
        self.toks = self._lex(text)
        self.i = 0

    def fail(self, what: str, tok: _Tok | None = None) -> NoReturn:
        where = f" at position {tok.pos}" if tok is not None and tok.kind != "end" else ""
        raise InvalidInput(f"invalid partition filter '{self.text}': {what}{where}")

    def _lex(self, text: str) -> list[_Tok]:
        toks: list[_Tok] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            m = _TOKENS.match(text, pos)
            if not m:
                bad = text[pos:].lstrip()[0]
                self.fail(
                    f"unexpected character '{bad}'",
                    _Tok("x", bad, len(text) - len(text[pos:].lstrip())),
                )
            group = m.lastgroup or ""
            kind, value, start = group, m.group(group), m.start(group)
            if kind == "ident" and not value.startswith("`") and value.upper() in _KEYWORDS:
                kind, value = "kw", value.upper()
            toks.append(_Tok(kind, value, start))
            pos = m.end()
        toks.append(_Tok("end", "", len(text)))
        return toks

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def accept(self, kind: str, value: str | None = None) -> _Tok | None:
        tok = self.peek()
        if tok.kind == kind and (value is None or tok.value == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, value: str) -> None:
        if not self.accept(kind, value):
            tok = self.peek()
            self.fail(f"expected {value} but found {tok.value or 'the end'}", tok)

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            self.fail("the expression is empty")
        pred = self.or_()
        if self.peek().kind != "end":
            self.fail(f"unexpected '{self.peek().value}'", self.peek())
        return pred

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.accept("kw", "OR"):
            parts.append(self.and_())
        if len(parts) == 1:
            return parts[0]

        def either(row: Row) -> bool | None:
            values = [p(row) for p in parts]
            if any(v is True for v in values):
                return True
            return None if any(v is None for v in values) else False

        return either

    def and_(self) -> Predicate:
        parts = [self.not_()]
        while self.accept("kw", "AND"):
            parts.append(self.not_())
        if len(parts) == 1:
            return parts[0]

        def both(row: Row) -> bool | None:
            values = [p(row) for p in parts]
            if any(v is False for v in values):
                return False
            return None if any(v is None for v in values) else True

        return both

    def not_(self) -> Predicate:
        if self.accept("kw", "NOT"):
            inner = self.not_()
            return lambda row: None if (v := inner(row)) is None else not v
        return self.primary()

    def primary(self) -> Predicate:
        if self.accept("punct", "("):
            inner = self.or_()
            self.expect("punct", ")")
            return inner
        left = self.operand()
        tok = self.peek()
        if tok.kind == "op":
            self.take()
            right = self.operand()
            return self.comparison(left, tok.value, right, tok)
        negate = bool(self.accept("kw", "NOT"))
        if self.accept("kw", "IN"):
            self.expect("punct", "(")
            options = [self.operand()]
            while self.accept("punct", ","):
                options.append(self.operand())
            self.expect("punct", ")")
            tests = [self.comparison(left, "=", o, tok) for o in options]

            def in_list(row: Row) -> bool | None:
                values = [t(row) for t in tests]
                if any(v is True for v in values):
                    result: bool | None = True
                elif any(v is None for v in values):
                    result = None
                else:
                    result = False
                return result if result is None or not negate else not result

            return in_list
        if self.accept("kw", "BETWEEN"):
            low = self.operand()
            self.expect("kw", "AND")
            high = self.operand()
            ge = self.comparison(left, ">=", low, tok)
            le = self.comparison(left, "<=", high, tok)

            def between(row: Row) -> bool | None:
                a, b = ge(row), le(row)
                result = (
                    False
                    if a is False or b is False
                    else (None if a is None or b is None else True)
                )
                return result if result is None or not negate else not result

            return between
        if self.accept("kw", "LIKE"):
            pattern_tok = self.peek()
            pattern = self.operand()
            if pattern.literal is None or pattern.is_number:
                self.fail("LIKE needs a quoted pattern", pattern_tok)
            regex = _like_regex(pattern.literal or "")
            getter = self.getter(left)

            def like(row: Row) -> bool | None:
                value = getter(row)
                if value is None:
                    return None
                matched = regex.fullmatch(value) is not None
                return matched != negate

            return like
        if not negate and self.accept("kw", "IS"):
            is_not = bool(self.accept("kw", "NOT"))
            self.expect("kw", "NULL")
            getter = self.getter(left)
            return lambda row: (getter(row) is None) != is_not
        self.fail(
            f"expected a comparison after the operand but found {tok.value or 'the end'}", tok
        )

    def operand(self) -> _Operand:
        tok = self.take()
        if tok.kind == "ident":
            name = tok.value[1:-1].replace("``", "`") if tok.value.startswith("`") else tok.value
            key = name.lower()
            if key not in self.numeric:
                known = ", ".join(self.numeric) or "none"
                self.fail(f"'{name}' is not a partition key (partition keys: {known})", tok)
            self.used.add(key)
            return _Operand(key=key)
        if tok.kind == "str":
            return _Operand(literal=tok.value[1:-1].replace("''", "'"))
        if tok.kind == "num":
            return _Operand(literal=tok.value, is_number=True)
        self.fail(f"expected a partition key or a literal but found {tok.value or 'the end'}", tok)

    def getter(self, operand: _Operand) -> Callable[[Row], str | None]:
        if operand.key is not None:
            key = operand.key
            return lambda row: _lookup(row, key)
        literal = operand.literal
        return lambda row: literal

    def comparison(self, left: _Operand, op: str, right: _Operand, tok: _Tok) -> Predicate:
        numeric = any(o.key is not None and self.numeric[o.key] for o in (left, right))
        for side in (left, right):
            if numeric and side.literal is not None and _number(side.literal) is None:
                self.fail(
                    f"'{side.literal}' is not a number but is compared with a numeric key", tok
                )
        get_left, get_right = self.getter(left), self.getter(right)
        compare = _OPS[op]

        def test(row: Row) -> bool | None:
            a, b = get_left(row), get_right(row)
            if a is None or b is None:
                return None
            if numeric:
                x, y = _number(a), _number(b)
                if x is None or y is None:  # a stored value that is not a number
                    return None
                return compare(x, y)
            return compare(a, b)

        return test


def _lookup(row: Row, key: str) -> str | None:
    return row.get(key)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


_OPS: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def partition_row(keys: Sequence[str], values: Sequence[str | None]) -> dict[str, str | None]:
    """A partition's values keyed by lower-cased key name."""
    return {k.lower(): v for k, v in zip(keys, values, strict=True)}
