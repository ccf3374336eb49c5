"""JSON: JSON Lines (one object per line) or a top-level array of objects.

A top-level array's elements are the records (what Spark's JSON reader does, and what Glue
gives with a ``$[*]`` JsonPath). A custom classifier's JsonPath picks the records: ``$``
(the document or each line), ``$[*]`` (array elements) or ``$.a.b[*]`` (elements under a key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson

from sparkglue.crawler.classifiers.base import Inferred, Verdict, merge_types, unknown
from sparkglue.crawler.native import active_typer
from sparkglue.crawler.sample import FileSample
from sparkglue.formats.jsonpath import parse_json_path, select

__all__ = ["JsonClassifier", "close_json_prefix", "json_value_type"]

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_MAX_RECORDS = 1000
_DECODER = json.JSONDecoder()
_BLANK_LINE = re.compile(r"\n[ \t\r]*(?=\n)")  # a blank line between two others


def json_value_type(value: Any) -> str | None:
    """The Hive type of a decoded JSON value (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if -(2**63) <= value < 2**63 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        inner: str | None = None
        for item in value:
            inner = merge_types(inner, json_value_type(item))
        return f"array<{inner or 'string'}>"
    if isinstance(value, dict):
        if not value:
            return "string"
        from sparkglue.catalog.types import HiveType, parse_type

        names = tuple(value)
        children = tuple(parse_type(json_value_type(v) or "string") for v in value.values())
        return str(HiveType("struct", children=children, field_names=names))
    return "string"


_SCALAR = {bool: "boolean", float: "double", str: "string"}


def _record_types(objects: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each key's type over many records; scalar columns are typed by the set of Python types
    seen (cheap), nested values by merging their types."""
    keys: Sequence[str] = tuple(objects[0])
    by_key: Iterable[Sequence[Any]] | None = None
    if set(map(len, objects)) == {len(keys)}:
        try:  # every record has the same keys (the common case): transpose at C speed
            by_key = [list(map(itemgetter(key), objects)) for key in keys]
        except KeyError:
            by_key = None
    if by_key is None:
        keys = tuple(dict.fromkeys(chain.from_iterable(objects)))
        by_key = ([r[key] for r in objects if key in r] for key in keys)
    columns: dict[str, str | None] = {}
    for key, values in zip(keys, by_key, strict=True):
        kinds = set(map(type, values))
        ints = values
        if type(None) in kinds:
            kinds.discard(type(None))
            ints = [v for v in values if v is not None]
        if not kinds:
            columns[key] = None
        elif kinds == {int}:
            columns[key] = "bigint" if min(ints) >= -(2**63) and max(ints) < 2**63 else "double"
        elif kinds <= {int, float}:
            columns[key] = "double"
        elif len(kinds) == 1 and next(iter(kinds)) in _SCALAR:
            columns[key] = _SCALAR[next(iter(kinds))]
        else:
            merged: str | None = None
            for value in values:
                merged = merge_types(merged, json_value_type(value))
            columns[key] = merged
    return columns


def _count_array_elements(text: str, start: int) -> int:
    """How many complete elements the (possibly cut) array from ``text[start]`` holds."""
    count, pos, n = 0, start, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] == "]":
            return count
        try:
            _, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            return count
        count += 1


def _records_from_array(text: str, start: int, complete: bool) -> tuple[list[Any], bool]:
    """Decode array elements one by one from ``text[start]`` (just after ``[``)."""
    records: list[Any] = []
    pos, n = start, len(text)
    while len(records) < _MAX_RECORDS:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            return records, not complete  # the sample ended inside the array
        if text[pos] == "]":
            return records, True
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError:
            if not complete:
                return records, True  # an element cut by the end of the sample
            raise
        records.append(value)
    return records, True


_JSON_TOKENS = re.compile(r'["\\{}\[\],]')
_STRING_END = re.compile(r'["\\]')


def close_json_prefix(text: str) -> str:
    """The longest complete part of a JSON document cut short, closed: ``{"a": 1, "b": [2, 3``
    becomes ``{"a": 1}``. Members and elements are kept up to the last one that ended before
    the cut. Raises ValueError when no member is complete."""
    stack: list[str] = []
    cut: tuple[int, str] | None = None  # (position, closers) of the last safe cut
    pos, n = 0, len(text)
    while pos < n:
        match = _JSON_TOKENS.search(text, pos)
        if match is None:
            break
        char, pos = match.group(), match.end()
        if char == '"':
            while True:  # skip the string, escapes included
                end = _STRING_END.search(text, pos)
                if end is None:
                    pos = n
                    break
                pos = end.end() + (1 if end.group() == "\\" else 0)
                if end.group() == '"':
                    break
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]":
            if stack:
                stack.pop()
            if stack:
                cut = (pos, "".join(reversed(stack)))
        elif char == ",":
            cut = (pos - 1, "".join(reversed(stack)))
    if cut is None:
        raise ValueError("the sample ends before any complete value")
    return text[: cut[0]] + cut[1]


def _json_lines(text: str, complete: bool) -> list[Any] | None:
    """The first 1,000 lines decoded in one compiled parse, when each is one JSON value and
    none is empty (the common case); None sends the text the longer way, which strips lines
    and skips blank ones. A whitespace-only line cannot pass here: between two commas it is
    not JSON."""
    lines = text.split("\n", _MAX_RECORDS)
    if len(lines) > _MAX_RECORDS or not complete or lines[-1] == "":
        del lines[-1]  # the rest of the sample, a line cut by its end, or the last line break
    if len(lines) < 2 or "" in lines:
        return None
    try:
        records: list[Any] = orjson.loads("[" + ",".join(lines) + "]")
    except orjson.JSONDecodeError:
        return None
    return records


def _count_lines(whole: str) -> int:
    """Lines of ``whole`` (which does not end with a line break) that are not blank."""
    if not whole:
        return 0
    import numpy as np

    data = np.frombuffer(whole.encode("utf-8"), np.uint8)
    breaks = np.flatnonzero(data == 10)
    after = data[breaks + 1]  # the first character of every line but the first
    if ((after == 10) | (after == 32) | (after == 9) | (after == 13)).any():
        # A line may be blank: count them exactly.
        return len(breaks) + 1 - len(_BLANK_LINE.findall(whole))
    return len(breaks) + 1


class JsonClassifier:
    """Built-in JSON classifier, or a custom one with a JsonPath."""

    def __init__(
        self, name: str = "json", json_path: str | None = None, classification: str = "json"
    ) -> None:
        self.name = name
        self.classification = classification
        self.json_path = json_path
        self._steps = parse_json_path(json_path) if json_path else None

    def classify(self, sample: FileSample) -> Verdict:
        text = sample.text()
        if sample.head_error or sample.text_error:
            why = sample.head_error or sample.text_error or ""
            return unknown(self.name, self.classification, why)
        stripped = text.lstrip()
        if not stripped or stripped[0] not in "[{":
            return unknown(self.name, self.classification, "does not start with '{' or '['")
        complete = sample.head_is_whole_file
        native = active_typer()
        typed = None
        if native is not None and self._steps is None and stripped[0] == "{":
            typed = native.json_lines_types(stripped.encode("utf-8"), complete, _MAX_RECORDS)
        if typed is not None:  # compiled: JSON Lines of flat records, typed in one pass
            multi_line, how = False, "JSON Lines"
            columns, objects, records_in_head = typed.columns, typed.records, typed.lines
        else:
            try:
                multi_line, how, columns, objects, records_in_head = self._read(stripped, complete)
            except (json.JSONDecodeError, ValueError) as exc:
                return unknown(self.name, self.classification, f"not valid JSON: {exc}")
            if not objects:
                return unknown(self.name, self.classification, f"{how} with no JSON objects")
        params = {"typeOfData": "file"}
        if multi_line:
            params["multiLine"] = "true"
        if self.json_path:
            params["jsonPath"] = self.json_path
        return Verdict(
            self.name,
            self.classification,
            1.0,
            f"{how}: {objects} object(s) sampled, {len(columns)} fields",
            Inferred(
                columns=[(k, t or "string") for k, t in columns.items()],
                serde_library=JSON_SERDE,
                serde_parameters={"paths": ",".join(columns)},
                parameters=params,
                records=records_in_head,
                sampled_bytes=len(sample.head()),
            ),
        )

    def _read(
        self, stripped: str, complete: bool
    ) -> tuple[bool, str, dict[str, str | None], int, int]:
        """Decode the records and type them in Python: (multi-line, how the records were
        found, the columns, the objects sampled, the records in the sample). Raises
        ValueError for text that is not JSON."""
        multi_line = False
        if stripped[0] == "[":
            records, _ = _records_from_array(stripped, 1, complete)
            multi_line = True
            how = "a top-level array"
        else:
            records, multi_line = self._lines_or_document(stripped, complete)
            how = "a multi-line document" if multi_line else "JSON Lines"
        if self._steps is not None:
            selected: list[Any] = []
            for record in records:
                selected.extend(select(record, self._steps))
            records, how = selected, f"{how}, records at {self.json_path}"
        objects = [r for r in records if isinstance(r, dict)]
        if not objects:
            return multi_line, how, {}, 0, 0
        columns = _record_types(objects)
        records_in_head = len(objects)
        if stripped[0] == "[" and self._steps is None:
            records_in_head = _count_array_elements(stripped, 1)
        if not multi_line and self._steps is None:
            whole = (stripped if complete else stripped[: stripped.rfind("\n") + 1]).rstrip()
            records_in_head = _count_lines(whole)
        return multi_line, how, columns, len(objects), records_in_head

    @staticmethod
    def _lines_or_document(text: str, complete: bool) -> tuple[list[Any], bool]:
        quick = _json_lines(text, complete)
        if quick is not None:
            return quick, False
        lines = text.split("\n", _MAX_RECORDS * 2)  # no more lines than can be needed
        if len(lines) > _MAX_RECORDS * 2 or (not complete and lines):
            lines = lines[:-1]  # the rest of the sample, or a line cut by its end
        present = list(filter(None, map(str.strip, lines)))[:_MAX_RECORDS]
        if len(present) > 1:
            joined = "[" + ",".join(present) + "]"
            try:  # one compiled parse for the common case: every line a JSON value
                return orjson.loads(joined), False
            except orjson.JSONDecodeError:
                pass  # NaN, integers past 64 bits (the standard parser takes them) or bad lines
            try:
                return json.loads(joined), False
            except json.JSONDecodeError:
                pass  # find the line at fault below
        records: list[Any] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if number == 1:
                    # one object over several lines; the sample may end inside it
                    try:
                        value, _ = _DECODER.raw_decode(text)
                    except json.JSONDecodeError:
                        if complete:
                            raise
                        value = json.loads(close_json_prefix(text))
                    return [value], True
                if not any(rest.strip() for rest in lines[number:]) and records:
                    break  # a last line cut short (a file still being written): ignore it
                raise ValueError(f"line {number} is not a JSON value") from None
            if len(records) >= _MAX_RECORDS:
                break
        return records, False
