"""AWS DMS table mappings: which PostgreSQL tables replicate, and how each lands in the lake.

:meth:`TableMappings.parse` checks a whole DMS table-mapping document (``{"rules": [...]}``) up
front; ``selected`` picks tables; ``plan`` gives each a :class:`TablePlan` (target names, typed
columns, merge key) whose ``apply`` reshapes Arrow data with vectorised casts.

Selection: a table replicates when an include or explicit rule matches it and no exclude rule
does (exclude wins). Include/exclude names are DMS patterns: ``%`` any run of characters (none
too), ``_`` one character, ``[ab]``/``[a-d]`` one of a set, so ``[_]`` is a literal underscore.
Explicit names are literal (identifiers are full of ``_``); a ``%`` there is rejected as a
wildcard meant by mistake. Matching is case-sensitive, as in DMS.

Rule order: locators match SOURCE names, so whether a rule applies never depends on another rule.
Rules applying to one object take effect in ascending numeric rule-id, not document order: each
name action works on the name the previous one left (add-prefix ``p_`` at id 2, then
convert-uppercase at id 3: ``orders`` -> ``P_ORDERS``); for change-data-type and
define-primary-key the highest rule-id wins. DMS documents one action per object; stacking is
allowed here and defined by this order.

Added columns follow the source ones in rule-id order, named exactly by ``value`` (column rules
match source columns only), holding ``expression`` when that is a constant (``'text'``, ``42``,
``NULL``), else null. String ``length`` does not limit lake values (Parquet strings are unbounded,
as on DMS's S3 target); ``datetime`` keeps microseconds whatever its precision.

Rejected as not supported, never ignored: selection filters and load-order, table-type view/all,
tablespace targets, non-constant expressions, before-image columns, data masking, include-column,
primary-key-def origin unique-index, table-settings and post-processing rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from sparkglue.errors import InvalidInput
from sparkglue.replication.types import arrow_type

__all__ = ["OutputColumn", "SourceColumn", "SourceTable", "TableMappings", "TablePlan"]

_WHERE = "table mappings"

# DMS data-type names -> lake types; "numeric" is decimal128(precision, scale), see _arrow_of.
_FIXED_TYPES: dict[str, pa.DataType] = {
    **{f"{u}int{n}": getattr(pa, f"{u}int{8 * n}")() for u in ("", "u") for n in (1, 2, 4, 8)},
    "real4": pa.float32(),
    "real8": pa.float64(),
    # time has no lake type; it stays text, as types.arrow_type does for PostgreSQL's time.
    **dict.fromkeys(("string", "wstring", "clob", "nclob", "time"), pa.string()),
    **dict.fromkeys(("bytes", "blob"), pa.binary()),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "boolean": pa.bool_(),
}
_SIZED = ("string", "wstring", "clob", "nclob", "bytes", "blob")
_DMS_TYPES = (*sorted(_FIXED_TYPES), "numeric")

_ANY_TARGET = ("schema", "table", "column")
# action -> (rule-targets it allows, keys it needs); add-column may also have "expression".
_ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rename": (_ANY_TARGET, ("value",)),
    "remove-column": (("column",), ()),
    "add-column": (("column",), ("value", "data-type")),
    "convert-lowercase": (_ANY_TARGET, ()),
    "convert-uppercase": (_ANY_TARGET, ()),
    "add-prefix": (_ANY_TARGET, ("value",)),
    "remove-prefix": (_ANY_TARGET, ("value",)),
    "replace-prefix": (_ANY_TARGET, ("value", "old-value")),
    "add-suffix": (_ANY_TARGET, ("value",)),
    "remove-suffix": (_ANY_TARGET, ("value",)),
    "replace-suffix": (_ANY_TARGET, ("value", "old-value")),
    "change-data-type": (("column",), ("data-type",)),
    "define-primary-key": (("table",), ("primary-key-def",)),
}
_ACTION_KEYS = ("value", "old-value", "expression", "data-type", "primary-key-def")
_SELECTION_ACTIONS = ("include", "exclude", "explicit")
_UNSUPPORTED_ACTIONS: tuple[str, ...] = (
    "include-column",
    "add-before-image-columns",
    "data-masking-hash-mask",
)
_UNSUPPORTED_ACTIONS += ("data-masking-digits-mask", "data-masking-digits-randomize")
_ANY = re.compile(".*", re.DOTALL)
_PATTERN_TOKEN = re.compile(r"\[([^\]]*)\]|.", re.DOTALL)  # a [set] or one character
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_STRING = re.compile(r"'((?:[^']|'')*)'", re.DOTALL)


class _Problem(Exception):
    """What is wrong with one rule; the caller says which rule."""


class _Model(BaseModel):
    # DMS keys are dashed ("rule-id"); fields are the same names with underscores.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=lambda name: name.replace("_", "-")
    )


class _Locator(_Model):
    schema_name: str
    table_name: str | None = None
    column_name: str | None = None
    table_type: str | None = None


class _DataType(_Model):
    type: str
    precision: int | None = None
    scale: int | None = None
    length: int | None = None

    @field_validator("precision", "scale", "length", mode="before")
    @classmethod
    def _blank_is_absent(cls, v: Any) -> Any:
        return None if v == "" else v  # console-made documents write e.g. "scale": ""


class _PrimaryKeyDef(_Model):
    name: str | None = None
    origin: str | None = None
    columns: tuple[str, ...]


class _Rule(_Model):
    """Any rule; which keys a rule type or action takes is checked after validation."""

    rule_type: str
    rule_id: str
    rule_name: str | None = None
    rule_action: str
    rule_target: str | None = None
    object_locator: _Locator
    filters: tuple[Any, ...] | None = None
    value: str | None = None
    old_value: str | None = None
    expression: str | None = None
    data_type: _DataType | None = None
    primary_key_def: _PrimaryKeyDef | None = None


@dataclass(frozen=True)
class _Compiled:
    """A checked rule, with its locator patterns compiled and its data-type resolved."""

    rule: _Rule
    label: str
    schema: re.Pattern[str]
    table: re.Pattern[str]
    column: re.Pattern[str] = _ANY
    type: pa.DataType | None = None
    constant: str | None = None

    def matches(self, schema: str, table: str) -> bool:
        return bool(self.schema.fullmatch(schema) and self.table.fullmatch(table))


def _rule_id(v: Any) -> str | None:
    """The canonical text of a numeric rule-id (1, "1" and "01" are all "1"), else None."""
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return str(v)
    return str(int(v)) if isinstance(v, str) and v.isascii() and v.isdigit() else None


def _describe(err: ValidationError) -> str:
    first, more = err.errors()[0], len(err.errors()) - 1
    loc = [str(p) for p in first["loc"]]
    tail = f" (and {more} more problems)" if more else ""
    if first["type"] == "extra_forbidden":
        inside = f" in {'.'.join(loc[:-1])}" if len(loc) > 1 else ""
        return f"unknown key '{loc[-1]}'{inside}; remove it or correct its spelling{tail}"
    if first["type"] == "missing":
        return f"missing '{'.'.join(loc)}'; add it{tail}"
    return f"'{'.'.join(loc)}': {first['msg']}{tail}"


def _like(pattern: str) -> re.Pattern[str]:
    """A DMS name pattern as a regex for ``fullmatch``."""

    def piece(m: re.Match[str]) -> str:
        if m.group(1) is not None:  # in a [set] only "-" (ranges) keeps a meaning
            return "[" + "".join("-" if c == "-" else re.escape(c) for c in m.group(1)) + "]"
        c = m.group(0)
        return ".*" if c == "%" else "." if c == "_" else re.escape(c)

    try:
        return re.compile("".join(map(piece, _PATTERN_TOKEN.finditer(pattern))), re.DOTALL)
    except re.error as exc:
        raise _Problem(f"pattern {pattern!r} has a bad [set] ({exc}); fix it") from None


def _exact(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(name), re.DOTALL)


def _arrow_of(dt: _DataType) -> pa.DataType:
    """The lake type of a DMS data-type."""
    if dt.type == "numeric":
        precision, scale = dt.precision or 0, dt.scale or 0
        if dt.length is not None or not (1 <= precision <= 38 and 0 <= scale <= precision):
            raise _Problem("data-type numeric needs a precision of 1-38, a scale from 0 to it")
        return pa.decimal128(precision, scale)
    typ = _FIXED_TYPES.get(dt.type)
    if typ is None:
        raise _Problem(f"unknown data-type {dt.type!r}; use one of {', '.join(_DMS_TYPES)}")
    if dt.scale is not None or (dt.precision is not None and dt.type != "datetime"):
        raise _Problem(f"data-type {dt.type} takes no precision or scale; remove them")
    if dt.precision is not None and not 0 <= dt.precision <= 9:
        raise _Problem("data-type datetime precision counts fractional-second digits, 0-9")
    if dt.length is not None and (dt.type not in _SIZED or dt.length < 1):
        raise _Problem(f"data-type {dt.type} takes no length {dt.length}; remove it")
    return typ


def _constant(expression: str | None, typ: pa.DataType) -> str | None:
    """The text of an add-column constant, checked to fit its type; None for nulls."""
    text = (expression or "NULL").strip()
    if text.upper() == "NULL":
        return None
    if m := _STRING.fullmatch(text):
        text = m.group(1).replace("''", "'")
    elif not _NUMBER.fullmatch(text):
        raise _Problem(
            f"expression {expression!r} is not supported; use a constant: 'text', 42, NULL"
        )
    try:
        pa.scalar(text, pa.string()).cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _Problem(f"expression {expression!r} does not fit {typ} ({exc}); fix it") from None
    return text


def _label(index: int, raw: Any) -> tuple[str, str]:
    """A rule's canonical rule-id, and how errors name the rule: ``rule 3 ('rename-orders')``."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{_WHERE}: rule #{index + 1} is not a JSON object; write it as {{...}}")
    rid = _rule_id(raw.get("rule-id"))
    if rid is None:
        raise InvalidInput(f'{_WHERE}: rule #{index + 1} needs a numeric rule-id such as "1"')
    name = raw.get("rule-name")
    return rid, f"rule {rid} ({name!r})" if isinstance(name, str) else f"rule {rid}"


def _compile(label: str, raw: dict[str, Any]) -> _Compiled:
    rtype, action = raw.get("rule-type"), raw.get("rule-action")
    allowed = _SELECTION_ACTIONS if rtype == "selection" else tuple(_ACTIONS)
    if rtype in ("table-settings", "post-processing"):
        raise _Problem(f"rule-type {rtype!r} is not supported; remove the rule")
    if rtype not in ("selection", "transformation"):
        raise _Problem(f"unknown rule-type {rtype!r}; use one of selection, transformation")
    if action in _UNSUPPORTED_ACTIONS:
        raise _Problem(f"rule-action {action!r} is not supported; remove the rule")
    if action not in allowed:
        what = "missing rule-action" if action is None else f"unknown rule-action {action!r}"
        raise _Problem(f"{what}; use one of {', '.join(allowed)}")
    if "load-order" in raw:
        raise _Problem("load-order is not supported; tables load in the order they are listed")
    try:
        rule = _Rule.model_validate(raw)
    except ValidationError as exc:
        raise _Problem(_describe(exc)) from None
    dumped = rule.model_dump(by_alias=True, exclude_none=True)
    given = {*dumped, *dumped["object-locator"]}
    return (_selection if rtype == "selection" else _transform)(label, rule, given)


def _selection(label: str, rule: _Rule, given: set[str]) -> _Compiled:
    loc = rule.object_locator
    if wrong := sorted(given & {"rule-target", "column-name", *_ACTION_KEYS}):
        raise _Problem(f"'{wrong[0]}' does not apply to selection rules; remove it")
    if loc.table_name is None:
        raise _Problem("a selection rule needs table-name in its object-locator")
    if rule.filters:
        raise _Problem("selection filters are not supported; select whole tables")
    if loc.table_type not in (None, "table"):
        raise _Problem(f"table-type {loc.table_type!r} is not supported; only tables replicate")
    if rule.rule_action != "explicit":
        return _Compiled(rule, label, _like(loc.schema_name), _like(loc.table_name))
    if "%" in loc.schema_name + loc.table_name:
        raise _Problem("explicit takes exact names, not the wildcard %; use include for patterns")
    return _Compiled(rule, label, _exact(loc.schema_name), _exact(loc.table_name))


def _transform(label: str, rule: _Rule, given: set[str]) -> _Compiled:
    action, target, loc = rule.rule_action, rule.rule_target, rule.object_locator
    targets, needs = _ACTIONS[action]
    if target in ("table-tablespace", "index-tablespace"):
        raise _Problem(f"rule-target {target} is not supported; the lake has no tablespaces")
    if target not in _ANY_TARGET:
        what = "missing rule-target" if target is None else f"unknown rule-target {target!r}"
        raise _Problem(f"{what}; use one of {', '.join(_ANY_TARGET)}")
    if target not in targets:
        raise _Problem(f"rule-action {action} needs rule-target {' or '.join(targets)}")
    may = {*needs, "expression"} if action == "add-column" else set(needs)
    for key in _ACTION_KEYS:
        if key in needs and key not in given:
            raise _Problem(f"rule-action {action} needs '{key}'; add it")
        if key in given and key not in may:
            raise _Problem(f"'{key}' does not apply to rule-action {action}; remove it")
    if wrong := sorted(given & {"filters", "table-type"}):
        raise _Problem(f"'{wrong[0]}' does not apply to transformation rules; remove it")
    if "" in (rule.value, rule.old_value):
        raise _Problem("'value' and 'old-value' must not be empty")
    if target != "schema" and loc.table_name is None:
        raise _Problem(f"rule-target {target} needs table-name in object-locator")
    if (target == "column" and action != "add-column") != (loc.column_name is not None):
        raise _Problem("object-locator needs column-name for column rules, except add-column")
    pk = rule.primary_key_def
    if pk is not None and pk.origin not in (None, "primary-key"):
        raise _Problem(f"primary-key-def origin {pk.origin!r} is not supported; use primary-key")
    if pk is not None and (not pk.columns or len(set(pk.columns)) != len(pk.columns)):
        raise _Problem("primary-key-def columns must list distinct source column names")
    typ = _arrow_of(rule.data_type) if rule.data_type else None
    constant = _constant(rule.expression, typ) if action == "add-column" else None
    schema, table = _like(loc.schema_name), _like(loc.table_name or "%")
    return _Compiled(rule, label, schema, table, _like(loc.column_name or "%"), typ, constant)


def _renamed(rule: _Compiled, name: str, what: str) -> str:
    action, v, old = rule.rule.rule_action, rule.rule.value or "", rule.rule.old_value or ""
    if action == "replace-prefix":
        new = v + name[len(old) :] if name.startswith(old) else name
    elif action == "replace-suffix":
        new = name[: len(name) - len(old)] + v if name.endswith(old) else name
    else:
        new = {
            "rename": v,
            "convert-lowercase": name.lower(),
            "convert-uppercase": name.upper(),
            "add-prefix": v + name,
            "add-suffix": name + v,
            "remove-prefix": name.removeprefix(v),
            "remove-suffix": name.removesuffix(v),
        }[action]
    if not new:
        raise InvalidInput(f"{_WHERE}: {rule.label}: leaves {what} without a name; change it")
    return new


def _retyped(rule: _Compiled, col: SourceColumn, where: str) -> pa.DataType:
    """The type change-data-type gives ``col``, once Arrow is known to cast to it at all."""
    source_type = arrow_type(col.pg_type)  # apply() casts from this, not from an earlier change
    try:
        pa.array([], type=source_type).cast(rule.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidInput(
            f"{_WHERE}: {rule.label}: cannot change {where}.{col.name} from {source_type} to "
            f"{rule.type}; pick another data-type"
        ) from None
    return rule.type


@dataclass(frozen=True)
class SourceColumn:
    """A PostgreSQL column: its name and the ``format_type`` spelling of its type."""

    name: str
    pg_type: str


@dataclass(frozen=True)
class SourceTable:
    """A PostgreSQL table: its columns in order and its primary key (empty when none)."""

    schema: str
    name: str
    columns: tuple[SourceColumn, ...]
    primary_key: tuple[str, ...]


@dataclass(frozen=True)
class OutputColumn:
    """A lake column: target name and type, the source column it copies (None when added) and,
    for an added column, its constant as text (None for nulls)."""

    name: str
    type: pa.DataType
    source: str | None
    value: str | None = None


@dataclass(frozen=True)
class TablePlan:
    """How one source table lands in the lake, after every transformation rule."""

    source: SourceTable
    target_schema: str
    target_table: str
    columns: tuple[OutputColumn, ...]
    primary_key: tuple[str, ...]

    def output_schema(self) -> pa.Schema:
        """The Arrow schema of what :meth:`apply` returns."""
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    def apply(self, data: pa.Table) -> pa.Table:
        """Reshape source rows into the plan's columns: rename, cast, add and drop.

        Args:
            data: rows under the source column names, typed ``arrow_type(pg_type)``; column order
                does not matter and columns the plan does not use are dropped.

        Raises:
            InvalidInput: a source column is missing, or a value does not fit its new type.
        """
        where = f"{self.source.schema}.{self.source.name}"
        arrays: list[Any] = []
        for col in self.columns:
            if col.source is None:
                value = pa.scalar(col.value, pa.string()).cast(col.type)
                arrays.append(pa.repeat(value, data.num_rows))
                continue
            if col.source not in data.column_names:
                raise InvalidInput(f"{_WHERE}: data for {where} lacks column {col.source!r}")
            arr = data.column(col.source)
            if arr.type != col.type:
                try:
                    arr = pc.cast(arr, col.type, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    problem = (str(exc) or type(exc).__name__).splitlines()[0]
                    raise InvalidInput(
                        f"{_WHERE}: column {where}.{col.source}: cannot change {arr.type} to "
                        f"{col.type}: {problem}; fix the source value or pick a wider data-type"
                    ) from None
            arrays.append(arr)
        return pa.Table.from_arrays(arrays, schema=self.output_schema())


@dataclass(frozen=True)
class TableMappings:
    """A checked DMS table-mapping document; the module docstring describes the rules."""

    _rules: tuple[_Compiled, ...]  # in document order

    @classmethod
    def parse(cls, doc: str | bytes | dict[str, Any]) -> TableMappings:
        """Read and check a whole table-mapping document: JSON text, or the decoded object.

        Raises:
            InvalidInput: one line naming the first problem, its rule, and what to do.
        """
        if isinstance(doc, str | bytes):
            try:
                doc = json.loads(doc)  # bytes may be UTF-8, -16 or -32, as JSON allows
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"{_WHERE}: not valid JSON ({exc}); fix the document") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise InvalidInput(f'{_WHERE}: the document must be an object {{"rules": [...]}}')
        if extra := sorted(set(doc) - {"rules"}):
            raise InvalidInput(f"{_WHERE}: unknown top-level key {extra[0]!r}; only 'rules' is")
        rules: list[_Compiled] = []
        seen: set[tuple[str, str]] = set()
        for i, raw in enumerate(doc["rules"]):
            rid, label = _label(i, raw)
            try:
                rule = _compile(label, {**raw, "rule-id": rid})
            except _Problem as exc:
                raise InvalidInput(f"{_WHERE}: {label}: {exc}") from None
            for kind, ident in (("rule-id", rid), ("rule-name", rule.rule.rule_name)):
                if ident is not None and (kind, ident) in seen:
                    raise InvalidInput(f"{_WHERE}: {label}: {kind} is not unique; change it")
                if ident is not None:
                    seen.add((kind, ident))
            rules.append(rule)
        mappings = cls(tuple(rules))
        if not mappings._selections:
            raise InvalidInput(f"{_WHERE}: no selection rule; add one including the tables to copy")
        return mappings

    @cached_property
    def _selections(self) -> list[_Compiled]:
        return [r for r in self._rules if r.rule.rule_type == "selection"]

    @cached_property
    def _transforms(self) -> list[_Compiled]:
        chosen = [r for r in self._rules if r.rule.rule_type == "transformation"]
        return sorted(chosen, key=lambda r: int(r.rule.rule_id))

    def as_dict(self) -> dict[str, Any]:
        """The document in canonical form (rule-ids as text, no nulls), rules in their order."""
        dump = [
            r.rule.model_dump(mode="json", by_alias=True, exclude_none=True) for r in self._rules
        ]
        return {"rules": dump}

    def selected(self, tables: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The ``(schema, table)`` pairs the selection rules choose, in input order."""
        return [(schema, table) for schema, table in tables if self._chosen(schema, table)]

    def _chosen(self, schema: str, table: str) -> bool:
        hits = {r.rule.rule_action for r in self._selections if r.matches(schema, table)}
        return bool(hits) and "exclude" not in hits

    def plan(self, table: SourceTable) -> TablePlan:
        """Apply the transformation rules to one selected table.

        Raises:
            InvalidInput: the table is not selected, has no key, loses a key column, would have
                two columns of one name, or a type change cannot work.
        """
        where = f"{table.schema}.{table.name}"
        if not self._chosen(table.schema, table.name):
            raise InvalidInput(f"{_WHERE}: table {where} is not selected; include it first")
        schema, name = table.schema, table.name
        names = {c.name: c.name for c in table.columns}
        types = {c.name: arrow_type(c.pg_type) for c in table.columns}
        removed: dict[str, str] = {}
        added: list[OutputColumn] = []
        key, key_rule = table.primary_key, ""
        for rule in (r for r in self._transforms if r.matches(table.schema, table.name)):
            action, target = rule.rule.rule_action, rule.rule.rule_target
            if target == "schema":
                schema = _renamed(rule, schema, f"schema {table.schema}")
            elif action == "define-primary-key" and rule.rule.primary_key_def:
                key, key_rule = rule.rule.primary_key_def.columns, f"{rule.label}: "
            elif target == "table":
                name = _renamed(rule, name, f"table {where}")
            elif action == "add-column":
                added.append(OutputColumn(rule.rule.value or "", rule.type, None, rule.constant))
            else:
                for col in (c for c in table.columns if rule.column.fullmatch(c.name)):
                    if action == "remove-column":
                        removed[col.name] = rule.label
                    elif action == "change-data-type":
                        types[col.name] = _retyped(rule, col, where)
                    else:
                        what = f"column {where}.{col.name}"
                        names[col.name] = _renamed(rule, names[col.name], what)
        if not key:
            raise InvalidInput(
                f"{_WHERE}: table {where} has no primary key; add one in PostgreSQL, define one "
                "with a define-primary-key rule, or exclude the table"
            )
        for k in key:
            if k not in names:
                raise InvalidInput(
                    f"{_WHERE}: {key_rule}key column {where}.{k} does not exist; "
                    "name a source column"
                )
            if k in removed:
                raise InvalidInput(
                    f"{_WHERE}: {removed[k]}: removes key column {where}.{k}; "
                    "keep it or define another key"
                )
        kept = [OutputColumn(names[c], types[c], c) for c in names if c not in removed]
        columns = (*kept, *added)
        for i, out in enumerate(columns):
            if out.name in (c.name for c in columns[:i]):
                raise InvalidInput(
                    f"{_WHERE}: table {where} has two columns named {out.name!r}; rename one"
                )
        return TablePlan(table, schema, name, columns, tuple(names[k] for k in key))
